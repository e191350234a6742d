// The hand-written baseline for the embedding benchmarks: plain loops and memcpy on raw
// float arrays, doing the work xgrad's API exposes (the gathered rows Y, the loss, the
// output gradient dY, a row-sparse gradient of unique rows, the SGD update), with no
// tape, no tensors and no allocation per step. Not a library: bench/ only.
// Shapes: table W (V, D), ids (T,), Y and dY (T, D), gradient values (U, D), U unique ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fork_join.hpp"

namespace bench::baseline {

// The row-sparse gradient of a (V, D) table: unique rows in order of first appearance and
// their summed values. slot_of_row has V entries, -1 when the row is absent; it is reset
// only where touched. Buffers are sized once for T tokens.
struct SparseGrad {
  SparseGrad(std::size_t vocab, std::size_t width, std::size_t max_tokens);
  std::size_t width;
  std::vector<std::int32_t> slot_of_row;
  std::vector<std::int32_t> rows;
  std::vector<std::int32_t> slot_of_token;
  std::vector<float> values;
};

// Y[t, :] = W[ids[t], :]
void gather(const float* table, std::size_t width, const std::int32_t* ids, std::size_t tokens,
            float* out, ForkJoin& threads);

// g[ids[t], :] += dY[t, :] for every t (repeated ids sum; a row's first use copies).
void scatter(SparseGrad& grad, const std::int32_t* ids, std::size_t tokens, const float* dout,
             ForkJoin& threads);

// W[rows[i], :] -= lr * values[i, :]
void apply_sgd(float* table, const SparseGrad& grad, float lr, ForkJoin& threads);

// Forgets every row: O(rows).
void clear(SparseGrad& grad);

// mean(Y^2) over n floats, accumulated in double (16 lanes, then summed in order), as
// xgrad's sum does.
double mean_of_squares(const float* y, std::size_t n);

// dY = 2 / n * Y: the gradient of mean(Y^2).
void mean_of_squares_grad(const float* y, std::size_t n, float* dy, ForkJoin& threads);

// One training step with loss mean(Y^2) and plain SGD; returns the loss.
// y and dy are (T, D) scratch.
double sparse_step(float* table, SparseGrad& grad, const std::int32_t* ids, std::size_t tokens,
                   float lr, float* y, float* dy, ForkJoin& threads);

// The same step computed the way xgrad's two ops mul(Y, Y) and mean compute it: Y^2 is
// written out to `square` and summed from there. A control: it shows how much of xgrad's
// full step is the extra (T, D) array rather than tape or tensor overhead.
double sparse_step_writing_square(float* table, SparseGrad& grad, const std::int32_t* ids,
                                  std::size_t tokens, float lr, float* y, float* square, float* dy,
                                  ForkJoin& threads);

// The same step with a dense (V, D) gradient: zero it, scatter into it, update every row.
double dense_step(float* table, std::size_t vocab, std::size_t width, float* dense_grad,
                  const std::int32_t* ids, std::size_t tokens, float lr, float* y, float* dy,
                  ForkJoin& threads);

}  // namespace bench::baseline
