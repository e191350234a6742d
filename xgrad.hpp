// xgrad: everything a user needs, in one include.
#pragma once

#include "core/array.hpp"
#include "core/errors.hpp"
#include "core/gradient.hpp"
#include "core/gradient_check.hpp"
#include "core/flax.hpp"
#include "core/initializers.hpp"
#include "core/npy.hpp"
#include "core/ops.hpp"
#include "core/random.hpp"
#include "core/row_sparse_grad.hpp"
#include "core/tape.hpp"
#include "core/tensor.hpp"
#include "core/token_ids.hpp"
#include "layers/embed.hpp"
#include "layers/linear.hpp"
#include "optim/sgd.hpp"
