// Binary elementwise ops with NumPy's broadcasting (add, sub, mul, div, pow, maximum,
// minimum, each also with a float on either side) and add_bias, add under its own name.
// One kernel serves them all: the output is seen as rows along its last merged axis (Layout),
// along which each operand steps by 1 or 0, so the common shapes (equal shapes, (N,) or
// (..., 1) against (..., N), (T, C) against (B, T, C)) run as plain vectorised loops split
// across threads. Backward sums a broadcast operand's contributions with unbroadcast's bits
// (core/broadcasting.hpp), calling it for the shapes that are none of those. Not the
// unary ops (core/ops/unary.cpp).
#include <algorithm>
#include <cmath>
#include <optional>
#include <type_traits>
#include <utility>

#include "core/broadcasting.hpp"
#include "core/detail/parallel.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"
#include "core/ops/elementwise.hpp"

namespace xgrad {
namespace {

// ---- Each op: its value and the contribution of one output element to each input's
// gradient, as functions of dy, a, b and y (core/ops.hpp has the same formulas). `cost`
// is its work per element in parallel::for_range's units.

struct AddOp {
  static constexpr std::size_t cost = 1;
  static float f(float a, float b) { return a + b; }
  static float da(float dy, float, float, float) { return dy; }
  static float db(float dy, float, float, float) { return dy; }
};

struct SubOp {
  static constexpr std::size_t cost = 1;
  static float f(float a, float b) { return a - b; }
  static float da(float dy, float, float, float) { return dy; }
  static float db(float dy, float, float, float) { return -dy; }
};

struct MulOp {
  static constexpr std::size_t cost = 1;
  static float f(float a, float b) { return a * b; }
  static float da(float dy, float, float b, float) { return dy * b; }
  static float db(float dy, float a, float, float) { return dy * a; }
};

struct DivOp {
  static constexpr std::size_t cost = 2;
  static float f(float a, float b) { return a / b; }
  static float da(float dy, float, float b, float) { return dy / b; }
  // PyTorch's -grad * ((a / b) / b), with y = a / b.
  static float db(float dy, float, float b, float y) { return -dy * (y / b); }
};

struct PowOp {
  static constexpr std::size_t cost = 32;
  static float f(float a, float b) { return std::pow(a, b); }
  // PyTorch 1.13's pow_backward_self: 0 where b == 0 (even at a == 0).
  static float da(float dy, float a, float b, float) {
    return b == 0.0f ? 0.0f : dy * (b * std::pow(a, b - 1.0f));
  }
  // PyTorch 1.13's pow_backward_exponent: 0 where a == 0 and b >= 0.
  static float db(float dy, float a, float b, float y) {
    return a == 0.0f && b >= 0.0f ? 0.0f : dy * (y * std::log(a));
  }
};

// NaN on either side gives NaN (a != a tests a for NaN), as NumPy's maximum.
struct MaximumOp {
  static constexpr std::size_t cost = 1;
  static float f(float a, float b) { return a > b || a != a ? a : b; }
  // PyTorch's rule: a tie splits dy in halves; a NaN on either side sends dy to both.
  static float da(float dy, float a, float b, float) { return a == b ? dy * 0.5f : a < b ? 0.0f : dy; }
  static float db(float dy, float a, float b, float) { return a == b ? dy * 0.5f : a > b ? 0.0f : dy; }
};

struct MinimumOp {
  static constexpr std::size_t cost = 1;
  static float f(float a, float b) { return a < b || a != a ? a : b; }
  static float da(float dy, float a, float b, float) { return a == b ? dy * 0.5f : a > b ? 0.0f : dy; }
  static float db(float dy, float a, float b, float) { return a == b ? dy * 0.5f : a < b ? 0.0f : dy; }
};

// ---- The output as rows.

// The output seen as `rows` rows of `inner` elements: its shape with extent-1 axes dropped
// and neighbouring axes merged wherever both operands allow it (each either broadcast along
// both axes or contiguous across them). Along a row each operand steps by 1, or by 0 when
// one value of it is broadcast along the row; where a row starts in each operand follows
// from the outer axes.
struct Layout {
  // Small vectors: a call's fixed cost is mostly allocations (bench/RESULTS.md).
  using Axes = xt::svector<std::size_t, 4>;
  std::size_t n = 0;  // output elements
  std::size_t rows = 1;
  std::size_t inner = 1;
  std::size_t step_a = 0, step_b = 0;
  Axes outer;             // extents of the axes before the row's
  Axes outer_a, outer_b;  // the operands' element strides on them
};

// An operand's element stride on axis i of the output (broadcast_strides' rule): 0 where it
// is broadcast.
void strides_in(const Shape& from, const Shape& out, Layout::Axes& strides) {
  strides.assign(out.size(), 0);
  std::size_t stride = 1;
  for (std::size_t k = 0; k < from.size(); ++k) {  // k counts axes from the last one
    const std::size_t extent = from[from.size() - 1 - k];
    if (extent != 1) strides[out.size() - 1 - k] = stride;
    stride *= extent;
  }
}

Layout make_layout(const Shape& out, const Shape& as, const Shape& bs) {
  Layout::Axes sa, sb;
  strides_in(as, out, sa);
  strides_in(bs, out, sb);
  Layout l;
  l.n = element_count(out);
  Layout::Axes& extents = l.outer;
  Layout::Axes &ta = l.outer_a, &tb = l.outer_b;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 1) continue;
    const auto merges = [&](std::size_t previous, std::size_t stride) {
      return stride == 0 ? previous == 0 : previous == stride * out[i];
    };
    if (!extents.empty() && merges(ta.back(), sa[i]) && merges(tb.back(), sb[i])) {
      extents.back() *= out[i];
      ta.back() = sa[i];
      tb.back() = sb[i];
      continue;
    }
    extents.push_back(out[i]);
    ta.push_back(sa[i]);
    tb.push_back(sb[i]);
  }
  if (extents.empty()) return l;  // a single element: one row of one, both steps 0
  // The last merged axis is the row.
  l.inner = extents.back();
  l.step_a = ta.back();
  l.step_b = tb.back();
  extents.pop_back();
  ta.pop_back();
  tb.pop_back();
  l.rows = l.inner ? l.n / l.inner : 0;
  return l;
}

// Where row r starts in a and in b, then row after row.
class RowStart {
 public:
  RowStart(const Layout& l, std::size_t r) : l_(l), index_(l.outer.size(), 0) {
    for (std::size_t axis = l.outer.size(); axis-- > 0;) {
      index_[axis] = r % l.outer[axis];
      r /= l.outer[axis];
      a += index_[axis] * l.outer_a[axis];
      b += index_[axis] * l.outer_b[axis];
    }
  }
  void next() {
    for (std::size_t axis = l_.outer.size(); axis-- > 0;) {
      a += l_.outer_a[axis];
      b += l_.outer_b[axis];
      if (++index_[axis] < l_.outer[axis]) return;
      a -= l_.outer_a[axis] * l_.outer[axis];
      b -= l_.outer_b[axis] * l_.outer[axis];
      index_[axis] = 0;
    }
  }
  std::size_t a = 0, b = 0;

 private:
  const Layout& l_;
  Layout::Axes index_;
};

// Pieces of a row: long rows (equal shapes are one row) are cut so that threads can share them.
constexpr std::size_t kPiece = 4096;

// fn(offset, a_offset, b_offset, length) for pieces of rows covering the output, split
// across threads.
template <class F>
void for_each_piece(const Layout& l, std::size_t cost, F&& fn) {
  if (l.n == 0) return;
  const std::size_t per_row = (l.inner + kPiece - 1) / kPiece;
  if (per_row == 1 && l.outer.size() == 1) {  // the fast paths: rows at fixed strides
    const std::size_t ra = l.outer_a[0], rb = l.outer_b[0];
    parallel::for_range(l.rows, cost * l.n, [&](std::size_t first, std::size_t last) {
      for (std::size_t r = first; r < last; ++r) fn(r * l.inner, r * ra, r * rb, l.inner);
    });
    return;
  }
  if (per_row == 1) {
    parallel::for_range(l.rows, cost * l.n, [&](std::size_t first, std::size_t last) {
      RowStart start(l, first);
      for (std::size_t r = first; r < last; ++r, start.next()) fn(r * l.inner, start.a, start.b, l.inner);
    });
    return;
  }
  parallel::for_range(l.rows * per_row, cost * l.n, [&](std::size_t first, std::size_t last) {
    RowStart start(l, first / per_row);
    for (std::size_t t = first; t < last; ++t) {
      if (t != first && t % per_row == 0) start.next();
      const std::size_t c = (t % per_row) * kPiece;
      fn(t / per_row * l.inner + c, start.a + c * l.step_a, start.b + c * l.step_b,
         std::min(kPiece, l.inner - c));
    }
  });
}

// Steps along a row as compile-time constants, so that the loops below vectorise with a
// broadcast value hoisted out of them.
using Zero = std::integral_constant<std::size_t, 0>;
using One = std::integral_constant<std::size_t, 1>;

template <class F>
void with_steps(std::size_t step_a, std::size_t step_b, F&& f) {
  if (step_a && step_b) {
    f(One{}, One{});
  } else if (step_a) {
    f(One{}, Zero{});
  } else if (step_b) {
    f(Zero{}, One{});
  } else {
    f(Zero{}, Zero{});
  }
}

template <class Op, class SA, class SB>
void forward_piece(const float* __restrict a, SA sa, const float* __restrict b, SB sb,
                   float* __restrict y, std::size_t length) {
  for (std::size_t j = 0; j < length; ++j) y[j] = Op::f(a[j * sa], b[j * sb]);
}

template <class Op>
void forward(const Layout& l, const float* a, const float* b, float* y) {
  with_steps(l.step_a, l.step_b, [&](auto sa, auto sb) {
    for_each_piece(l, Op::cost, [&](std::size_t o, std::size_t ao, std::size_t bo, std::size_t length) {
      forward_piece<Op>(a + ao, sa, b + bo, sb, y + o, length);
    });
  });
}

// ---- Backward: where one operand's contributions go.
enum class Fold {
  none,     // no gradient wanted
  full,     // the output's size: element o of the output adds to element o
  columns,  // (inner,) repeated over the rows: column sums
  rows,     // one value per row: row sums
  other,    // anything else: contributions written out, then unbroadcast
};

Fold fold_of(const Tensor& x, const Layout& l, std::size_t step, const Layout::Axes& outer) {
  if (!x.requires_grad()) return Fold::none;
  if (x.size() == l.n) return Fold::full;
  if (step == 1 && std::all_of(outer.begin(), outer.end(), [](std::size_t s) { return s == 0; })) {
    return Fold::columns;
  }
  if (step == 0 && x.size() == l.rows) return Fold::rows;
  return Fold::other;
}

// One operand's destination: the gradient (or a scratch array) for full, else its sums.
struct Sink {
  Fold fold = Fold::none;
  float* d = nullptr;
  bool add = false;  // full: d already holds a gradient to add to
};

// The loops over columns [c0, c1) of one row: d, dy and y start at the row, a and b at
// the row's start in each. Column and row sums add in row-major order from 0, as
// unbroadcast does, so they give its bits.
template <class G, class SA, class SB>
void full_piece(G g, bool add, float* __restrict d, const float* __restrict dy,
                const float* __restrict y, const float* __restrict a, SA sa, const float* __restrict b,
                SB sb, std::size_t c0, std::size_t c1) {
  if (add) {
    for (std::size_t j = c0; j < c1; ++j) d[j] += g(dy[j], a[j * sa], b[j * sb], y[j]);
  } else {
    for (std::size_t j = c0; j < c1; ++j) d[j] = g(dy[j], a[j * sa], b[j * sb], y[j]);
  }
}

template <class G, class SA, class SB>
void column_piece(G g, float* __restrict sums, const float* __restrict dy, const float* __restrict y,
                  const float* __restrict a, SA sa, const float* __restrict b, SB sb, std::size_t c0,
                  std::size_t c1) {
  for (std::size_t j = c0; j < c1; ++j) sums[j] += g(dy[j], a[j * sa], b[j * sb], y[j]);
}

template <class G, class SA, class SB>
float row_sum(G g, const float* __restrict dy, const float* __restrict y, const float* __restrict a,
              SA sa, const float* __restrict b, SB sb, std::size_t length) {
  float sum = 0.0f;
  for (std::size_t j = 0; j < length; ++j) sum += g(dy[j], a[j * sa], b[j * sb], y[j]);
  return sum;
}

template <class Op>
class Backward {
 public:
  Backward(const Layout& l, const Tensor& a, const Tensor& b, const Array& y, const Array& dy)
      : l_(l), a_(a.value().data()), b_(b.value().data()), y_(y.data()), dy_(dy.data()) {}

  // Row r (offset o, starting at ao in a and bo in b), columns [c0, c1), into both sinks.
  void piece(const Sink& sa, const Sink& sb, std::size_t r, std::size_t o, std::size_t ao,
             std::size_t bo, std::size_t c0, std::size_t c1) const {
    with_steps(l_.step_a, l_.step_b, [&](auto step_a, auto step_b) {
      const float *a = a_ + ao, *b = b_ + bo, *dy = dy_ + o, *y = y_ + o;
      // Lambdas, not &Op::da: a function pointer would not be inlined into the loops.
      const auto da = [](float d, float x, float z, float v) { return Op::da(d, x, z, v); };
      const auto db = [](float d, float x, float z, float v) { return Op::db(d, x, z, v); };
      if (sa.fold != Fold::none) one(da, sa, r, o, dy, y, a, step_a, b, step_b, c0, c1);
      if (sb.fold != Fold::none) one(db, sb, r, o, dy, y, a, step_a, b, step_b, c0, c1);
    });
  }

  // Every element, split by columns (each column's sum over the rows stays on one thread).
  void by_columns(const Sink& sa, const Sink& sb) const {
    parallel::for_range(l_.inner, Op::cost * l_.n, [&](std::size_t c0, std::size_t c1) {
      RowStart start(l_, 0);
      for (std::size_t r = 0; r < l_.rows; ++r, start.next()) piece(sa, sb, r, r * l_.inner, start.a, start.b, c0, c1);
    });
  }

  // Every element, split by whole rows.
  void by_rows(const Sink& sa, const Sink& sb) const {
    parallel::for_range(l_.rows, Op::cost * l_.n, [&](std::size_t first, std::size_t last) {
      RowStart start(l_, first);
      for (std::size_t r = first; r < last; ++r, start.next()) piece(sa, sb, r, r * l_.inner, start.a, start.b, 0, l_.inner);
    });
  }

  // Every element, split into pieces (full sinks only).
  void by_pieces(const Sink& sa, const Sink& sb) const {
    for_each_piece(l_, Op::cost, [&](std::size_t o, std::size_t ao, std::size_t bo, std::size_t length) {
      piece(sa, sb, 0, o, ao, bo, 0, length);
    });
  }

 private:
  template <class G, class SA, class SB>
  static void one(G g, const Sink& s, std::size_t r, std::size_t o, const float* dy, const float* y,
                  const float* a, SA step_a, const float* b, SB step_b, std::size_t c0, std::size_t c1) {
    switch (s.fold) {
      case Fold::full:
        full_piece(g, s.add, s.d + o, dy, y, a, step_a, b, step_b, c0, c1);
        break;
      case Fold::columns:
        column_piece(g, s.d, dy, y, a, step_a, b, step_b, c0, c1);
        break;
      case Fold::rows:
        s.d[r] = row_sum(g, dy, y, a, step_a, b, step_b, c1);
        break;
      default:
        break;
    }
  }

  const Layout& l_;
  const float *a_, *b_, *y_, *dy_;
};

template <class Op>
void backward(const Layout& l, const Tensor& a, const Tensor& b, const Array& y, const Array& dy) {
  const Fold fa = fold_of(a, l, l.step_a, l.outer_a), fb = fold_of(b, l, l.step_b, l.outer_b);
  if (l.n == 0) {  // nothing flows back: a broadcast operand gets zeros
    if (fa != Fold::none) accumulate_grad(a, unbroadcast(dy, a.shape()));
    if (fb != Fold::none) accumulate_grad(b, unbroadcast(dy, b.shape()));
    return;
  }
  const Backward<Op> pass(l, a, b, y, dy);

  // Full operands write straight into their gradients; sums become gradients of their own.
  // (A target only for a full operand: making one densifies a row-sparse gradient.)
  std::optional<GradientTarget> ta, tb;
  Array sums_a = Array::from_shape(Array::shape_type{0}), sums_b = sums_a;
  const auto sink = [](Fold fold, std::optional<GradientTarget>& target, Array& sums, const Tensor& x) {
    Sink s{fold, nullptr, false};
    if (fold == Fold::full) {
      target.emplace(x);
      s.d = target->data();
      s.add = target->add();
    } else if (fold == Fold::columns || fold == Fold::rows) {
      sums = zeros_array(x.shape());
      s.d = sums.data();
    }
    return s;
  };
  const Sink sa = sink(fa, ta, sums_a, a), sb = sink(fb, tb, sums_b, b);
  const Sink skip;
  const auto only = [&skip](const Sink& s, Fold fold) { return s.fold == fold ? s : skip; };
  const auto any = [&](Fold fold) { return fa == fold || fb == fold; };
  // A pass skips the sinks it cannot serve (Fold::other always).
  if (any(Fold::columns)) {
    // Full operands ride along, so that dy is read once (add_bias on logits).
    pass.by_columns(fa == Fold::rows ? skip : sa, fb == Fold::rows ? skip : sb);
    if (any(Fold::rows)) pass.by_rows(only(sa, Fold::rows), only(sb, Fold::rows));
  } else if (any(Fold::rows)) {
    pass.by_rows(sa, sb);
  } else if (any(Fold::full)) {
    pass.by_pieces(sa, sb);
  }
  if (ta) ta->commit();
  if (tb) tb->commit();
  if (fa == Fold::columns || fa == Fold::rows) a.mutable_grad().add(std::move(sums_a));
  if (fb == Fold::columns || fb == Fold::rows) b.mutable_grad().add(std::move(sums_b));

  // Any other shape: the contributions at the output's shape, then unbroadcast.
  const auto other = [&](const Tensor& x, bool is_a) {
    Array scratch = uninitialized_array(shape_of(dy));
    const Sink s{Fold::full, scratch.data(), false};
    pass.by_pieces(is_a ? s : skip, is_a ? skip : s);
    accumulate_grad(x, unbroadcast(scratch, x.shape()));
  };
  if (fa == Fold::other) other(a, true);
  if (fb == Fold::other) other(b, false);
}

template <class Op>
Tensor binary(Tape& tape, const char* name, const Tensor& a, const Tensor& b) {
  const Shape as = a.shape(), bs = b.shape();
  const Shape shape = broadcast_shapes(name, as, bs);
  Layout l = make_layout(shape, as, bs);
  Array out = uninitialized_array(shape);
  forward<Op>(l, a.value().data(), b.value().data(), out.data());
  Tape::Backward backward_fn;  // left empty when nothing will be recorded: no copies made
  if (tape.needs_gradient(a, b)) {
    backward_fn = [a, b, l = std::move(l)](const Array& y, const Array& dy) { backward<Op>(l, a, b, y, dy); };
  }
  return tape.record(name, {a, b}, std::move(out), std::move(backward_fn));
}

// A float operand: a constant of shape (), broadcast like any other.
Tensor constant(float value) {
  Array a = Array::from_shape(Array::shape_type{});
  *a.data() = value;
  return Tensor(std::move(a));
}

}  // namespace

namespace detail {
Tensor broadcast_add(Tape& tape, const char* op, const Tensor& a, const Tensor& b) {
  return binary<AddOp>(tape, op, a, b);
}
}  // namespace detail

// Y (..., N) = X (..., N) + b (N,): add's (N,) path, under its own name and stricter shapes.
Tensor add_bias(Tape& tape, const Tensor& x, const Tensor& bias) {
  const Shape xs = x.shape();
  const Shape bs = bias.shape();
  if (xs.empty() || bs.size() != 1 || bs[0] != xs.back()) {
    throw ShapeError("add_bias: bias must be (N,) for x (..., N): x is " + shape_string(xs) +
                     ", bias is " + shape_string(bs));
  }
  return binary<AddOp>(tape, "add_bias", x, bias);
}

Tensor add(Tape& tape, const Tensor& a, const Tensor& b) { return binary<AddOp>(tape, "add", a, b); }
Tensor add(Tape& tape, const Tensor& a, float b) { return binary<AddOp>(tape, "add", a, constant(b)); }
Tensor add(Tape& tape, float a, const Tensor& b) { return binary<AddOp>(tape, "add", constant(a), b); }

Tensor sub(Tape& tape, const Tensor& a, const Tensor& b) { return binary<SubOp>(tape, "sub", a, b); }
Tensor sub(Tape& tape, const Tensor& a, float b) { return binary<SubOp>(tape, "sub", a, constant(b)); }
Tensor sub(Tape& tape, float a, const Tensor& b) { return binary<SubOp>(tape, "sub", constant(a), b); }

Tensor mul(Tape& tape, const Tensor& a, const Tensor& b) { return binary<MulOp>(tape, "mul", a, b); }
Tensor mul(Tape& tape, const Tensor& a, float b) { return binary<MulOp>(tape, "mul", a, constant(b)); }
Tensor mul(Tape& tape, float a, const Tensor& b) { return binary<MulOp>(tape, "mul", constant(a), b); }

Tensor div(Tape& tape, const Tensor& a, const Tensor& b) { return binary<DivOp>(tape, "div", a, b); }
Tensor div(Tape& tape, const Tensor& a, float b) { return binary<DivOp>(tape, "div", a, constant(b)); }
Tensor div(Tape& tape, float a, const Tensor& b) { return binary<DivOp>(tape, "div", constant(a), b); }

Tensor pow(Tape& tape, const Tensor& a, const Tensor& b) { return binary<PowOp>(tape, "pow", a, b); }
Tensor pow(Tape& tape, const Tensor& a, float b) { return binary<PowOp>(tape, "pow", a, constant(b)); }
Tensor pow(Tape& tape, float a, const Tensor& b) { return binary<PowOp>(tape, "pow", constant(a), b); }

Tensor maximum(Tape& tape, const Tensor& a, const Tensor& b) {
  return binary<MaximumOp>(tape, "maximum", a, b);
}
Tensor maximum(Tape& tape, const Tensor& a, float b) {
  return binary<MaximumOp>(tape, "maximum", a, constant(b));
}
Tensor maximum(Tape& tape, float a, const Tensor& b) {
  return binary<MaximumOp>(tape, "maximum", constant(a), b);
}

Tensor minimum(Tape& tape, const Tensor& a, const Tensor& b) {
  return binary<MinimumOp>(tape, "minimum", a, b);
}
Tensor minimum(Tape& tape, const Tensor& a, float b) {
  return binary<MinimumOp>(tape, "minimum", a, constant(b));
}
Tensor minimum(Tape& tape, float a, const Tensor& b) {
  return binary<MinimumOp>(tape, "minimum", constant(a), b);
}

}  // namespace xgrad
