// xgrad: the engine, layers, optimisers and initializers in one include.
// Flax compatibility (core/flax/flax.hpp) and .npy files (core/io/npy.hpp) have their own.
#pragma once

#include "core/array.hpp"
#include "core/errors.hpp"
#include "core/gradient.hpp"
#include "core/gradient_check.hpp"
#include "core/init/initializers.hpp"
#include "core/init/random.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"
#include "core/row_sparse_grad.hpp"
#include "core/tape.hpp"
#include "core/tensor.hpp"
#include "core/threads.hpp"
#include "core/token_ids.hpp"
#include "layers/embed.hpp"
#include "layers/linear.hpp"
#include "optim/adamw.hpp"
#include "optim/clip.hpp"
#include "optim/optimizer.hpp"
#include "optim/schedule.hpp"
#include "optim/sgd.hpp"
