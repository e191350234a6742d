// Operators and tape-less op forms: sugar over the explicit op(tape, ...) forms of
// core/ops.hpp, recording on the current TapeScope's tape (core/tape_scope.hpp). Outside
// every scope they compute constants, and refuse (std::logic_error) an input that requires
// a gradient, whose gradient would otherwise be lost. Each is one line: the formulas are
// those of the op of the same name in core/ops.hpp.
#pragma once

#include "core/ops.hpp"
#include "core/tape_scope.hpp"

namespace xgrad {

inline Tensor add(const Tensor& a, const Tensor& b) { return add(tape_for("add", {&a, &b}), a, b); }
inline Tensor mul(const Tensor& a, const Tensor& b) { return mul(tape_for("mul", {&a, &b}), a, b); }
inline Tensor matmul(const Tensor& a, const Tensor& b) {
  return matmul(tape_for("matmul", {&a, &b}), a, b);
}
inline Tensor tanh(const Tensor& x) { return tanh(tape_for("tanh", {&x}), x); }
inline Tensor gelu(const Tensor& x) { return gelu(tape_for("gelu", {&x}), x); }
inline Tensor sum(const Tensor& x) { return sum(tape_for("sum", {&x}), x); }
inline Tensor mean(const Tensor& x) { return mean(tape_for("mean", {&x}), x); }

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }

}  // namespace xgrad
