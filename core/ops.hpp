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
#include "core/init/random.hpp"
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

// NumPy's matmul, through BLAS sgemm. w a matrix: x (..., K) @ w (K, N) -> (..., N), one
// product with x's leading axes flattened into rows; dx += dout @ w^T, dw += x^T @ dout.
// w with batch axes: x (..., M, K) @ w (..., K, N) -> (..., M, N), the batch axes (all but the
// last two) broadcast by NumPy's rules, e.g. (B, H, T, d) @ (B, H, d, T), (K, N) @ (B, N, M),
// (B, 1, M, K) @ (H, K, N) -> (B, H, M, N); per output matrix p, dx[p] += dout[p] @ w[p]^T and
// dw[p] += x[p]^T @ dout[p], an operand's matrix used by several p summing their terms in
// increasing p (one sgemm each, beta = 1), so the bits do not depend on the thread count.
// 1-D operands are promoted as NumPy does: x (K,) is the row (1, K), w (K,) the column (K, 1),
// and that axis is dropped from the output ((K,) @ (K,) -> a scalar). Throws ShapeError naming
// the op and both shapes when the inner dimensions differ, the batch axes do not broadcast, or
// an operand is 0-D or empty.
Tensor matmul(Tape& tape, const Tensor& x, const Tensor& w);

// x (..., K) @ w (N, K)^T -> (..., N): a product with the rows of w, as Embed::attend uses.
// dx += dout @ w, dw += dout^T @ x. w with batch axes: x (..., M, K) @ w (..., N, K)^T ->
// (..., M, N) (q @ k^T), batch axes broadcast as in matmul; dx[p] += dout[p] @ w[p],
// dw[p] += dout[p]^T @ x[p]. x may be 1-D as in matmul; w must have at least two axes.
Tensor matmul_transposed(Tape& tape, const Tensor& x, const Tensor& w);

// x (..., K) @ w (K, N) + b (N,) -> (..., N), one op: b is written into every row and sgemm
// adds the product to it (beta = 1). dx += dout @ w^T, dw += x^T @ dout, db += dout summed
// over the leading axes (in order of the leading index). Equal to matmul then add_bias up to
// the last bits (the bias may join a partial sum of the product; see core/ops/matmul.cpp).
Tensor linear(Tape& tape, const Tensor& x, const Tensor& w, const Tensor& b);

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
// ignore_index, as PyTorch's: a token whose target equals it adds no loss, T counts only
// the other tokens, and its logits' gradient row is zero. It may lie outside [0, V) (e.g.
// PyTorch's default -100). With every token ignored the loss is NaN (0 / 0, as PyTorch 1.13
// gives) and the gradient is zero. Throws TokenIdOutOfRange for any other id outside [0, V).
Tensor softmax_cross_entropy(Tape& tape, const Tensor& logits, const TokenIds& targets,
                             std::optional<std::int32_t> ignore_index = std::nullopt);

// ---- What a GPT needs (examples/next_token --model transformer) ----

// x (..., T, C) + rows (T, C): rows broadcast over the leading axes, as position
// embeddings are added to every sequence of a batch.
// dx += dout, drows += dout summed over the leading axes (in order of the leading index).
Tensor add_broadcast(Tape& tape, const Tensor& x, const Tensor& rows);

// Layer normalisation over the last axis: x (..., C), weight (C,), bias (C,) ->
// y = (x - mean) * rstd * weight + bias, with mean and the biased variance of each row and
// rstd = 1 / sqrt(var + eps). The forward pass keeps mean and rstd per row (O(rows)) for the
// backward: with xhat = (x - mean) * rstd and g = dout * weight,
// dx += rstd * (g - mean(g) - xhat * mean(g * xhat)), dweight += sum(dout * xhat),
// dbias += sum(dout) (sums over rows, per fixed block of 32 rows, then the blocks in order).
// Throws std::invalid_argument unless eps is finite and >= 0.
Tensor layer_norm(Tape& tape, const Tensor& x, const Tensor& weight, const Tensor& bias,
                  float eps = 1e-5f);

// GPT-2's gelu, the tanh approximation: y = x/2 * (1 + tanh(s (x + 0.044715 x^3))),
// s = sqrt(2/pi). With t = tanh(s (x + 0.044715 x^3)):
// dx += dout * (0.5 (1 + t) + 0.5 x (1 - t^2) s (1 + 3 * 0.044715 x^2)), with t kept by
// the forward (one array of x's size, only on a tape that will run the backward).
Tensor gelu(Tape& tape, const Tensor& x);

// Causal multi-head self-attention, one op: qkv (B, T, 3C) holds q, k, v side by side on the
// last axis (q = [..., 0:C], k = [..., C:2C], v = [..., 2C:3C]), each split into `heads`
// heads of C/heads features (head h = features [h*C/H, (h+1)*C/H)). For each batch b and
// head h: A = softmax(q k^T / sqrt(C/H)) over the positions s <= t (a stable softmax, the
// row maximum subtracted), out[b, t, head h] = sum_s A[t, s] v[s]. Output (B, T, C), heads
// concatenated as they were laid out. The forward keeps A (B, H, T, T) for the backward:
// dv = A^T dout, dA = dout v^T, dS = A * (dA - rowsum(dA * A)) / sqrt(C/H), dq = dS k,
// dk = dS^T q. Only the causal triangle is computed (in blocks of positions). Throws ShapeError
// unless qkv is 3-D and non-empty, its last axis is 3C, heads >= 1 and heads divides C.
Tensor causal_self_attention(Tape& tape, const Tensor& qkv, std::size_t heads);

// The same with dropout on the attention weights (nanoGPT's y = dropout(softmax(att)) @ v),
// Flax's semantics as the dropout op: M = uniform(key, (B, H, T, T)) < keep, keep = 1 - rate,
// drawn for the whole array so an element's mask depends on its index only;
// W = M ? A / keep : 0, out = W v. Backward: dv = W^T dout, dA = M ? (dout v^T) / keep : 0,
// then dS = A * (dA - rowsum(dA * A)) / sqrt(C/H) with the undropped A, dq = dS k,
// dk = dS^T q. Keeps A and M (one bool per element). rate 0 or an inference tape: exactly
// the op above. Throws std::invalid_argument unless 0 <= rate < 1, then as the op above.
Tensor causal_self_attention(Tape& tape, const Tensor& qkv, std::size_t heads,
                             float attention_dropout, const random::Key& key);

// Inverted dropout: y = mask ? x / (1 - rate) : 0 (a select: a dropped inf or NaN gives 0),
// mask[i] = uniform(key, x.shape)[i] < 1 - rate (Flax's nn.Dropout: jax.random.bernoulli,
// so a seeded run repeats bit for bit and drops what the Flax twin drops). dx += mask ? dout / (1 - rate) : 0, from the mask the forward kept (one
// byte per element). rate 0 or an inference tape: y is x itself (no copy, nothing
// recorded). Throws std::invalid_argument unless 0 <= rate < 1, before anything else.
Tensor dropout(Tape& tape, const Tensor& x, float rate, const random::Key& key);

}  // namespace xgrad
