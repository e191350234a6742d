// JAX's counter-based PRNG (threefry2x32) in C++, bit-exact with jax.random on CPU:
// keys, split, fold_in, random bits in both JAX layouts, uniform and normal.
// Not a general-purpose RNG library: it exists so xgrad starts from Flax's numbers.
// The algorithms follow docs/flax_jax_spec.md sections 2-10.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/array.hpp"

namespace xgrad::random {

// A JAX PRNG key: the two uint32 words jax.random.key_data(key) returns.
struct Key {
  std::uint32_t hi = 0;
  std::uint32_t lo = 0;
  friend bool operator==(const Key& a, const Key& b) { return a.hi == b.hi && a.lo == b.lo; }
  friend bool operator!=(const Key& a, const Key& b) { return !(a == b); }
};

// How split() and random_bits() lay out threefry counters. JAX >= 0.5 defaults to
// partitionable (jax_threefry_partitionable=True); legacy is the older layout.
enum class Layout { partitionable, legacy };

// The layout used when a call does not name one. Starts as partitionable.
Layout default_layout();
void set_default_layout(Layout layout);

// "partitionable" or "legacy".
const char* layout_name(Layout layout);

// One threefry2x32 block (20 rounds): counter pair (x0, x1) -> (y0, y1) under key.
std::array<std::uint32_t, 2> threefry2x32(const Key& key, std::uint32_t x0, std::uint32_t x1);

// JAX's array helper threefry_2x32(key, count): hashes the pairs (count[j], count[j + m])
// with m = ceil(n / 2) (an odd n pads one 0), returns concat(Y0, Y1) cut back to n words.
std::vector<std::uint32_t> threefry_2x32(const Key& key, const std::vector<std::uint32_t>& count);

// jax.random.PRNGKey(seed) with x64 off: [0, seed mod 2^32].
Key prng_key(std::int64_t seed);

// The same with jax_enable_x64: [high 32 bits, low 32 bits] of the seed's two's complement.
Key prng_key_x64(std::int64_t seed);

// jax.random.fold_in(key, data); the same in both layouts.
Key fold_in(const Key& key, std::uint32_t data);

// jax.random.split(key, n).
std::vector<Key> split(const Key& key, std::size_t n, Layout layout = default_layout());

// jax.random.bits(key, shape, uint32), row-major. The legacy layout throws std::length_error
// from 2^32 - 1 words on (JAX's blocked path there is not implemented), either layout from
// 2^64 words on.
std::vector<std::uint32_t> random_bits(const Key& key, const Shape& shape,
                                       Layout layout = default_layout());

// The words random_bits(key, shape, layout) holds in the given rows (slices along the first
// axis), without drawing the rest: row after row in the order given, repeats allowed, so
// O(rows.size() * row size) time and memory. Bit for bit the same, since in both layouts a
// word depends only on its flat index and the shape's size (docs/flax_jax_spec.md section 6).
// Throws std::out_of_range naming the position and the row for a row >= shape[0],
// ShapeError for a scalar shape, and std::length_error wherever random_bits would.
std::vector<std::uint32_t> random_bits_rows(const Key& key, const Shape& shape,
                                            const std::vector<std::size_t>& rows,
                                            Layout layout = default_layout());

// jax.random.uniform(key, shape, float32, minval, maxval).
Array uniform(const Key& key, const Shape& shape, float minval = 0.0f, float maxval = 1.0f,
              Layout layout = default_layout());

// jax.random.normal(key, shape, float32) as XLA:CPU computes it on an FMA host.
Array normal(const Key& key, const Shape& shape, Layout layout = default_layout());

// The given rows of normal(key, shape, layout), bit for bit, without drawing the rest: shape
// (rows.size(), shape[1], ...), its row i being the whole draw's row rows[i]. For an
// embedding table's rows a lookup needs. Throws as random_bits_rows does.
Array normal_rows(const Key& key, const Shape& shape, const std::vector<std::size_t>& rows,
                  Layout layout = default_layout());

// jax.random.truncated_normal(key, lower, upper, shape, float32): values in (lower, upper).
// Its bounds go through XLA's float32 erf (core/xla_math.hpp), which may differ from libm's
// erff by an ulp; see the comment in random.cpp for how far this is known to be exact.
Array truncated_normal(const Key& key, float lower, float upper, const Shape& shape,
                       Layout layout = default_layout());

}  // namespace xgrad::random

namespace xgrad {
using random::Key;
}
