// Internal to core/ops/: the broadcasting add under another op's name, so that the named
// fused ops (add_bias, add_broadcast) check their own stricter shapes and then run add's
// kernels, forward and backward, rather than copies of them. Not installed, not public.
#pragma once

#include "core/tape.hpp"
#include "core/tensor.hpp"

namespace xgrad::detail {

// add(tape, a, b) recorded as `op` (ShapeErrors name `op` too).
Tensor broadcast_add(Tape& tape, const char* op, const Tensor& a, const Tensor& b);

}  // namespace xgrad::detail
