// The shape ops: reshape, transpose, slice, concat/stack/split, broadcast_to, take. Each
// moves elements without arithmetic (a backward may add), through one strided-copy kernel
// (take has its own gather loop). Not views: every output is a fresh array, as every xgrad
// value is.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "core/broadcasting.hpp"
#include "core/detail/parallel.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"
#include "core/slice.hpp"

namespace xgrad {
namespace {

using Strides = std::vector<std::ptrdiff_t>;

Strides contiguous_strides(const Shape& shape) {
  Strides strides(shape.size());
  std::ptrdiff_t stride = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= static_cast<std::ptrdiff_t>(shape[i]);
  }
  return strides;
}

// A copy of `shape` elements from src (read at sum index[k] * src_strides[k]) to dst
// (written at sum index[k] * dst_strides[k]), with neighbouring axes merged where both sides
// step over them as one and extent-1 axes dropped, so that a slice of rows or a concat piece
// becomes one loop over long contiguous runs.
struct Copy {
  Shape extents;
  Strides src, dst;
};

Copy collapse(const Shape& shape, const Strides& src, const Strides& dst) {
  Copy c;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    const auto n = static_cast<std::ptrdiff_t>(shape[i]);
    if (!c.extents.empty() && c.src.back() == src[i] * n && c.dst.back() == dst[i] * n) {
      c.extents.back() *= shape[i];
      c.src.back() = src[i];
      c.dst.back() = dst[i];
      continue;
    }
    c.extents.push_back(shape[i]);
    c.src.push_back(src[i]);
    c.dst.push_back(dst[i]);
  }
  return c;
}

// The tile of the blocked transpose. 8 x 8: with a power-of-two row length the strided
// side's rows all fall in one L1 set, and 8 of them fit its ways where 32 evict each other.
constexpr std::size_t kTile = 8;

// d[r * dr + j * dj] (+)= s[r * sr + j * sj] over an nr x nj tile, the inner loop along
// the axis that src is contiguous on.
template <bool kAdd>
void copy_tile(const float* s, std::ptrdiff_t sr, std::ptrdiff_t sj, float* d, std::ptrdiff_t dr,
               std::ptrdiff_t dj, std::ptrdiff_t nr, std::ptrdiff_t nj) {
  if (sr == 1) {
    for (std::ptrdiff_t j = 0; j < nj; ++j) {
      for (std::ptrdiff_t r = 0; r < nr; ++r) {
        float& o = d[r * dr + j * dj];
        o = kAdd ? o + s[r + j * sj] : s[r + j * sj];
      }
    }
  } else {
    for (std::ptrdiff_t r = 0; r < nr; ++r) {
      for (std::ptrdiff_t j = 0; j < nj; ++j) {
        float& o = d[r * dr + j * dj];
        o = kAdd ? o + s[r * sr + j * sj] : s[r * sr + j * sj];
      }
    }
  }
}

// dst[index . dst_strides] (+)= src[index . src_strides] for every index of `shape`; every
// destination element is written once and computed the same way whichever thread runs it.
// When the last axis is contiguous on one side and the one before on the other (a swap of
// the last two axes), it goes tile by tile so that neither side is read across cache lines
// one float at a time.
void strided_copy(const float* src, const Strides& src_strides, float* dst,
                  const Strides& dst_strides, const Shape& shape, bool add) {
  const std::size_t total = element_count(shape);
  if (total == 0) return;
  const Copy c = collapse(shape, src_strides, dst_strides);
  const std::size_t rank = c.extents.size();
  if (rank == 0) {
    *dst = add ? *dst + *src : *src;
    return;
  }
  const bool tiled = rank >= 2 && ((c.dst[rank - 1] == 1 && c.src[rank - 2] == 1) ||
                                   (c.src[rank - 1] == 1 && c.dst[rank - 2] == 1));
  const std::size_t inner = c.extents[rank - 1];
  const std::size_t rows = tiled ? c.extents[rank - 2] : 1;
  // Tasks: one row of the last axis each, or (tiled) one band of kTile rows of a matrix.
  const std::size_t outer_axes = tiled ? rank - 2 : rank - 1;
  std::size_t outer = 1;
  for (std::size_t k = 0; k < outer_axes; ++k) outer *= c.extents[k];
  const std::size_t bands = tiled ? (rows + kTile - 1) / kTile : 1;
  parallel::for_range(outer * bands, total, [&](std::size_t first, std::size_t last) {
    for (std::size_t task = first; task < last; ++task) {
      std::size_t rest = task / bands;
      std::ptrdiff_t s = 0, d = 0;
      for (std::size_t k = outer_axes; k-- > 0;) {
        const std::size_t i = rest % c.extents[k];
        rest /= c.extents[k];
        s += static_cast<std::ptrdiff_t>(i) * c.src[k];
        d += static_cast<std::ptrdiff_t>(i) * c.dst[k];
      }
      const float* sp = src + s;
      float* dp = dst + d;
      const std::ptrdiff_t ss = c.src[rank - 1], ds = c.dst[rank - 1];
      if (!tiled) {
        if (ss == 1 && ds == 1 && !add) {
          std::memcpy(dp, sp, inner * sizeof(float));
        } else if (ss == 1 && ds == 1) {
          for (std::size_t j = 0; j < inner; ++j) dp[j] += sp[j];
        } else if (add) {
          for (std::ptrdiff_t j = 0; j < static_cast<std::ptrdiff_t>(inner); ++j) dp[j * ds] += sp[j * ss];
        } else {
          for (std::ptrdiff_t j = 0; j < static_cast<std::ptrdiff_t>(inner); ++j) dp[j * ds] = sp[j * ss];
        }
        continue;
      }
      const std::ptrdiff_t rs = c.src[rank - 2], rd = c.dst[rank - 2];
      const std::size_t r0 = (task % bands) * kTile;
      const std::size_t r1 = std::min(rows, r0 + kTile);
      const auto nr = static_cast<std::ptrdiff_t>(r1 - r0);
      for (std::size_t j0 = 0; j0 < inner; j0 += kTile) {
        const auto nj = static_cast<std::ptrdiff_t>(std::min(inner, j0 + kTile) - j0);
        const auto ro = static_cast<std::ptrdiff_t>(r0), jo = static_cast<std::ptrdiff_t>(j0);
        const float* st = sp + ro * rs + jo * ss;
        float* dt = dp + ro * rd + jo * ds;
        if (add) {
          copy_tile<true>(st, rs, ss, dt, rd, ds, nr, nj);
        } else {
          copy_tile<false>(st, rs, ss, dt, rd, ds, nr, nj);
        }
      }
    }
  });
}

// A gradient target's array, zero-filled when it is fresh, for a backward that adds into
// only part of it (slice, take). Null when x requires no gradient.
float* zeroed_or_existing(GradientTarget& target, std::size_t n) {
  float* d = target.data();
  if (d && !target.add()) std::fill(d, d + n, 0.0f);
  return d;
}

std::string extents_string(const std::vector<std::int64_t>& extents) {
  std::string out = "(";
  for (std::size_t i = 0; i < extents.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(extents[i]);
  }
  return out + (extents.size() == 1 ? ",)" : ")");
}

std::string axes_string(const Axes& axes) { return extents_string(axes); }

Strides to_strides(const std::vector<std::size_t>& strides) {
  return Strides(strides.begin(), strides.end());
}

// x[specs] as `op` ("slice", or "split" for a piece of split).
Tensor slice_as(const char* op, Tape& tape, const Tensor& x, const std::vector<Slice>& specs) {
  const Shape xs = x.shape();
  if (specs.size() > xs.size()) {
    throw ShapeError(std::string(op) + ": " + std::to_string(specs.size()) + " slices for a " +
                     std::to_string(xs.size()) + "-D input (shape " + shape_string(xs) + ")");
  }
  const Strides x_strides = contiguous_strides(xs);
  Shape out_shape;
  Strides strides;  // x's element strides for each output axis
  std::ptrdiff_t offset = 0;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const Slice spec = k < specs.size() ? specs[k] : Slice::all();
    const auto n = static_cast<std::int64_t>(xs[k]);
    if (spec.is_index() && (*spec.start() < -n || *spec.start() >= n)) {
      throw ShapeError(std::string(op) + ": index " + std::to_string(*spec.start()) +
                       " is out of range for axis " + std::to_string(k) + " with extent " +
                       std::to_string(n) + " (shape " + shape_string(xs) + ")");
    }
    const SliceRange r = spec.indices(xs[k]);
    if (r.length > 0) offset += static_cast<std::ptrdiff_t>(r.start) * x_strides[k];
    if (spec.is_index()) continue;
    out_shape.push_back(r.length);
    strides.push_back(static_cast<std::ptrdiff_t>(r.step) * x_strides[k]);
  }
  Array out = uninitialized_array(out_shape);
  if (out.size() > 0) {
    strided_copy(x.value().data() + offset, strides, out.data(), contiguous_strides(out_shape),
                 out_shape, false);
  }
  // dx[start + j * step] += dy[j] on each axis, zero elsewhere: the positions are distinct.
  auto backward = [x, out_shape, strides, offset](const Array&, const Array& dy) {
    GradientTarget dx(x);
    float* d = zeroed_or_existing(dx, x.size());
    if (!d) return;
    if (dy.size() > 0) {
      strided_copy(dy.data(), contiguous_strides(out_shape), d + offset, strides, out_shape, true);
    }
    dx.commit();
  };
  return tape.record(op, {x}, std::move(out), std::move(backward));
}

// Inputs joined along `axis` of out_shape, input i filling [starts[i], starts[i] + widths[i])
// of it (concat: the inputs' own extents; stack: 1 each on the new axis).
Tensor join(const char* op, Tape& tape, const std::vector<Tensor>& xs, std::size_t axis,
            const Shape& out_shape, const std::vector<std::size_t>& widths) {
  std::size_t outer = 1, inner = 1;
  for (std::size_t k = 0; k < axis; ++k) outer *= out_shape[k];
  for (std::size_t k = axis + 1; k < out_shape.size(); ++k) inner *= out_shape[k];
  const auto along = static_cast<std::ptrdiff_t>(out_shape[axis]);
  const auto in = static_cast<std::ptrdiff_t>(inner);
  // Piece i as (outer, width, inner): read contiguously, written at its offset in out.
  const Strides out_strides{along * in, in, 1};
  std::vector<std::ptrdiff_t> starts(xs.size(), 0);
  for (std::size_t i = 1; i < xs.size(); ++i) {
    starts[i] = starts[i - 1] + static_cast<std::ptrdiff_t>(widths[i - 1]);
  }
  Array out = uninitialized_array(out_shape);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const Shape piece{outer, widths[i], inner};
    strided_copy(xs[i].value().data(), contiguous_strides(piece), out.data() + starts[i] * in,
                 out_strides, piece, false);
  }
  // dx_i (+)= dout[.., starts[i] : starts[i] + widths[i], ..].
  auto backward = [xs, outer, inner, widths, starts, out_strides](const Array&, const Array& dy) {
    for (std::size_t i = 0; i < xs.size(); ++i) {
      GradientTarget dx(xs[i]);
      float* d = dx.data();
      if (!d) continue;
      const Shape piece{outer, widths[i], inner};
      strided_copy(dy.data() + starts[i] * static_cast<std::ptrdiff_t>(inner), out_strides, d,
                   contiguous_strides(piece), piece, dx.add());
      dx.commit();
    }
  };
  return tape.record(op, xs, std::move(out), std::move(backward));
}

Tensor permute_as(const char* op, Tape& tape, const Tensor& x, const Axes& axes) {
  const Shape xs = x.shape();
  if (axes.size() != xs.size()) {
    throw ShapeError(std::string(op) + ": axes " + axes_string(axes) + " do not match a " +
                     std::to_string(xs.size()) + "-D input (shape " + shape_string(xs) + ")");
  }
  std::vector<std::size_t> perm(axes.size());
  std::vector<bool> seen(axes.size(), false);
  for (std::size_t i = 0; i < axes.size(); ++i) {
    perm[i] = normalize_axis(op, axes[i], xs);
    if (seen[perm[i]]) {
      throw ShapeError(std::string(op) + ": axes " + axes_string(axes) +
                       " are not a permutation of the axes of shape " + shape_string(xs) +
                       " (axis " + std::to_string(perm[i]) + " appears twice)");
    }
    seen[perm[i]] = true;
  }
  const Strides x_strides = contiguous_strides(xs);
  Shape out_shape(xs.size());
  Strides read(xs.size());
  for (std::size_t i = 0; i < perm.size(); ++i) {
    out_shape[i] = xs[perm[i]];
    read[i] = x_strides[perm[i]];
  }
  Array out = uninitialized_array(out_shape);
  strided_copy(x.value().data(), read, out.data(), contiguous_strides(out_shape), out_shape, false);
  // dx = transpose(dy, inverse(axes)): x's axis perm[i] is dy's axis i.
  auto backward = [x, xs, perm, out_shape](const Array&, const Array& dy) {
    GradientTarget dx(x);
    float* d = dx.data();
    if (!d) return;
    const Strides dy_strides = contiguous_strides(out_shape);
    Strides read_dy(perm.size());
    for (std::size_t i = 0; i < perm.size(); ++i) read_dy[perm[i]] = dy_strides[i];
    strided_copy(dy.data(), read_dy, d, contiguous_strides(xs), xs, dx.add());
    dx.commit();
  };
  return tape.record(op, {x}, std::move(out), std::move(backward));
}

std::vector<Tensor> split_pieces(const char* op, Tape& tape, const Tensor& x,
                                 const std::vector<std::size_t>& sizes, std::size_t axis) {
  std::vector<Slice> specs(axis + 1, Slice::all());
  std::vector<Tensor> pieces;
  pieces.reserve(sizes.size());
  std::int64_t begin = 0;
  for (std::size_t size : sizes) {
    const auto end = begin + static_cast<std::int64_t>(size);
    specs[axis] = Slice::range(begin, end);
    pieces.push_back(slice_as(op, tape, x, specs));
    begin = end;
  }
  return pieces;
}

}  // namespace

SliceRange Slice::indices(std::size_t extent) const {
  const auto n = static_cast<std::int64_t>(extent);
  if (index_) {
    const std::int64_t i = *start_;
    if (i < -n || i >= n) {
      throw ShapeError("Slice::indices: index " + std::to_string(i) +
                       " is out of range for an axis of extent " + std::to_string(n));
    }
    return {i < 0 ? i + n : i, 1, 1};
  }
  // PySlice_AdjustIndices: omitted bounds are the ends in the step's direction.
  auto adjust = [&](std::optional<std::int64_t> bound, bool is_start) {
    if (!bound) return is_start ? (step_ > 0 ? 0 : n - 1) : (step_ > 0 ? n : -1);
    std::int64_t b = *bound;
    if (b < 0) {
      b += n;
      if (b < 0) b = step_ < 0 ? -1 : 0;
    } else if (b >= n) {
      b = step_ < 0 ? n - 1 : n;
    }
    return b;
  };
  const std::int64_t start = adjust(start_, true);
  const std::int64_t stop = adjust(stop_, false);
  std::int64_t length = 0;
  if (step_ < 0 && stop < start) length = (start - stop - 1) / -step_ + 1;
  if (step_ > 0 && start < stop) length = (stop - start - 1) / step_ + 1;
  return {start, step_, static_cast<std::size_t>(length)};
}

Slice Slice::range(std::optional<std::int64_t> start, std::optional<std::int64_t> stop,
                   std::int64_t step) {
  if (step == 0) throw std::invalid_argument("Slice::range: the step must not be 0");
  Slice s;
  s.start_ = start;
  s.stop_ = stop;
  s.step_ = step;
  return s;
}

Tensor reshape(Tape& tape, const Tensor& x, const Shape& shape) {
  if (element_count(shape) != x.size()) {
    throw ShapeError("reshape: cannot reshape " + shape_string(x.shape()) + " to " +
                     shape_string(shape) + ": element counts differ");
  }
  Array out = uninitialized_array(shape);
  std::memcpy(out.data(), x.value().data(), x.size() * sizeof(float));
  // Same elements, same order: dX += dY read with x's shape.
  return tape.record("reshape", {x}, std::move(out), [x](const Array&, const Array& dy) {
    accumulate_grad(x, xt::adapt(dy.data(), dy.size(), xt::no_ownership(), x.value().shape()));
  });
}

Tensor reshape(Tape& tape, const Tensor& x, const std::vector<std::int64_t>& shape) {
  auto fail = [&](const std::string& why) {
    throw ShapeError("reshape: cannot reshape " + shape_string(x.shape()) + " to " +
                     extents_string(shape) + ": " + why);
  };
  Shape resolved(shape.size());
  std::size_t inferred = shape.size();  // the -1's axis, if any
  std::size_t known = 1;
  for (std::size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] == -1) {
      if (inferred != shape.size()) fail("only one extent may be -1");
      inferred = k;
    } else if (shape[k] < 0) {
      fail("extent " + std::to_string(shape[k]) + " on axis " + std::to_string(k) +
           " is negative (only -1, once, is allowed)");
    } else {
      resolved[k] = static_cast<std::size_t>(shape[k]);
      known *= resolved[k];
    }
  }
  if (inferred != shape.size()) {
    if (known == 0) fail("the -1 extent is undetermined when another extent is 0");
    if (x.size() % known != 0) {
      fail(std::to_string(x.size()) + " elements do not divide by " + std::to_string(known));
    }
    resolved[inferred] = x.size() / known;
  } else if (known != x.size()) {
    fail("element counts differ");
  }
  return reshape(tape, x, resolved);
}

Tensor reshape(Tape& tape, const Tensor& x, std::initializer_list<Extent> shape) {
  std::vector<std::int64_t> extents;
  extents.reserve(shape.size());
  for (const Extent& e : shape) extents.push_back(e.value());
  return reshape(tape, x, extents);
}

Tensor transpose(Tape& tape, const Tensor& x, const Axes& axes) {
  return permute_as("transpose", tape, x, axes);
}

Tensor permute(Tape& tape, const Tensor& x, const Axes& axes) {
  return permute_as("permute", tape, x, axes);
}

Tensor transpose(Tape& tape, const Tensor& x) {
  Axes reversed(x.shape().size());
  for (std::size_t i = 0; i < reversed.size(); ++i) {
    reversed[i] = static_cast<std::int64_t>(reversed.size() - 1 - i);
  }
  return permute_as("transpose", tape, x, reversed);
}

Tensor slice(Tape& tape, const Tensor& x, const std::vector<Slice>& specs) {
  return slice_as("slice", tape, x, specs);
}

Tensor concat(Tape& tape, const std::vector<Tensor>& xs, std::int64_t axis) {
  if (xs.empty()) throw ShapeError("concat: no inputs to concatenate");
  const Shape first = xs[0].shape();
  const std::size_t a = normalize_axis("concat", axis, first);
  Shape out_shape = first;
  out_shape[a] = 0;
  std::vector<std::size_t> widths;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const Shape s = xs[i].shape();
    bool same = s.size() == first.size();
    for (std::size_t k = 0; same && k < s.size(); ++k) same = k == a || s[k] == first[k];
    if (!same) {
      throw ShapeError("concat: input " + std::to_string(i) + " has shape " + shape_string(s) +
                       ", input 0 " + shape_string(first) + ": they must agree on every axis but " +
                       "axis " + std::to_string(axis));
    }
    widths.push_back(s[a]);
    out_shape[a] += s[a];
  }
  return join("concat", tape, xs, a, out_shape, widths);
}

Tensor stack(Tape& tape, const std::vector<Tensor>& xs, std::int64_t axis) {
  if (xs.empty()) throw ShapeError("stack: no inputs to stack");
  const Shape first = xs[0].shape();
  const auto rank = static_cast<std::int64_t>(first.size());
  if (axis < -(rank + 1) || axis > rank) {
    throw ShapeError("stack: axis " + std::to_string(axis) + " is out of range for stacking " +
                     std::to_string(rank) + "-D inputs (shape " + shape_string(first) +
                     ") into " + std::to_string(rank + 1) + "-D");
  }
  const auto a = static_cast<std::size_t>(axis < 0 ? axis + rank + 1 : axis);
  for (std::size_t i = 1; i < xs.size(); ++i) {
    if (xs[i].shape() != first) {
      throw ShapeError("stack: input " + std::to_string(i) + " has shape " +
                       shape_string(xs[i].shape()) + ", input 0 " + shape_string(first) +
                       ": stacked inputs (axis " + std::to_string(axis) + ") need one shape");
    }
  }
  Shape out_shape = first;
  out_shape.insert(out_shape.begin() + static_cast<std::ptrdiff_t>(a), xs.size());
  return join("stack", tape, xs, a, out_shape, std::vector<std::size_t>(xs.size(), 1));
}

std::vector<Tensor> split(Tape& tape, const Tensor& x, std::size_t sections, std::int64_t axis) {
  const std::size_t a = normalize_axis("split", axis, x.shape());
  const std::size_t n = x.shape()[a];
  if (sections == 0 || n % sections != 0) {
    throw ShapeError("split: axis " + std::to_string(axis) + " of shape " +
                     shape_string(x.shape()) + " (extent " + std::to_string(n) +
                     ") does not split into " + std::to_string(sections) + " equal sections");
  }
  return split_pieces("split", tape, x, std::vector<std::size_t>(sections, n / sections), a);
}

std::vector<Tensor> split_sizes(Tape& tape, const Tensor& x, const std::vector<std::size_t>& sizes,
                                std::int64_t axis) {
  const std::size_t a = normalize_axis("split_sizes", axis, x.shape());
  const std::size_t n = x.shape()[a];
  const std::size_t total = std::accumulate(sizes.begin(), sizes.end(), std::size_t{0});
  if (total != n) {
    throw ShapeError("split_sizes: sizes " + shape_string(sizes) + " sum to " +
                     std::to_string(total) + ", but axis " + std::to_string(axis) + " of shape " +
                     shape_string(x.shape()) + " has extent " + std::to_string(n));
  }
  return split_pieces("split_sizes", tape, x, sizes, a);
}

Tensor broadcast_to(Tape& tape, const Tensor& x, const Shape& shape) {
  const Shape xs = x.shape();
  if (!broadcasts_to(xs, shape)) {
    std::string why = "it has more axes";
    for (std::size_t k = 0; k < xs.size() && xs.size() <= shape.size(); ++k) {
      const std::size_t from = xs[xs.size() - 1 - k], to = shape[shape.size() - 1 - k];
      if (from != to && from != 1) {
        why = "axis -" + std::to_string(k + 1) + " has extent " + std::to_string(from) +
              ", not 1 or " + std::to_string(to);
        break;
      }
    }
    throw ShapeError("broadcast_to: cannot broadcast " + shape_string(xs) + " to " +
                     shape_string(shape) + ": " + why);
  }
  Array out = uninitialized_array(shape);
  strided_copy(x.value().data(), to_strides(broadcast_strides(xs, shape)), out.data(),
               contiguous_strides(shape), shape, false);
  return tape.record("broadcast_to", {x}, std::move(out), [x](const Array&, const Array& dy) {
    accumulate_grad(x, unbroadcast(dy, x.shape()));  // dx += dy summed over broadcast axes
  });
}

// x (A, n, B) with the axis in the middle, indices (T...) -> out (A, T..., B).
Tensor take(Tape& tape, const Tensor& x, const TokenIds& indices, std::int64_t axis) {
  const Shape xs = x.shape();
  const std::size_t a = normalize_axis("take", axis, xs);
  if (indices.size() > 0) {
    indices.check_range(xs[a], "take: axis " + std::to_string(axis) + " of shape " +
                                   shape_string(xs));
  }
  std::size_t outer = 1, inner = 1;
  for (std::size_t k = 0; k < a; ++k) outer *= xs[k];
  for (std::size_t k = a + 1; k < xs.size(); ++k) inner *= xs[k];
  const std::size_t n = xs[a], count = indices.size();
  Shape out_shape(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(a));
  out_shape.insert(out_shape.end(), indices.shape().begin(), indices.shape().end());
  out_shape.insert(out_shape.end(), xs.begin() + static_cast<std::ptrdiff_t>(a) + 1, xs.end());
  Array out = uninitialized_array(out_shape);
  const float* xv = x.value().data();
  float* y = out.data();
  const std::int32_t* ids = indices.data();
  // out[o, t, :] = x[o, ids[t], :], one task per (o, t) row.
  parallel::for_range(outer * count, out.size(), [&](std::size_t first, std::size_t last) {
    for (std::size_t row = first; row < last; ++row) {
      const std::size_t o = row / count, t = row % count;
      std::memcpy(y + row * inner, xv + (o * n + static_cast<std::size_t>(ids[t])) * inner,
                  inner * sizeof(float));
    }
  });
  // dx[o, ids[t], :] += dy[o, t, :]. Tasks own disjoint (o, column block) parts of dx and
  // add the rows t in order, so repeated indices sum in one order at any thread count.
  auto backward = [x, indices, outer, inner, n, count](const Array&, const Array& dy) {
    GradientTarget dx(x);
    float* d = zeroed_or_existing(dx, x.size());
    if (!d) return;
    constexpr std::size_t kColumns = 256;
    const std::size_t blocks = (inner + kColumns - 1) / kColumns;
    const float* g = dy.data();
    const std::int32_t* ids = indices.data();
    parallel::for_range(outer * blocks, dy.size(), [&](std::size_t first, std::size_t last) {
      for (std::size_t task = first; task < last; ++task) {
        const std::size_t o = task / blocks;
        const std::size_t c0 = (task % blocks) * kColumns, c1 = std::min(inner, c0 + kColumns);
        for (std::size_t t = 0; t < count; ++t) {
          float* d_row = d + (o * n + static_cast<std::size_t>(ids[t])) * inner;
          const float* g_row = g + (o * count + t) * inner;
          for (std::size_t c = c0; c < c1; ++c) d_row[c] += g_row[c];
        }
      }
    });
    dx.commit();
  };
  return tape.record("take", {x}, std::move(out), std::move(backward));
}

}  // namespace xgrad
