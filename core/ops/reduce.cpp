// Reductions to a scalar (sum, mean, mean_square) and reshape.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/detail/parallel.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"

namespace xgrad {
namespace {

// Sum of n floats in double: 16 independent lanes (four vectors of four doubles, so four
// add chains in flight instead of one), added in a fixed order at the end.
double block_sum(const float* x, std::size_t n) {
  double lane[16] = {};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (std::size_t k = 0; k < 16; ++k) lane[k] += static_cast<double>(x[i + k]);
  }
  double total = 0.0;
  for (double l : lane) total += l;
  for (; i < n; ++i) total += static_cast<double>(x[i]);
  return total;
}

// Sum of squares of n floats in double, in 16 lanes as block_sum.
double block_sum_of_squares(const float* x, std::size_t n) {
  double lane[16] = {};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (std::size_t k = 0; k < 16; ++k) {
      const double v = x[i + k];
      lane[k] += v * v;
    }
  }
  double total = 0.0;
  for (double l : lane) total += l;
  for (; i < n; ++i) total += static_cast<double>(x[i]) * x[i];
  return total;
}

// The sum of sum_block over fixed blocks of x: blocks may run on any thread, their sums
// are added in block order, so the result does not depend on the thread count.
double blocked_sum(const float* x, std::size_t n, double (*sum_block)(const float*, std::size_t)) {
  constexpr std::size_t kBlock = std::size_t{1} << 16;
  if (n <= kBlock) return sum_block(x, n);
  std::vector<double> partial((n + kBlock - 1) / kBlock);
  parallel::for_range(partial.size(), n, [&](std::size_t first, std::size_t last) {
    for (std::size_t b = first; b < last; ++b) {
      partial[b] = sum_block(x + b * kBlock, std::min(kBlock, n - b * kBlock));
    }
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

Array scalar(double value) {
  Array out = Array::from_shape(Array::shape_type{});
  out() = static_cast<float>(value);
  return out;
}

// out = scale * sum(x), accumulated in double; dX += scale * dout at every element.
Tensor scaled_sum(Tape& tape, const char* op, const Tensor& x, double scale) {
  const double total = blocked_sum(x.value().data(), x.size(), block_sum);
  return tape.record(op, {x}, scalar(total * scale), [x, scale](const Array&, const Array& dy) {
    if (!x.requires_grad()) return;
    Array each = uninitialized_array(x.shape());
    each.fill(static_cast<float>(dy() * scale));
    x.mutable_grad().add(std::move(each));
  });
}


// ---- Reductions over chosen axes (NumPy's axis= and keepdims=) ----
//
// x is viewed as groups of axes: axes of extent 1 are dropped and neighbouring axes of the
// same kind (reduced or kept) merged, so (32, 64, 256) over axis -1 is 2048 kept by 256
// reduced. An element's offset in x is kept.offset(k) + reduced.offset(r) + i, with i over
// the innermost group (contiguous). When that group is reduced ("row form") each output
// sums contiguous rows; when it is kept ("column form") a task sums a run of up to
// kColumnChunk neighbouring outputs at once, reading x row by row. Either way each output
// element is computed by one task, in an order fixed by the shape and axes alone.

// A row-major multi-index over some of the groups -> its offset in x.
struct OffsetMap {
  std::vector<std::size_t> extents, strides;
  std::size_t count() const {
    std::size_t n = 1;
    for (std::size_t e : extents) n *= e;
    return n;
  }
  std::size_t offset(std::size_t index) const {
    std::size_t off = 0;
    for (std::size_t g = extents.size(); g-- > 0;) {
      off += index % extents[g] * strides[g];
      index /= extents[g];
    }
    return off;
  }
};

struct Reduction {
  Shape out_shape;
  std::size_t outputs = 1;  // elements of the output
  std::size_t count = 1;    // elements of x reduced into each output
  bool row_form = false;
  std::size_t inner = 1;    // extent of the innermost group
  OffsetMap kept, reduced;  // the groups other than the innermost one
};

constexpr std::size_t kColumnChunk = 256;

std::string axes_string(const Axes& axes) {
  std::string s = "(";
  for (std::size_t i = 0; i < axes.size(); ++i) s += (i ? ", " : "") + std::to_string(axes[i]);
  return s + (axes.size() == 1 ? ",)" : ")");
}

Reduction plan_reduction(const char* op, const Shape& shape, const Axes& axes, bool keepdims) {
  std::vector<bool> reduce(shape.size(), false);
  for (std::int64_t a : axes) {
    const std::size_t axis = normalize_axis(op, a, shape);
    if (reduce[axis]) {
      throw ShapeError(std::string(op) + ": axes " + axes_string(axes) + " name axis " +
                       std::to_string(axis) + " twice (shape " + shape_string(shape) + ")");
    }
    reduce[axis] = true;
  }
  Reduction r;
  struct Group {
    std::size_t extent;
    bool reduced;
  };
  std::vector<Group> groups;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (reduce[d]) {
      r.count *= shape[d];
      if (keepdims) r.out_shape.push_back(1);
    } else {
      r.out_shape.push_back(shape[d]);
    }
    if (shape[d] == 1) continue;
    if (!groups.empty() && groups.back().reduced == reduce[d]) {
      groups.back().extent *= shape[d];
    } else {
      groups.push_back({shape[d], reduce[d]});
    }
  }
  r.outputs = element_count(r.out_shape);
  if (groups.empty()) groups.push_back({1, false});
  r.row_form = groups.back().reduced;
  r.inner = groups.back().extent;
  std::size_t stride = r.inner;
  for (std::size_t g = groups.size() - 1; g-- > 0;) {
    OffsetMap& map = groups[g].reduced ? r.reduced : r.kept;
    map.extents.insert(map.extents.begin(), groups[g].extent);
    map.strides.insert(map.strides.begin(), stride);
    stride *= groups[g].extent;
  }
  return r;
}

// Sum of value(x[i]) over n contiguous floats in double, in 16 lanes added in lane order at
// the end (four vectors of four doubles: four add chains in flight instead of one).
template <class Value>
double lane_sum(const float* x, std::size_t n, Value value) {
  double lane[16] = {};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (std::size_t k = 0; k < 16; ++k) lane[k] += value(x[i + k]);
  }
  double total = 0.0;
  for (double l : lane) total += l;
  for (; i < n; ++i) total += value(x[i]);
  return total;
}

// For each output o: finish(o, sum of value(v, o) over o's elements v), summed in double.
// Row form: o's rows are summed one by one (lane_sum) and added in order; column form: o's
// elements are added in order of the reduced index.
template <class Value, class Finish>
void reduce_sum(const Reduction& r, const float* x, Value value, Finish finish) {
  const std::size_t rows = r.reduced.count();
  if (r.row_form) {
    parallel::for_range(r.outputs, r.outputs * r.count, [&](std::size_t first, std::size_t last) {
      for (std::size_t o = first; o < last; ++o) {
        const float* xo = x + r.kept.offset(o);
        auto of_o = [&value, o](float v) { return value(v, o); };
        double total = 0.0;
        for (std::size_t q = 0; q < rows; ++q) total += lane_sum(xo + r.reduced.offset(q), r.inner, of_o);
        finish(o, total);
      }
    });
    return;
  }
  const std::size_t chunks = (r.inner + kColumnChunk - 1) / kColumnChunk;
  parallel::for_range(r.kept.count() * chunks, r.outputs * r.count, [&](std::size_t first, std::size_t last) {
    double acc[kColumnChunk];
    for (std::size_t t = first; t < last; ++t) {
      const std::size_t k = t / chunks, b0 = t % chunks * kColumnChunk;
      const std::size_t n = std::min(kColumnChunk, r.inner - b0), o0 = k * r.inner + b0;
      const float* xk = x + r.kept.offset(k) + b0;
      std::fill(acc, acc + n, 0.0);
      for (std::size_t q = 0; q < rows; ++q) {
        const float* p = xk + r.reduced.offset(q);
        for (std::size_t b = 0; b < n; ++b) acc[b] += value(p[b], o0 + b);
      }
      for (std::size_t b = 0; b < n; ++b) finish(o0 + b, acc[b]);
    }
  });
}

// NumPy's maximum: a NaN wins.
inline float max_nan(float m, float v) { return v > m || std::isnan(v) ? v : m; }

// out[o] = the maximum of o's elements (-inf for none), looping as reduce_sum.
void reduce_max(const Reduction& r, const float* x, float* out) {
  const std::size_t rows = r.reduced.count();
  constexpr float kLowest = -std::numeric_limits<float>::infinity();
  if (r.row_form) {
    parallel::for_range(r.outputs, r.outputs * r.count, [&](std::size_t first, std::size_t last) {
      for (std::size_t o = first; o < last; ++o) {
        const float* xo = x + r.kept.offset(o);
        float m = kLowest;
        for (std::size_t q = 0; q < rows; ++q) {
          const float* p = xo + r.reduced.offset(q);
          for (std::size_t i = 0; i < r.inner; ++i) m = max_nan(m, p[i]);
        }
        out[o] = m;
      }
    });
    return;
  }
  const std::size_t chunks = (r.inner + kColumnChunk - 1) / kColumnChunk;
  parallel::for_range(r.kept.count() * chunks, r.outputs * r.count, [&](std::size_t first, std::size_t last) {
    for (std::size_t t = first; t < last; ++t) {
      const std::size_t k = t / chunks, b0 = t % chunks * kColumnChunk;
      const std::size_t n = std::min(kColumnChunk, r.inner - b0);
      float* m = out + k * r.inner + b0;
      const float* xk = x + r.kept.offset(k) + b0;
      std::fill(m, m + n, kLowest);
      for (std::size_t q = 0; q < rows; ++q) {
        const float* p = xk + r.reduced.offset(q);
        for (std::size_t b = 0; b < n; ++b) m[b] = max_nan(m[b], p[b]);
      }
    }
  });
}

// The backward's broadcast: dx[e] (+)= grad(x[e], o) for every element e of x, o its output
// element. Each element of dx is written once, by one task.
template <class Grad>
void expand(const Reduction& r, const Tensor& x, Grad grad) {
  GradientTarget target(x);
  float* d = target.data();
  if (!d) return;
  const bool add = target.add();
  const float* xv = x.value().data();
  const std::size_t rows = r.reduced.count();
  auto put = [d, xv, add, &grad](std::size_t e, std::size_t o) {
    const float g = grad(xv[e], o);
    d[e] = add ? d[e] + g : g;
  };
  if (r.row_form) {
    parallel::for_range(r.outputs, r.outputs * r.count, [&](std::size_t first, std::size_t last) {
      for (std::size_t o = first; o < last; ++o) {
        const std::size_t base = r.kept.offset(o);
        for (std::size_t q = 0; q < rows; ++q) {
          const std::size_t row = base + r.reduced.offset(q);
          for (std::size_t i = 0; i < r.inner; ++i) put(row + i, o);
        }
      }
    });
  } else {
    const std::size_t chunks = (r.inner + kColumnChunk - 1) / kColumnChunk;
    parallel::for_range(r.kept.count() * chunks, r.outputs * r.count, [&](std::size_t first, std::size_t last) {
      for (std::size_t t = first; t < last; ++t) {
        const std::size_t k = t / chunks, b0 = t % chunks * kColumnChunk;
        const std::size_t n = std::min(kColumnChunk, r.inner - b0), o0 = k * r.inner + b0;
        const std::size_t base = r.kept.offset(k) + b0;
        for (std::size_t q = 0; q < rows; ++q) {
          const std::size_t row = base + r.reduced.offset(q);
          for (std::size_t b = 0; b < n; ++b) put(row + b, o0 + b);
        }
      }
    });
  }
  target.commit();
}

const auto kIdentity = [](float v, std::size_t) { return static_cast<double>(v); };

// y = sum over the axes * scale, in double; dx += dy[o] * scale at each element of o.
Tensor scaled_axis_sum(Tape& tape, const char* op, const Tensor& x, const Reduction& r, double scale) {
  Array out = uninitialized_array(r.out_shape);
  float* y = out.data();
  reduce_sum(r, x.value().data(), kIdentity,
             [y, scale](std::size_t o, double total) { y[o] = static_cast<float>(total * scale); });
  const float factor = static_cast<float>(scale);
  return tape.record(op, {x}, std::move(out), [x, r, factor](const Array&, const Array& dy) {
    const float* g = dy.data();
    expand(r, x, [g, factor](float, std::size_t o) { return g[o] * factor; });
  });
}

}  // namespace

Tensor sum(Tape& tape, const Tensor& x) { return scaled_sum(tape, "sum", x, 1.0); }

Tensor mean(Tape& tape, const Tensor& x) {
  require_shape(x.size() > 0, "mean", "the mean of no elements is undefined", x.shape());
  return scaled_sum(tape, "mean", x, 1.0 / static_cast<double>(x.size()));
}

Tensor sum(Tape& tape, const Tensor& x, const Axes& axes, bool keepdims) {
  return scaled_axis_sum(tape, "sum", x, plan_reduction("sum", x.shape(), axes, keepdims), 1.0);
}

Tensor mean(Tape& tape, const Tensor& x, const Axes& axes, bool keepdims) {
  const Reduction r = plan_reduction("mean", x.shape(), axes, keepdims);
  require_shape(r.count > 0 || r.outputs == 0, "mean",
                "the mean over axes " + axes_string(axes) + " has no elements to average", x.shape());
  return scaled_axis_sum(tape, "mean", x, r, 1.0 / static_cast<double>(r.count));
}

// dx[e] += dy[o] / ties[o] where x[e] == y[o]: the maximum's gradient shared evenly among
// the elements that reach it (PyTorch's amax, JAX's max). The ties are counted in the
// backward, so the forward keeps nothing.
Tensor max(Tape& tape, const Tensor& x, const Axes& axes, bool keepdims) {
  const Reduction r = plan_reduction("max", x.shape(), axes, keepdims);
  require_shape(r.count > 0 || r.outputs == 0, "max",
                "the maximum over axes " + axes_string(axes) + " has no elements to compare", x.shape());
  Array out = uninitialized_array(r.out_shape);
  reduce_max(r, x.value().data(), out.data());
  return tape.record("max", {x}, std::move(out), [x, r](const Array& y, const Array& dy) {
    if (!x.requires_grad()) return;
    const float* top = y.data();
    const float* g = dy.data();
    std::vector<float> share(r.outputs);
    reduce_sum(
        r, x.value().data(), [top](float v, std::size_t o) { return v == top[o] ? 1.0 : 0.0; },
        [&share, g](std::size_t o, double ties) { share[o] = g[o] / static_cast<float>(ties); });
    expand(r, x, [top, &share](float v, std::size_t o) { return v == top[o] ? share[o] : 0.0f; });
  });
}

// y = m + log(sum exp(x - m)) with m the maximum (0 when it is infinite, so that all -inf
// gives -inf and a +inf gives +inf, not NaN); dx += dy[o] * exp(x - y[o]) = dy * softmax.
Tensor logsumexp(Tape& tape, const Tensor& x, const Axes& axes, bool keepdims) {
  const Reduction r = plan_reduction("logsumexp", x.shape(), axes, keepdims);
  Array out = uninitialized_array(r.out_shape);
  float* y = out.data();
  const float* xv = x.value().data();
  reduce_max(r, xv, y);
  for (std::size_t o = 0; o < r.outputs; ++o) y[o] = std::isfinite(y[o]) ? y[o] : 0.0f;
  reduce_sum(
      r, xv, [y](float v, std::size_t o) { return static_cast<double>(std::exp(v - y[o])); },
      [y](std::size_t o, double total) { y[o] = static_cast<float>(y[o] + std::log(total)); });
  return tape.record("logsumexp", {x}, std::move(out), [x, r](const Array& lse, const Array& dy) {
    const float* l = lse.data();
    const float* g = dy.data();
    expand(r, x, [l, g](float v, std::size_t o) { return g[o] * std::exp(v - l[o]); });
  });
}

// mean(x^2) in one pass, without writing x^2 out. dX += dout * 2 x / n.
Tensor mean_square(Tape& tape, const Tensor& x) {
  // Guarded: require_shape's message argument is a std::string, built on every call.
  if (x.size() == 0) {
    require_shape(false, "mean_square", "the mean of no elements is undefined", x.shape());
  }
  const double scale = 1.0 / static_cast<double>(x.size());
  const double total = blocked_sum(x.value().data(), x.size(), block_sum_of_squares);
  return tape.record("mean_square", {x}, scalar(total * scale),
                     [x, scale](const Array&, const Array& dy) {
                       const float factor = static_cast<float>(2.0 * dy() * scale);
                       accumulate_grad(x, factor * x.value());
                     });
}

}  // namespace xgrad
