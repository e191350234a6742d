// add_broadcast: x (..., T, C) + rows (T, C), the rows added to every leading index, as a
// GPT adds its position embeddings to each sequence of a batch. A named add: it checks its
// own stricter shapes, then runs add's kernels (core/ops/elementwise.cpp), where this case is
// one of the fast paths: dx += dY, and drows[p] += sum_b dY[b, p] with the plane's elements
// split across threads, each summing over b in order.
#include "core/op.hpp"
#include "core/ops.hpp"
#include "core/ops/elementwise.hpp"

namespace xgrad {

// Y[b, t, c] = X[b, t, c] + R[t, c].
Tensor add_broadcast(Tape& tape, const Tensor& x, const Tensor& rows) {
  const Shape xs = x.shape();
  const Shape rs = rows.shape();
  if (rs.size() != 2 || xs.size() < 2 || xs[xs.size() - 2] != rs[0] || xs.back() != rs[1]) {
    throw ShapeError("add_broadcast: rows must be (T, C) for x (..., T, C): x is " +
                     shape_string(xs) + ", rows is " + shape_string(rs));
  }
  return detail::broadcast_add(tape, "add_broadcast", x, rows);
}

}  // namespace xgrad
