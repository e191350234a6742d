// The differentiable ops, and the index of their formulas (docs/DESIGN.md has them as one
// table). Each computes its output eagerly and, on a training tape when any input requires
// a gradient, records how to push the output's gradient back (accumulating into the
// inputs). Shapes are checked once, at the start; a mismatch throws ShapeError naming the op,
// the shapes and the axis. Forward and backward of each op sit side by side in core/ops/,
// written in the op API of core/op.hpp, which user code can use to add its own ops.
// Families: gathers and products; binary ops with NumPy broadcasting (core/broadcasting.hpp);
// unary ops; the GPT's fused ops; shapes (core/slice.hpp); reductions over axes and softmax.
// Every op here takes the tape first; core/operators.hpp gives each a tape-less form and
// C++ operators that record on the current TapeScope.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

#include "core/errors.hpp"
#include "core/init/random.hpp"
#include "core/slice.hpp"
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

// x (..., N) + bias (N,), the bias broadcast over every leading index: add under its own
// name, with its stricter shapes (ShapeError otherwise), sharing add's kernels.
// dx += dout, dbias += dout summed over the leading axes (in order of the leading index).
Tensor add_bias(Tape& tape, const Tensor& x, const Tensor& bias);

// ---- Binary elementwise ops, with NumPy's broadcasting ----
// The output's shape is broadcast_shapes(op, a, b) (core/broadcasting.hpp): a ShapeError
// "<op>: shapes (2, 3) and (4,) do not broadcast (axis -1: 3 vs 4)" otherwise. Each formula
// below gives one output element's contribution to each input; an input that was broadcast
// gets its contributions summed back to its own shape, in unbroadcast's order (the same bits
// at any thread count). The float forms take the number as a constant of shape (): `2 * x` is
// mul(tape, 2.0f, x), `10 / f` is div(tape, 10.0f, f). Fast, threaded paths: equal shapes,
// (N,) or (..., 1) against (..., N), and (T, C) against (B, T, C); any other shape takes a
// general strided loop and unbroadcast.

// a + b. da += dout, db += dout.
Tensor add(Tape& tape, const Tensor& a, const Tensor& b);
Tensor add(Tape& tape, const Tensor& a, float b);
Tensor add(Tape& tape, float a, const Tensor& b);

// a - b. da += dout, db += -dout.
Tensor sub(Tape& tape, const Tensor& a, const Tensor& b);
Tensor sub(Tape& tape, const Tensor& a, float b);
Tensor sub(Tape& tape, float a, const Tensor& b);

// a * b. da += dout * b, db += dout * a.
Tensor mul(Tape& tape, const Tensor& a, const Tensor& b);
Tensor mul(Tape& tape, const Tensor& a, float b);
Tensor mul(Tape& tape, float a, const Tensor& b);

// a / b (IEEE: x / 0 is +-inf, 0 / 0 NaN). da += dout / b, db += -dout * ((a / b) / b).
Tensor div(Tape& tape, const Tensor& a, const Tensor& b);
Tensor div(Tape& tape, const Tensor& a, float b);
Tensor div(Tape& tape, float a, const Tensor& b);

// a ^ b, std::pow's values (as NumPy's: a negative a with a non-integer b gives NaN, 0 ^ -1 is
// inf). da += dout * b * a^(b-1), db += dout * log(a) * a^b, with PyTorch 1.13's
// conventions: da = 0 where b == 0 (even at a == 0), db = 0 where a == 0 and b >= 0. Elsewhere
// the formulas stand as they are: at a < 0, db is NaN (log of a negative) and da is finite
// for an integer b; at a == 0, da is b * 0^(b-1) (0 for b > 1, dout for b == 1, inf for
// 0 < b < 1, -inf for b < 0) and db for b < 0 is -inf * dout.
Tensor pow(Tape& tape, const Tensor& a, const Tensor& b);
Tensor pow(Tape& tape, const Tensor& a, float b);
Tensor pow(Tape& tape, float a, const Tensor& b);

// The larger of a and b; NaN if either is NaN (NumPy's maximum). da += dout where a > b,
// db += dout where b > a; on a tie (a == b) each gets dout / 2, as torch.maximum and JAX
// split it. Where either is NaN both get dout (PyTorch 1.13's formula does the same).
Tensor maximum(Tape& tape, const Tensor& a, const Tensor& b);
Tensor maximum(Tape& tape, const Tensor& a, float b);
Tensor maximum(Tape& tape, float a, const Tensor& b);

// The smaller of a and b; NaN if either is NaN. da += dout where a < b, db += dout where
// b < a; a tie gives each dout / 2; a NaN on either side sends dout to both.
Tensor minimum(Tape& tape, const Tensor& a, const Tensor& b);
Tensor minimum(Tape& tape, const Tensor& a, float b);
Tensor minimum(Tape& tape, float a, const Tensor& b);

// ---- Unary elementwise ops (core/ops/unary.cpp), threaded, with the same bits at any
// thread count. exp, log and sigmoid use xsimd's functions, within 2 ULP of libm's. ----

// -x. dx += -dout.
Tensor neg(Tape& tape, const Tensor& x);

// e^x (inf above ~88.7; 0 below ~-87.3, where xsimd's exp gives no denormals).
// dx += dout * e^x, from the output.
Tensor exp(Tape& tape, const Tensor& x);

// Natural log: NaN for x < 0, -inf at 0 (as NumPy). dx += dout / x.
Tensor log(Tape& tape, const Tensor& x);

// Square root: NaN for x < 0. dx += dout / (2 sqrt(x)), from the output (inf * sign(dout)
// at x == 0, as PyTorch).
Tensor sqrt(Tape& tape, const Tensor& x);

// max(x, 0), NaN staying NaN. dx += dout where x > 0, else 0 (relu'(0) = 0, as PyTorch).
Tensor relu(Tape& tape, const Tensor& x);

// 1 / (1 + e^-x), computed from e^-|x| so that neither side overflows: 1 / (1 + e^-|x|) for
// x >= 0, e^-|x| / (1 + e^-|x|) for x < 0: never inf / inf (sigmoid(-100) is 0, as e^-100
// underflows). dx += dout * (1 - y) * y, from the output y, as PyTorch (1 - y loses the
// slope's relative precision for large x, ~e^-x where y rounds to 1).
Tensor sigmoid(Tape& tape, const Tensor& x);

// |x|. dx += dout * sign(x), with sign(0) = 0 (abs'(0) = 0, as PyTorch) and sign(NaN) = 0.
Tensor abs(Tape& tape, const Tensor& x);

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
// dx += dout * (0.5 (1 + t) + 0.5 x (1 - t^2) s (1 + 3 * 0.044715 x^2)). Computed as
// y = x * sigmoid(2u), u = s (x + 0.044715 x^3) (the same function: (1 + tanh u) / 2 =
// sigmoid(2u)), with sigmoid(2u) kept by the forward (one array of x's size, only on a tape
// that will run the backward).
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

// ---- Shape ops: NumPy's reshape, transpose, basic indexing, concatenate/stack/split,
// broadcast_to and take (core/ops/shape.cpp). Each moves elements without arithmetic, so
// the forward values are exact copies; axes may be negative (-1 is the last). ----

// reshape with one extent inferred, as NumPy's x.reshape(2, -1): the -1 extent is
// x.size() / (product of the others); then as reshape above. dx += dout reshaped back.
// Throws ShapeError naming both shapes for two -1s, a -1 the other extents do not divide
// (or that a 0 extent leaves undetermined), any other negative extent, or a count mismatch.
// The braced form takes any integers: reshape(tape, x, {B, -1}).
Tensor reshape(Tape& tape, const Tensor& x, const std::vector<std::int64_t>& shape);
Tensor reshape(Tape& tape, const Tensor& x, std::initializer_list<Extent> shape);

// np.transpose(x, axes): out.shape[i] = x.shape[axes[i]], out[j] = x[j permuted back], i.e.
// output axis i is input axis axes[i]. axes must be a permutation of the axes (negative ones
// allowed). dx += transpose(dout, inverse(axes)), inverse[axes[i]] = i. A swap of the last
// two axes (a 2-D transpose included) is copied in cache-sized tiles. Throws ShapeError
// naming the shape and the axes unless they are a permutation of x's axes.
Tensor transpose(Tape& tape, const Tensor& x, const Axes& axes);
// The same (torch.permute's name).
Tensor permute(Tape& tape, const Tensor& x, const Axes& axes);
// np.transpose(x): the axes reversed (x.T for a 2-D x).
Tensor transpose(Tape& tape, const Tensor& x);

// x[s0, s1, ...], NumPy's basic indexing (see Slice in core/slice.hpp): axis k takes
// specs[k].indices(n_k), i.e. out[.., j, ..] = x[.., start + j * step, ..], and an index
// spec removes its axis; axes past the specs are taken whole. dx (zero where nothing was
// taken) += dout scattered back to the same positions. Throws ShapeError naming the axis,
// index, extent and shape for an index outside [-n, n), and for more specs than axes.
Tensor slice(Tape& tape, const Tensor& x, const std::vector<Slice>& specs);

// np.concatenate(xs, axis): the inputs side by side along axis, in order; every other
// extent must agree. dx_i += dout[.., offset_i : offset_i + n_i, ..]. Throws ShapeError
// naming the inputs' shapes and the axis for differing ranks or extents, and for no inputs.
Tensor concat(Tape& tape, const std::vector<Tensor>& xs, std::int64_t axis = 0);

// np.stack(xs, axis): inputs of one shape joined along a new axis at `axis` of the output
// (-1: a new last axis), out[.., i, ..] = xs[i]. dx_i += dout[.., i, ..]. Throws ShapeError
// naming the shapes and axis for differing shapes, no inputs, or an axis outside
// [-(rank + 1), rank].
Tensor stack(Tape& tape, const std::vector<Tensor>& xs, std::int64_t axis = 0);

// np.split(x, sections, axis): `sections` equal pieces along axis, piece i =
// x[.., i*n/sections : (i+1)*n/sections, ..]. Each piece is its own record (a slice):
// dx[.., piece i's range, ..] += dpiece_i. Throws ShapeError naming the shape and axis
// unless sections >= 1 divides the axis.
std::vector<Tensor> split(Tape& tape, const Tensor& x, std::size_t sections, std::int64_t axis = 0);
// torch.split(x, sizes, axis): pieces of the given extents along axis, in order (a separate
// name, as split(tape, x, {3}) would otherwise mean 3 sections). Throws ShapeError naming
// the sizes, the shape and the axis unless the sizes sum to the axis extent.
std::vector<Tensor> split_sizes(Tape& tape, const Tensor& x, const std::vector<std::size_t>& sizes,
                                std::int64_t axis = 0);

// np.broadcast_to(x, shape): out[j] = x[j with broadcast axes read at 0] (NumPy's rules,
// core/broadcasting.hpp). dx += unbroadcast(dout, x.shape), the sum over the broadcast
// axes. Throws ShapeError naming both shapes and the first axis that does not broadcast.
Tensor broadcast_to(Tape& tape, const Tensor& x, const Shape& shape);

// np.take(x, indices, axis): the axis replaced by the indices' shape,
// out[a.., t.., b..] = x[a.., indices[t..], b..]. Backward scatter-adds,
// dx[a.., indices[t], b..] += dout[a.., t, b..], repeated indices summed in order of t.
// Indices get no gradient. Unlike NumPy, a negative index is refused: TokenIdOutOfRange
// naming the position, the index and the extent, thrown before anything is computed.
Tensor take(Tape& tape, const Tensor& x, const TokenIds& indices, std::int64_t axis);


// ---- Reductions over axes, softmax (a general op layer) ----
// Axes are NumPy's: -1 is the last axis, each axis at most once (else ShapeError naming the
// op, the axes and the shape), in any order. keepdims keeps each reduced axis with extent 1.
// An empty axes list reduces nothing (NumPy's axis=()): y has x's shape (sum and mean copy
// x, max is x, logsumexp is m + log(exp(0)) = x). The all-elements sum(tape, x) and
// mean(tape, x) above are the scalar forms. Sums are accumulated in double, in an order
// fixed by the shape and axes alone (so the bits do not depend on the thread count) and
// rounded to float once; softmax's and log_softmax's sums are in float, in the same way fixed.

// Sum over axes. dx += dy broadcast back over the reduced axes. The sum over no elements is 0.
Tensor sum(Tape& tape, const Tensor& x, const Axes& axes, bool keepdims = false);

// Mean over axes: the sum divided by the count of reduced elements, in double.
// dx += dy / count broadcast back. Throws ShapeError for a mean over no elements.
Tensor mean(Tape& tape, const Tensor& x, const Axes& axes, bool keepdims = false);

// Maximum over axes (a NaN wins, as in NumPy). dx += dy where x equals the maximum; on ties
// the gradient is split evenly among the tied elements, dy / (number tied), as PyTorch's
// amax and JAX's max do (not all to the first, as torch.max(dim) does). Throws ShapeError
// for a maximum over no elements.
Tensor max(Tape& tape, const Tensor& x, const Axes& axes, bool keepdims = false);

// log(sum(exp(x))) over axes, stable: m + log(sum(exp(x - m))) with m the maximum (m = 0
// when it is infinite, so all -inf gives -inf and any +inf gives +inf). The exponentials are
// summed in double. dx += dy * exp(x - y) = dy * softmax(x) over the reduced axes. Over no
// elements: -inf.
Tensor logsumexp(Tape& tape, const Tensor& x, const Axes& axes, bool keepdims = false);

// softmax along one axis, stable: y = exp(x - m) / sum(exp(x - m)), m the maximum along the
// axis. dx += y * (dy - sum(dy * y, axis)). The last axis (contiguous rows) runs row by row
// in SIMD lanes, rows shared among threads; another axis runs over strided columns.
Tensor softmax(Tape& tape, const Tensor& x, std::int64_t axis = -1);

// log_softmax along one axis, stable: y = (x - m) - log(sum(exp(x - m))), finite for finite
// x however negative. dx += dy - exp(y) * sum(dy, axis).
Tensor log_softmax(Tape& tape, const Tensor& x, std::int64_t axis = -1);

}  // namespace xgrad
