// Operators and tape-less op forms: sugar over the explicit op(tape, ...) forms of
// core/ops.hpp, recording on the current TapeScope's tape (core/tape_scope.hpp):
//
//   Tape tape;
//   TapeScope scope(tape);
//   const Tensor loss = mean(pow(matmul(x, w) + b - y, 2));
//
// Outside every scope they compute constants, and refuse (std::logic_error) an input that
// requires a gradient, whose gradient would otherwise be lost. Each is one line: the
// formulas, shapes and errors are those of the op of the same name in core/ops.hpp.
// Compound assignment rebinds the handle (a += b is a = a + b, a new tensor), as Python's
// does for immutable values: it never changes a value other tensors may share.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

#include "core/ops.hpp"
#include "core/tape_scope.hpp"

namespace xgrad {

// ---- Products and the embedding gather ----
inline Tensor matmul(const Tensor& x, const Tensor& w) { return matmul(tape_for("matmul", {&x, &w}), x, w); }
inline Tensor matmul_transposed(const Tensor& x, const Tensor& w) {
  return matmul_transposed(tape_for("matmul_transposed", {&x, &w}), x, w);
}
inline Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  return linear(tape_for("linear", {&x, &w, &b}), x, w, b);
}
inline Tensor embedding_lookup(const Tensor& table, const TokenIds& ids,
                               std::optional<std::int32_t> padding_idx = std::nullopt) {
  return embedding_lookup(tape_for("embedding_lookup", {&table}), table, ids, padding_idx);
}

// ---- Binary ops, NumPy broadcasting, a float on either side ----
inline Tensor add(const Tensor& a, const Tensor& b) { return add(tape_for("add", {&a, &b}), a, b); }
inline Tensor add(const Tensor& a, float b) { return add(tape_for("add", {&a}), a, b); }
inline Tensor add(float a, const Tensor& b) { return add(tape_for("add", {&b}), a, b); }
inline Tensor sub(const Tensor& a, const Tensor& b) { return sub(tape_for("sub", {&a, &b}), a, b); }
inline Tensor sub(const Tensor& a, float b) { return sub(tape_for("sub", {&a}), a, b); }
inline Tensor sub(float a, const Tensor& b) { return sub(tape_for("sub", {&b}), a, b); }
inline Tensor mul(const Tensor& a, const Tensor& b) { return mul(tape_for("mul", {&a, &b}), a, b); }
inline Tensor mul(const Tensor& a, float b) { return mul(tape_for("mul", {&a}), a, b); }
inline Tensor mul(float a, const Tensor& b) { return mul(tape_for("mul", {&b}), a, b); }
inline Tensor div(const Tensor& a, const Tensor& b) { return div(tape_for("div", {&a, &b}), a, b); }
inline Tensor div(const Tensor& a, float b) { return div(tape_for("div", {&a}), a, b); }
inline Tensor div(float a, const Tensor& b) { return div(tape_for("div", {&b}), a, b); }
inline Tensor pow(const Tensor& a, const Tensor& b) { return pow(tape_for("pow", {&a, &b}), a, b); }
inline Tensor pow(const Tensor& a, float b) { return pow(tape_for("pow", {&a}), a, b); }
inline Tensor pow(float a, const Tensor& b) { return pow(tape_for("pow", {&b}), a, b); }
inline Tensor maximum(const Tensor& a, const Tensor& b) { return maximum(tape_for("maximum", {&a, &b}), a, b); }
inline Tensor maximum(const Tensor& a, float b) { return maximum(tape_for("maximum", {&a}), a, b); }
inline Tensor maximum(float a, const Tensor& b) { return maximum(tape_for("maximum", {&b}), a, b); }
inline Tensor minimum(const Tensor& a, const Tensor& b) { return minimum(tape_for("minimum", {&a, &b}), a, b); }
inline Tensor minimum(const Tensor& a, float b) { return minimum(tape_for("minimum", {&a}), a, b); }
inline Tensor minimum(float a, const Tensor& b) { return minimum(tape_for("minimum", {&b}), a, b); }

// ---- Unary ops ----
inline Tensor neg(const Tensor& x) { return neg(tape_for("neg", {&x}), x); }
inline Tensor exp(const Tensor& x) { return exp(tape_for("exp", {&x}), x); }
inline Tensor log(const Tensor& x) { return log(tape_for("log", {&x}), x); }
inline Tensor sqrt(const Tensor& x) { return sqrt(tape_for("sqrt", {&x}), x); }
inline Tensor relu(const Tensor& x) { return relu(tape_for("relu", {&x}), x); }
inline Tensor sigmoid(const Tensor& x) { return sigmoid(tape_for("sigmoid", {&x}), x); }
inline Tensor abs(const Tensor& x) { return abs(tape_for("abs", {&x}), x); }
inline Tensor tanh(const Tensor& x) { return tanh(tape_for("tanh", {&x}), x); }
inline Tensor gelu(const Tensor& x) { return gelu(tape_for("gelu", {&x}), x); }
inline Tensor dropout(const Tensor& x, float rate, const random::Key& key) {
  return dropout(tape_for("dropout", {&x}), x, rate, key);
}

// ---- Reductions, softmax, losses ----
inline Tensor sum(const Tensor& x) { return sum(tape_for("sum", {&x}), x); }
inline Tensor mean(const Tensor& x) { return mean(tape_for("mean", {&x}), x); }
inline Tensor mean_square(const Tensor& x) { return mean_square(tape_for("mean_square", {&x}), x); }
inline Tensor sum(const Tensor& x, const Axes& axes, bool keepdims = false) {
  return sum(tape_for("sum", {&x}), x, axes, keepdims);
}
inline Tensor mean(const Tensor& x, const Axes& axes, bool keepdims = false) {
  return mean(tape_for("mean", {&x}), x, axes, keepdims);
}
inline Tensor max(const Tensor& x, const Axes& axes, bool keepdims = false) {
  return max(tape_for("max", {&x}), x, axes, keepdims);
}
inline Tensor logsumexp(const Tensor& x, const Axes& axes, bool keepdims = false) {
  return logsumexp(tape_for("logsumexp", {&x}), x, axes, keepdims);
}
inline Tensor softmax(const Tensor& x, std::int64_t axis = -1) { return softmax(tape_for("softmax", {&x}), x, axis); }
inline Tensor log_softmax(const Tensor& x, std::int64_t axis = -1) {
  return log_softmax(tape_for("log_softmax", {&x}), x, axis);
}
inline Tensor softmax_cross_entropy(const Tensor& logits, const TokenIds& targets,
                                    std::optional<std::int32_t> ignore_index = std::nullopt) {
  return softmax_cross_entropy(tape_for("softmax_cross_entropy", {&logits}), logits, targets, ignore_index);
}
inline Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps = 1e-5f) {
  return layer_norm(tape_for("layer_norm", {&x, &weight, &bias}), x, weight, bias, eps);
}

// ---- Shapes ----
inline Tensor reshape(const Tensor& x, const Shape& shape) { return reshape(tape_for("reshape", {&x}), x, shape); }
inline Tensor reshape(const Tensor& x, const std::vector<std::int64_t>& shape) {
  return reshape(tape_for("reshape", {&x}), x, shape);
}
inline Tensor reshape(const Tensor& x, std::initializer_list<Extent> shape) {
  return reshape(tape_for("reshape", {&x}), x, shape);
}
inline Tensor transpose(const Tensor& x, const Axes& axes) { return transpose(tape_for("transpose", {&x}), x, axes); }
inline Tensor permute(const Tensor& x, const Axes& axes) { return permute(tape_for("permute", {&x}), x, axes); }
inline Tensor transpose(const Tensor& x) { return transpose(tape_for("transpose", {&x}), x); }
inline Tensor slice(const Tensor& x, const std::vector<Slice>& specs) { return slice(tape_for("slice", {&x}), x, specs); }
inline Tensor concat(const std::vector<Tensor>& xs, std::int64_t axis = 0) {
  return concat(tape_for("concat", xs), xs, axis);
}
inline Tensor stack(const std::vector<Tensor>& xs, std::int64_t axis = 0) {
  return stack(tape_for("stack", xs), xs, axis);
}
inline std::vector<Tensor> split(const Tensor& x, std::size_t sections, std::int64_t axis = 0) {
  return split(tape_for("split", {&x}), x, sections, axis);
}
inline std::vector<Tensor> split_sizes(const Tensor& x, const std::vector<std::size_t>& sizes,
                                       std::int64_t axis = 0) {
  return split_sizes(tape_for("split_sizes", {&x}), x, sizes, axis);
}
inline Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  return broadcast_to(tape_for("broadcast_to", {&x}), x, shape);
}
inline Tensor take(const Tensor& x, const TokenIds& indices, std::int64_t axis) {
  return take(tape_for("take", {&x}), x, indices, axis);
}

// ---- Operators ----
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator+(const Tensor& a, float b) { return add(a, b); }
inline Tensor operator+(float a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator-(const Tensor& a, float b) { return sub(a, b); }
inline Tensor operator-(float a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator*(const Tensor& a, float b) { return mul(a, b); }
inline Tensor operator*(float a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator/(const Tensor& a, float b) { return div(a, b); }
inline Tensor operator/(float a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }

inline Tensor& operator+=(Tensor& a, const Tensor& b) { return a = a + b; }
inline Tensor& operator+=(Tensor& a, float b) { return a = a + b; }
inline Tensor& operator-=(Tensor& a, const Tensor& b) { return a = a - b; }
inline Tensor& operator-=(Tensor& a, float b) { return a = a - b; }
inline Tensor& operator*=(Tensor& a, const Tensor& b) { return a = a * b; }
inline Tensor& operator*=(Tensor& a, float b) { return a = a * b; }
inline Tensor& operator/=(Tensor& a, const Tensor& b) { return a = a / b; }
inline Tensor& operator/=(Tensor& a, float b) { return a = a / b; }

}  // namespace xgrad
