// Gradient clipping by the global L2 norm (PyTorch's clip_grad_norm_ with norm_type 2).
// Not per-parameter clipping, and not clipping by value.
#pragma once

#include <vector>

#include "core/tensor.hpp"

namespace xgrad::optim {

// Global L2 norm of all gradients (a row-sparse gradient counted by its stored rows), summed
// in double in a fixed order: parameters in list order, each one's stored values in memory
// order. When it exceeds max_norm, every gradient is scaled by max_norm / (norm + 1e-6)
// (PyTorch's clip_grad_norm_); at or below max_norm nothing changes. Returns the norm
// before clipping, rounded to float. Parameters without a gradient count zero.
// Throws std::invalid_argument for a max_norm that is not finite and > 0. A non-finite
// norm (an inf or NaN in some gradient) is returned and the gradients are left as they are:
// scaling could not repair them, and the caller should skip the step.
float clip_grad_norm(const std::vector<Tensor>& parameters, float max_norm);

}  // namespace xgrad::optim
