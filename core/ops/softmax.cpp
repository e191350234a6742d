// softmax and log_softmax along one axis, forward and backward (the formulas are in
// core/ops.hpp). Shapes: x viewed as (A, R, B), R the axis's extent, A and B the products of
// the axes before and after it. B = 1 (the last axis) is the fast path: A contiguous rows of
// R, each in SIMD lanes, rows shared among threads. B > 1 runs over runs of up to kChunk
// neighbouring columns at once, walking the axis with stride B. Not a masked softmax.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "core/detail/parallel.hpp"
#include "core/detail/rows.hpp"
#include "core/detail/simd.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"

namespace xgrad {
namespace {

using rows::exp_sum;
using rows::max_of;
using simd::Batch;
using simd::kLanes;
constexpr std::size_t kChunk = 256;
// An exp costs a few memory-bound operations: split the work sooner than a copy would.
constexpr std::size_t kWorkPerElement = 4;

struct AxisView {
  std::size_t outer = 1, extent = 1, inner = 1;
  std::size_t size() const { return outer * extent * inner; }
};

AxisView view_along(const char* op, const Shape& shape, std::int64_t axis) {
  const std::size_t a = normalize_axis(op, axis, shape);
  AxisView v;
  v.extent = shape[a];
  for (std::size_t d = 0; d < a; ++d) v.outer *= shape[d];
  for (std::size_t d = a + 1; d < shape.size(); ++d) v.inner *= shape[d];
  return v;
}

// row(offset) for each contiguous row of R elements when B = 1; else columns(offset, n) for
// each run of n <= kChunk columns starting at offset (element r of column b at offset + r B + b).
// Each row or column is handled whole by one task, so the bits do not depend on the threads.
template <class Row, class Columns>
void for_each_line(const AxisView& v, Row row, Columns columns) {
  const std::size_t work = kWorkPerElement * v.size();
  if (v.inner == 1) {
    parallel::for_range(v.outer, work, [&](std::size_t first, std::size_t last) {
      for (std::size_t a = first; a < last; ++a) row(a * v.extent);
    });
    return;
  }
  const std::size_t chunks = (v.inner + kChunk - 1) / kChunk;
  parallel::for_range(v.outer * chunks, work, [&](std::size_t first, std::size_t last) {
    for (std::size_t t = first; t < last; ++t) {
      const std::size_t a = t / chunks, b0 = t % chunks * kChunk;
      columns(a * v.extent * v.inner + b0, std::min(kChunk, v.inner - b0));
    }
  });
}

// sum of a[i] * b[i] (or of a[i] when b is null), as exp_sum.
float dot(const float* a, const float* b, std::size_t n) {
  Batch lanes(0.0f);
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const Batch va = Batch::load_unaligned(a + i);
    lanes += b ? va * Batch::load_unaligned(b + i) : va;
  }
  float s = xsimd::hadd(lanes);
  for (; i < n; ++i) s += b ? a[i] * b[i] : a[i];
  return s;
}

void softmax_row(const float* x, float* y, std::size_t n) {
  const float inverse = 1.0f / exp_sum(x, max_of(x, n), y, n);  // >= 1: the maximum gives exp(0)
  const Batch scale(inverse);
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) (Batch::load_unaligned(y + i) * scale).store_unaligned(y + i);
  for (; i < n; ++i) y[i] *= inverse;
}

void log_softmax_row(const float* x, float* y, std::size_t n) {
  const float m = max_of(x, n);
  const float log_sum = std::log(exp_sum(x, m, nullptr, n));
  const Batch shift(m), minus(log_sum);
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) ((Batch::load_unaligned(x + i) - shift) - minus).store_unaligned(y + i);
  for (; i < n; ++i) y[i] = (x[i] - m) - log_sum;
}

// The column form's per-column maximum and sum of exp(x - m) over the axis, r in order.
void column_max_and_exp_sum(const float* x, const AxisView& v, std::size_t n, float* m, float* s) {
  std::fill(m, m + n, -std::numeric_limits<float>::infinity());
  for (std::size_t r = 0; r < v.extent; ++r) {
    const float* p = x + r * v.inner;
    for (std::size_t b = 0; b < n; ++b) m[b] = std::max(m[b], p[b]);
  }
  std::fill(s, s + n, 0.0f);
  for (std::size_t r = 0; r < v.extent; ++r) {
    const float* p = x + r * v.inner;
    for (std::size_t b = 0; b < n; ++b) s[b] += std::exp(p[b] - m[b]);
  }
}

void put(float* d, float g, bool add) { *d = add ? *d + g : g; }

}  // namespace

Tensor softmax(Tape& tape, const Tensor& x, std::int64_t axis) {
  const AxisView v = view_along("softmax", x.shape(), axis);
  Array out = uninitialized_array(x.shape());
  const float* xv = x.value().data();
  float* y = out.data();
  for_each_line(
      v, [&](std::size_t at) { softmax_row(xv + at, y + at, v.extent); },
      [&](std::size_t at, std::size_t n) {
        float m[kChunk], s[kChunk];
        column_max_and_exp_sum(xv + at, v, n, m, s);
        for (std::size_t b = 0; b < n; ++b) s[b] = 1.0f / s[b];
        for (std::size_t r = 0; r < v.extent; ++r) {
          const float* p = xv + at + r * v.inner;
          float* q = y + at + r * v.inner;
          for (std::size_t b = 0; b < n; ++b) q[b] = std::exp(p[b] - m[b]) * s[b];
        }
      });
  // dx (+)= y * (dy - sum(dy * y, axis)).
  return tape.record("softmax", {x}, std::move(out), [x, v](const Array& ya, const Array& dya) {
    GradientTarget target(x);
    float* dx = target.data();
    if (!dx) return;
    const bool add = target.add();
    const float* yv = ya.data();
    const float* dy = dya.data();
    for_each_line(
        v,
        [&](std::size_t at) {
          const float d = dot(dy + at, yv + at, v.extent);
          for (std::size_t i = at; i < at + v.extent; ++i) put(dx + i, yv[i] * (dy[i] - d), add);
        },
        [&](std::size_t at, std::size_t n) {
          float d[kChunk] = {};
          for (std::size_t r = 0; r < v.extent; ++r) {
            const std::size_t row = at + r * v.inner;
            for (std::size_t b = 0; b < n; ++b) d[b] += dy[row + b] * yv[row + b];
          }
          for (std::size_t r = 0; r < v.extent; ++r) {
            const std::size_t row = at + r * v.inner;
            for (std::size_t b = 0; b < n; ++b) put(dx + row + b, yv[row + b] * (dy[row + b] - d[b]), add);
          }
        });
    target.commit();
  });
}

Tensor log_softmax(Tape& tape, const Tensor& x, std::int64_t axis) {
  const AxisView v = view_along("log_softmax", x.shape(), axis);
  Array out = uninitialized_array(x.shape());
  const float* xv = x.value().data();
  float* y = out.data();
  for_each_line(
      v, [&](std::size_t at) { log_softmax_row(xv + at, y + at, v.extent); },
      [&](std::size_t at, std::size_t n) {
        float m[kChunk], s[kChunk];
        column_max_and_exp_sum(xv + at, v, n, m, s);
        for (std::size_t b = 0; b < n; ++b) s[b] = std::log(s[b]);
        for (std::size_t r = 0; r < v.extent; ++r) {
          const float* p = xv + at + r * v.inner;
          float* q = y + at + r * v.inner;
          for (std::size_t b = 0; b < n; ++b) q[b] = (p[b] - m[b]) - s[b];
        }
      });
  // dx (+)= dy - exp(y) * sum(dy, axis).
  return tape.record("log_softmax", {x}, std::move(out), [x, v](const Array& ya, const Array& dya) {
    GradientTarget target(x);
    float* dx = target.data();
    if (!dx) return;
    const bool add = target.add();
    const float* yv = ya.data();
    const float* dy = dya.data();
    for_each_line(
        v,
        [&](std::size_t at) {
          const float s = dot(dy + at, nullptr, v.extent);
          for (std::size_t i = at; i < at + v.extent; ++i) put(dx + i, dy[i] - std::exp(yv[i]) * s, add);
        },
        [&](std::size_t at, std::size_t n) {
          float s[kChunk] = {};
          for (std::size_t r = 0; r < v.extent; ++r) {
            for (std::size_t b = 0; b < n; ++b) s[b] += dy[at + r * v.inner + b];
          }
          for (std::size_t r = 0; r < v.extent; ++r) {
            const std::size_t row = at + r * v.inner;
            for (std::size_t b = 0; b < n; ++b) put(dx + row + b, dy[row + b] - std::exp(yv[row + b]) * s[b], add);
          }
        });
    target.commit();
  });
}

}  // namespace xgrad
