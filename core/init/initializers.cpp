// jax.nn.initializers in C++, with JAX's float32 arithmetic step by step (each eager jnp op
// rounds on its own). Compiled with -ffp-contract=off so no product is fused by accident.
#include "core/init/initializers.hpp"

#include <cmath>
#include <optional>
#include <string>

#include "core/errors.hpp"

namespace xgrad::initializers {
namespace {

using random::Layout;

Layout resolve(MaybeLayout layout) { return layout ? *layout : random::default_layout(); }

// An eager jnp multiply by a float32 scalar: one rounding per element.
Array times(Array values, float factor) {
  for (float& x : values) x = x * factor;
  return values;
}

Array filled(const Shape& shape, float value) {
  Array out = Array::from_shape(shape);
  out.fill(value);
  return out;
}

std::size_t axis_index(int axis, const Shape& shape) {
  const auto rank = static_cast<int>(shape.size());
  const int index = axis < 0 ? axis + rank : axis;
  if (index < 0 || index >= rank) {
    throw ShapeError("variance_scaling: axis " + std::to_string(axis) + " is out of range for shape " +
                     shape_string(shape));
  }
  return static_cast<std::size_t>(index);
}

struct Fans {
  double in;
  double out;
};

// jax _compute_fans in Python float64: receptive = total / in / out, fan = size * receptive.
Fans compute_fans(const Shape& shape, int in_axis, int out_axis) {
  if (shape.size() < 2) {
    throw ShapeError("variance_scaling: needs a weight shape of rank >= 2, got " + shape_string(shape));
  }
  const auto in_size = static_cast<double>(shape[axis_index(in_axis, shape)]);
  const auto out_size = static_cast<double>(shape[axis_index(out_axis, shape)]);
  const auto total = static_cast<double>(element_count(shape));
  if (total == 0.0) {
    // JAX divides by a zero size or a zero fan here (ZeroDivisionError).
    throw ShapeError("variance_scaling: shape " + shape_string(shape) + " has a zero extent");
  }
  const double receptive = total / in_size / out_size;
  return Fans{in_size * receptive, out_size * receptive};
}

double fan_for(FanMode mode, const Fans& fans) {
  switch (mode) {
    case FanMode::fan_in: return fans.in;
    case FanMode::fan_out: return fans.out;
    case FanMode::fan_avg: return (fans.in + fans.out) / 2;
  }
  return fans.in;
}

// variance_scaling's variance: float32(scale / fan), scale widened from float exactly.
float variance_of(float scale, FanMode mode, const Shape& shape, int in_axis, int out_axis) {
  const double fan = fan_for(mode, compute_fans(shape, in_axis, out_axis));
  return static_cast<float>(static_cast<double>(scale) / fan);
}

// Flax's default_embed_init: variance_scaling(1.0, 'fan_in', 'normal', out_axis=0).
constexpr float kEmbedScale = 1.0f;
constexpr FanMode kEmbedFanMode = FanMode::fan_in;
constexpr int kEmbedInAxis = -2;
constexpr int kEmbedOutAxis = 0;

// The stddev of a standard normal truncated to (-2, 2), as jnp.array(.8796..., float32).
const float kTruncatedNormalStddev = static_cast<float>(.87962566103423978);

Array draw_variance_scaled(const Key& key, const Shape& shape, float variance,
                           Distribution distribution, Layout layout) {
  switch (distribution) {
    case Distribution::normal:
      return times(random::normal(key, shape, layout), std::sqrt(variance));
    case Distribution::truncated_normal:
      return times(random::truncated_normal(key, -2.0f, 2.0f, shape, layout),
                   std::sqrt(variance) / kTruncatedNormalStddev);
    case Distribution::uniform:
      return times(random::uniform(key, shape, -1.0f, 1.0f, layout), std::sqrt(3.0f * variance));
  }
  throw std::invalid_argument("variance_scaling: unknown distribution");
}

}  // namespace

Initializer zeros() {
  return [](const Key&, const Shape& shape) { return filled(shape, 0.0f); };
}

Initializer ones() {
  return [](const Key&, const Shape& shape) { return filled(shape, 1.0f); };
}

Initializer normal(float stddev, MaybeLayout layout) {
  return [=](const Key& key, const Shape& shape) {
    return times(random::normal(key, shape, resolve(layout)), stddev);
  };
}

Initializer uniform(float scale, MaybeLayout layout) {
  return [=](const Key& key, const Shape& shape) {
    return times(random::uniform(key, shape, 0.0f, 1.0f, resolve(layout)), scale);
  };
}

Initializer truncated_normal(float stddev, float lower, float upper, MaybeLayout layout) {
  return [=](const Key& key, const Shape& shape) {
    return times(random::truncated_normal(key, lower, upper, shape, resolve(layout)), stddev);
  };
}

Initializer variance_scaling(float scale, FanMode mode, Distribution distribution, int in_axis,
                             int out_axis, MaybeLayout layout) {
  return [=](const Key& key, const Shape& shape) {
    const float variance = variance_of(scale, mode, shape, in_axis, out_axis);
    return draw_variance_scaled(key, shape, variance, distribution, resolve(layout));
  };
}

Initializer lecun_normal(MaybeLayout layout) {
  return variance_scaling(1.0f, FanMode::fan_in, Distribution::truncated_normal, -2, -1, layout);
}

Initializer lecun_uniform(MaybeLayout layout) {
  return variance_scaling(1.0f, FanMode::fan_in, Distribution::uniform, -2, -1, layout);
}

Initializer xavier_uniform(MaybeLayout layout) {
  return variance_scaling(1.0f, FanMode::fan_avg, Distribution::uniform, -2, -1, layout);
}

Initializer xavier_normal(MaybeLayout layout) {
  return variance_scaling(1.0f, FanMode::fan_avg, Distribution::truncated_normal, -2, -1, layout);
}

Initializer he_normal(MaybeLayout layout) {
  return variance_scaling(2.0f, FanMode::fan_in, Distribution::truncated_normal, -2, -1, layout);
}

Initializer he_uniform(MaybeLayout layout) {
  return variance_scaling(2.0f, FanMode::fan_in, Distribution::uniform, -2, -1, layout);
}

Initializer flax_embed_default(MaybeLayout layout) {
  return variance_scaling(kEmbedScale, kEmbedFanMode, Distribution::normal, kEmbedInAxis, kEmbedOutAxis, layout);
}

Array flax_embed_default_rows(const Key& key, const Shape& shape, const std::vector<std::size_t>& rows,
                              MaybeLayout layout) {
  // The fans come from the whole table's shape, as when it is drawn whole.
  const float variance = variance_of(kEmbedScale, kEmbedFanMode, shape, kEmbedInAxis, kEmbedOutAxis);
  return times(random::normal_rows(key, shape, rows, resolve(layout)), std::sqrt(variance));
}

}  // namespace xgrad::initializers
