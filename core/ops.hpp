// The differentiable ops, and the index of their formulas. Each computes its output
// eagerly and, on a training tape when any input requires a gradient, records how to push
// the output's gradient back (accumulating into the inputs). Shapes are checked once, at
// the start; a mismatch throws ShapeError naming the op and both shapes. Forward and
// backward of each op sit side by side in core/ops/, written in the op API of
// core/op.hpp, which user code can use to add its own ops.
#pragma once

#include <cstdint>
#include <optional>

#include "core/errors.hpp"
#include "core/tape.hpp"
#include "core/tensor.hpp"
#include "core/token_ids.hpp"

namespace xgrad {

// Gather: table (V, D), ids (...) -> (..., D), out[t] = table[ids[t]].
// Backward: dtable[ids[t], :] += dout[t, :], a row-sparse gradient; repeated ids sum;
// tokens equal to padding_idx send no gradient. Ids get no gradient. Throws
// TokenIdOutOfRange naming the table, the position and the id before computing anything.
Tensor embedding_lookup(Tape& tape, const Tensor& table, const TokenIds& ids,
                        std::optional<std::int32_t> padding_idx = std::nullopt);

// x (..., K) @ w (K, N) -> (..., N), through BLAS sgemm.
// dx += dout @ w^T, dw += x^T @ dout (leading axes flattened into rows).
Tensor matmul(Tape& tape, const Tensor& x, const Tensor& w);

// x (..., K) @ w (N, K)^T -> (..., N): a product with the rows of w, as Embed::attend uses.
// dx += dout @ w, dw += dout^T @ x.
Tensor matmul_transposed(Tape& tape, const Tensor& x, const Tensor& w);

// x (..., N) + bias (N,), the bias broadcast over every leading index.
// dx += dout, dbias += dout summed over the leading axes.
Tensor add_bias(Tape& tape, const Tensor& x, const Tensor& bias);

// a + b, same shapes. da += dout, db += dout.
Tensor add(Tape& tape, const Tensor& a, const Tensor& b);

// a * b elementwise, same shapes. da += dout * b, db += dout * a.
Tensor mul(Tape& tape, const Tensor& a, const Tensor& b);

// tanh(x) elementwise. dx += dout * (1 - tanh(x)^2).
Tensor tanh(Tape& tape, const Tensor& x);

// Sum of all elements -> scalar (shape ()). dx += dout (broadcast).
Tensor sum(Tape& tape, const Tensor& x);

// Mean of all elements -> scalar. dx += dout / size.
Tensor mean(Tape& tape, const Tensor& x);

// Mean of the squares of all elements -> scalar, in one pass (no x^2 array), summed in
// double. dx += dout * 2 x / size.
Tensor mean_square(Tape& tape, const Tensor& x);

// Same data, new shape with the same element count. dx += dout reshaped back.
Tensor reshape(Tape& tape, const Tensor& x, const Shape& shape);

// Mean over tokens of -log softmax(logits)[target]: logits (..., V), targets (...) with
// ids in [0, V) -> scalar. Numerically stable (log-sum-exp with the row maximum).
// dlogits[t, v] += dout / T * (softmax(logits[t])[v] - [v == target[t]]), computed in
// backward from each row's maximum and exp-sum kept by the forward pass.
Tensor softmax_cross_entropy(Tape& tape, const Tensor& logits, const TokenIds& targets);

}  // namespace xgrad
