// Parameter initializers as jax.nn.initializers / Flax define them: each takes a PRNG
// key and a shape and returns a float32 array, so layers never pick their own randomness.
// Bit-exact with JAX on an FMA CPU (the arithmetic of jax/_src/nn/initializers.py, step
// by step). Not an optimiser or a layer: nothing here owns parameters.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "core/array.hpp"
#include "core/init/random.hpp"

namespace xgrad {

// Makes a parameter's initial value from its key and shape.
using Initializer = std::function<Array(const Key& key, const Shape& shape)>;

namespace initializers {

// Every initializer that draws random numbers takes an optional Layout. Without one it reads
// random::default_layout() each time it runs (as JAX reads its config flag when the op
// runs); with one it always uses that layout.
using MaybeLayout = std::optional<random::Layout>;

Initializer zeros();
Initializer ones();

// jax.nn.initializers.normal(stddev): N(0, stddev^2), i.e. random::normal(key, shape) * stddev.
Initializer normal(float stddev = 1e-2f, MaybeLayout layout = std::nullopt);

// jax.nn.initializers.uniform(scale): U[0, scale), i.e. random::uniform(key, shape) * scale.
Initializer uniform(float scale = 1e-2f, MaybeLayout layout = std::nullopt);

// jax.nn.initializers.truncated_normal(stddev, lower, upper):
// random::truncated_normal(key, lower, upper, shape) * stddev (no variance correction).
Initializer truncated_normal(float stddev = 1e-2f, float lower = -2.0f, float upper = 2.0f,
                             MaybeLayout layout = std::nullopt);

enum class FanMode { fan_in, fan_out, fan_avg };
enum class Distribution { normal, truncated_normal, uniform };

// jax.nn.initializers.variance_scaling(scale, mode, distribution, in_axis, out_axis).
// The fans are computed in double as JAX does; variance = float32(scale / fan), where scale
// is widened from float exactly (so 0.1f is not Python's 0.1; 1 and 2 are exact).
//   normal:           normal(key, shape) * sqrt(variance)
//   truncated_normal: truncated_normal(key, -2, 2, shape) * (sqrt(variance) / 0.87962566)
//   uniform:          uniform(key, shape, -1, 1) * sqrt(3 * variance)
// Throws ShapeError for a shape of rank < 2, a zero extent, or an axis out of range.
Initializer variance_scaling(float scale, FanMode mode, Distribution distribution,
                             int in_axis = -2, int out_axis = -1, MaybeLayout layout = std::nullopt);

// variance_scaling(1, fan_in, truncated_normal): Flax nn.Dense's kernel init.
Initializer lecun_normal(MaybeLayout layout = std::nullopt);

// variance_scaling(1, fan_in, uniform).
Initializer lecun_uniform(MaybeLayout layout = std::nullopt);

// variance_scaling(1, fan_avg, uniform).
Initializer xavier_uniform(MaybeLayout layout = std::nullopt);

// variance_scaling(1, fan_avg, truncated_normal) (jax's glorot_normal).
Initializer xavier_normal(MaybeLayout layout = std::nullopt);

// variance_scaling(2, fan_in, truncated_normal) and variance_scaling(2, fan_in, uniform).
Initializer he_normal(MaybeLayout layout = std::nullopt);
Initializer he_uniform(MaybeLayout layout = std::nullopt);

// Flax nn.Embed's default: variance_scaling(1, fan_in, normal, out_axis=0), i.e. N(0, 1/D).
Initializer flax_embed_default(MaybeLayout layout = std::nullopt);

// The given rows of flax_embed_default(layout)(key, shape), bit for bit, without drawing the
// rest: shape (rows.size(), D), row i being the table's row rows[i] (repeats allowed). So a
// lookup of T ids costs O(T * D), not O(V * D). Throws as variance_scaling and
// random::normal_rows do.
Array flax_embed_default_rows(const Key& key, const Shape& shape, const std::vector<std::size_t>& rows,
                              MaybeLayout layout = std::nullopt);

}  // namespace initializers
}  // namespace xgrad
