// add_broadcast: x (..., T, C) + rows (T, C), the rows added to every leading index, as a
// GPT adds its position embeddings to each sequence of a batch. Not general broadcasting.
// Shapes: x flattened to (B, T, C) with B the product of the leading axes; P = T * C.
#include "core/detail/parallel.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"

namespace xgrad {

// Y[b, t, c] = X[b, t, c] + R[t, c].
Tensor add_broadcast(Tape& tape, const Tensor& x, const Tensor& rows) {
  const Shape xs = x.shape();
  const Shape rs = rows.shape();
  if (rs.size() != 2 || xs.size() < 2 || xs[xs.size() - 2] != rs[0] || xs.back() != rs[1]) {
    throw ShapeError("add_broadcast: rows must be (T, C) for x (..., T, C): x is " +
                     shape_string(xs) + ", rows is " + shape_string(rs));
  }
  const std::size_t width = rs[1];
  const std::size_t plane = rs[0] * width;
  const std::size_t copies = plane ? x.size() / plane : 0;
  Array out = uninitialized_array(xs);
  const float* xv = x.value().data();
  const float* r = rows.value().data();
  float* y = out.data();
  // One task per (b, t) row of C elements: no index arithmetic inside the inner loop.
  parallel::for_range(copies * rs[0], x.size(), [&](std::size_t first, std::size_t last) {
    for (std::size_t row = first; row < last; ++row) {
      const float* x_row = xv + row * width;
      const float* r_row = r + (row % rs[0]) * width;
      float* y_row = y + row * width;
      for (std::size_t c = 0; c < width; ++c) y_row[c] = x_row[c] + r_row[c];
    }
  });

  // dX += dY and dR[p] += sum_b dY[b, p] in one pass over dY: the plane's elements are split
  // across threads, each element summing over b in order, so any thread count gives the
  // same bits.
  auto backward = [x, rows, copies, plane](const Array&, const Array& dy) {
    GradientTarget dx_target(x);
    float* dx = dx_target.data();
    const bool add = dx_target.add();
    Array drows = rows.requires_grad() ? uninitialized_array(rows.shape())
                                       : Array::from_shape(Array::shape_type{0});
    float* sums = rows.requires_grad() ? drows.data() : nullptr;
    const float* d = dy.data();
    parallel::for_range(plane, copies * plane, [&](std::size_t first, std::size_t last) {
      for (std::size_t b = 0; b < copies; ++b) {
        const float* d_row = d + b * plane;
        if (dx) {
          float* dx_row = dx + b * plane;
          if (add) {
            for (std::size_t p = first; p < last; ++p) dx_row[p] += d_row[p];
          } else {
            for (std::size_t p = first; p < last; ++p) dx_row[p] = d_row[p];
          }
        }
        if (!sums) continue;
        if (b == 0) {
          for (std::size_t p = first; p < last; ++p) sums[p] = d_row[p];
        } else {
          for (std::size_t p = first; p < last; ++p) sums[p] += d_row[p];
        }
      }
      if (sums && copies == 0) {
        for (std::size_t p = first; p < last; ++p) sums[p] = 0.0f;
      }
    });
    dx_target.commit();
    if (sums) rows.mutable_grad().add(std::move(drows));
  };
  return tape.record("add_broadcast", {x, rows}, std::move(out), std::move(backward));
}

}  // namespace xgrad
