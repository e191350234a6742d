// JAX's threefry2x32 PRNG and its float32 samplers, bit-exact with jax.random on an FMA CPU
// (docs/flax_jax_spec.md sections 2-8). Compiled with -ffp-contract=off: fusions are explicit.
#include "core/init/random.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "core/detail/threefry.hpp"
#include "core/errors.hpp"
#include "core/init/xla_math.hpp"

namespace xgrad::random {
namespace {

std::atomic<Layout> g_default_layout{Layout::partitionable};

constexpr std::uint32_t rotl(std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

std::uint32_t high_word(std::uint64_t i) { return static_cast<std::uint32_t>(i >> 32); }
std::uint32_t low_word(std::uint64_t i) { return static_cast<std::uint32_t>(i); }

std::uint32_t partitionable_word(const Key& key, std::uint64_t i) {
  const auto y = threefry2x32(key, high_word(i), low_word(i));
  return y[0] ^ y[1];
}

// The legacy layout hashes the counter pairs (j, j + m) of n words, m = ceil(n / 2); for an
// odd n the last pair's second counter is the zero padding (spec section 6).
std::array<std::uint32_t, 2> legacy_pair(const Key& key, std::uint64_t j, std::uint64_t m, std::uint64_t n) {
  const std::uint64_t partner = j + m;
  return threefry2x32(key, static_cast<std::uint32_t>(j), partner < n ? static_cast<std::uint32_t>(partner) : 0u);
}

// Word i of random_bits(key, shape) for a shape of n words: a function of i and n alone.
std::uint32_t word_at(const Key& key, std::uint64_t i, std::uint64_t n, Layout layout) {
  if (layout == Layout::partitionable) return partitionable_word(key, i);
  const std::uint64_t m = (n + 1) / 2;
  return i < m ? legacy_pair(key, i, m, n)[0] : legacy_pair(key, i - m, m, n)[1];
}

// The product of extents, refusing one that does not fit in 64 bits (the counters' width).
std::uint64_t checked_count(const Shape& extents, const Shape& shape, const char* caller) {
  std::uint64_t n = 1;
  for (std::size_t extent : extents) {
    if (extent != 0 && n > std::numeric_limits<std::uint64_t>::max() / extent) {
      throw std::length_error(std::string(caller) + ": shape " + shape_string(shape) +
                              " has more than 2^64 elements");
    }
    n *= extent;
  }
  return n;
}

// Rows of the words of `shape`, each word computed from its flat index alone.
std::vector<std::uint32_t> bits_of_rows(const Key& key, const Shape& shape, const std::vector<std::size_t>& rows,
                                        Layout layout, const char* caller) {
  if (shape.empty()) throw ShapeError(std::string(caller) + ": a scalar shape () has no rows");
  const std::uint64_t n = detail::word_count(shape, layout, caller);
  const std::uint64_t width = checked_count(Shape(shape.begin() + 1, shape.end()), shape, caller);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] >= shape[0]) {
      throw std::out_of_range(std::string(caller) + ": row " + std::to_string(rows[i]) + " at position " +
                              std::to_string(i) + " is out of range [0, " + std::to_string(shape[0]) + ")");
    }
  }
  if (width != 0 && rows.size() > std::numeric_limits<std::size_t>::max() / sizeof(std::uint32_t) / width) {
    throw std::length_error(std::string(caller) + ": " + std::to_string(rows.size()) + " rows of shape " +
                            shape_string(shape) + " do not fit in memory");
  }
  std::vector<std::uint32_t> bits(rows.size() * width);
  std::uint32_t* out = bits.data();
  for (std::size_t row : rows) {
    const std::uint64_t first = row * width;  // < n, so no overflow
    if (layout == Layout::partitionable) {
      detail::partitionable_words(key, first, static_cast<std::size_t>(width), out);
      out += width;
    } else {
      for (std::uint64_t c = 0; c < width; ++c) *out++ = word_at(key, first + c, n, layout);
    }
  }
  return bits;
}

// jax.random.uniform's last step: fma(f, span, minval) (XLA:CPU fuses it), floored at minval.
float scale_unit(float f, float span, float minval) {
  const float y = std::fmaf(f, span, minval);
  return y < minval ? minval : y;
}

// uniform's values from its words, element by element, so a row's words give the row.
Array uniform_from_bits(const std::vector<std::uint32_t>& bits, const Shape& shape, float minval, float maxval) {
  const float span = maxval - minval;
  Array out = Array::from_shape(shape);
  float* data = out.data();
  for (std::size_t i = 0; i < bits.size(); ++i) {
    data[i] = scale_unit(detail::unit_float(bits[i]), span, minval);
  }
  return out;
}

constexpr float kSqrt2 = 1.41421354f;  // float32(sqrt(2)), 0x3FB504F3

// normal's values from its words, element by element.
Array normal_from_bits(const std::vector<std::uint32_t>& bits, const Shape& shape) {
  // u is an odd multiple of 2^-24 in (-1, 1): never 0, never +-1.
  Array u = uniform_from_bits(bits, shape, std::nextafter(-1.0f, 0.0f), 1.0f);
  for (float& x : u) x = kSqrt2 * xla_math::erf_inv_f32(x);
  return u;
}

}  // namespace

Layout default_layout() { return g_default_layout.load(std::memory_order_relaxed); }

void set_default_layout(Layout layout) { g_default_layout.store(layout, std::memory_order_relaxed); }

const char* layout_name(Layout layout) {
  return layout == Layout::partitionable ? "partitionable" : "legacy";
}

std::array<std::uint32_t, 2> threefry2x32(const Key& key, std::uint32_t x0, std::uint32_t x1) {
  const std::uint32_t ks[3] = {key.hi, key.lo, key.hi ^ key.lo ^ 0x1BD11BDAu};
  static constexpr int kRotations[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};
  x0 += ks[0];
  x1 += ks[1];
  for (std::uint32_t block = 0; block < 5; ++block) {
    for (int r : kRotations[block % 2]) {
      x0 += x1;
      x1 = rotl(x1, r);
      x1 ^= x0;
    }
    x0 += ks[(block + 1) % 3];
    x1 += ks[(block + 2) % 3] + block + 1;
  }
  return {x0, x1};
}

std::vector<std::uint32_t> threefry_2x32(const Key& key, const std::vector<std::uint32_t>& count) {
  const std::size_t n = count.size();
  const std::size_t m = (n + 1) / 2;
  std::vector<std::uint32_t> out(n);
  for (std::size_t j = 0; j < m; ++j) {
    const std::uint32_t x1 = j + m < n ? count[j + m] : 0u;  // odd n: padded with one 0
    const auto y = threefry2x32(key, count[j], x1);
    out[j] = y[0];
    if (j + m < n) out[j + m] = y[1];
  }
  return out;
}

Key prng_key(std::int64_t seed) {
  // x64 off: the int64 is narrowed to int32 (low 32 bits); the high key word is 0.
  return Key{0u, low_word(static_cast<std::uint64_t>(seed))};
}

Key prng_key_x64(std::int64_t seed) {
  const auto bits = static_cast<std::uint64_t>(seed);  // two's complement
  return Key{high_word(bits), low_word(bits)};
}

Key fold_in(const Key& key, std::uint32_t data) {
  const auto y = threefry2x32(key, 0u, data);
  return Key{y[0], y[1]};
}

std::vector<Key> split(const Key& key, std::size_t n, Layout layout) {
  std::vector<Key> keys(n);
  if (layout == Layout::partitionable) {
    for (std::size_t i = 0; i < n; ++i) {
      const auto y = threefry2x32(key, high_word(i), low_word(i));
      keys[i] = Key{y[0], y[1]};
    }
    return keys;
  }
  // Legacy: 2n words hashed from the counters [0, 2n), read as n consecutive pairs.
  std::vector<std::uint32_t> counters(2 * n);
  for (std::size_t i = 0; i < counters.size(); ++i) counters[i] = static_cast<std::uint32_t>(i);
  const std::vector<std::uint32_t> words = threefry_2x32(key, counters);
  for (std::size_t i = 0; i < n; ++i) keys[i] = Key{words[2 * i], words[2 * i + 1]};
  return keys;
}

std::vector<std::uint32_t> random_bits(const Key& key, const Shape& shape, Layout layout) {
  const std::uint64_t n = detail::word_count(shape, layout, "random_bits");
  std::vector<std::uint32_t> bits(n);
  std::uint32_t* out = bits.data();
  detail::draw_words(key, n, layout, [out](std::size_t first, const std::uint32_t* words, std::size_t count) {
    std::copy(words, words + count, out + first);
  });
  return bits;
}

std::vector<std::uint32_t> random_bits_rows(const Key& key, const Shape& shape, const std::vector<std::size_t>& rows,
                                            Layout layout) {
  return bits_of_rows(key, shape, rows, layout, "random_bits_rows");
}

Array uniform(const Key& key, const Shape& shape, float minval, float maxval, Layout layout) {
  const std::uint64_t n = detail::word_count(shape, layout, "uniform");
  const float span = maxval - minval;
  Array out = Array::from_shape(shape);
  float* data = out.data();
  // uniform_from_bits' formula, fused with the draw instead of a second pass over a copy.
  detail::draw_words(key, n, layout, [=](std::size_t first, const std::uint32_t* words, std::size_t count) {
    for (std::size_t k = 0; k < count; ++k) {
      data[first + k] = scale_unit(detail::unit_float(words[k]), span, minval);
    }
  });
  return out;
}

Array normal(const Key& key, const Shape& shape, Layout layout) {
  return normal_from_bits(random_bits(key, shape, layout), shape);
}

Array normal_rows(const Key& key, const Shape& shape, const std::vector<std::size_t>& rows, Layout layout) {
  const std::vector<std::uint32_t> bits = bits_of_rows(key, shape, rows, layout, "normal_rows");
  Shape rows_shape = shape;
  rows_shape[0] = rows.size();
  return normal_from_bits(bits, rows_shape);
}

Array truncated_normal(const Key& key, float lower, float upper, const Shape& shape,
                       Layout layout) {
  // jax.random.truncated_normal: u uniform in [erf(lower/sqrt2), erf(upper/sqrt2)), then
  // sqrt2 * erf_inv(u), clipped into the open interval (lower, upper).
  // How exact: the bounds' erf is XLA's float32 erf (xla_math::erf_f32), which may differ from
  // libm's erff, or from older XLA builds, by an ulp for some inputs. For the initializers'
  // bounds -2 and 2 there is no such doubt: XLA's current erf, Eigen's older one, libm's erff
  // and the correctly rounded erf all give +-0.9544997f (0x3F745A18), and dividing by sqrt2 or
  // multiplying by its float reciprocal gives the same +-1.4142135f. JAX's own docstring
  // example for truncated_normal(5.0) is reproduced bit for bit (tests/test_initializers.cpp).
  const float a = xla_math::erf_f32(lower / kSqrt2);
  const float b = xla_math::erf_f32(upper / kSqrt2);
  const float low_clip = std::nextafter(lower, std::numeric_limits<float>::infinity());
  const float high_clip = std::nextafter(upper, -std::numeric_limits<float>::infinity());
  Array u = uniform(key, shape, a, b, layout);
  for (float& x : u) {
    const float z = kSqrt2 * xla_math::erf_inv_f32(x);
    x = std::fmin(std::fmax(z, low_clip), high_clip);
  }
  return u;
}

namespace detail {
namespace {

// Rotation by a constant, so the shifts compile to immediates.
template <int R>
Words rotl(const Words& x) {
  return (x << R) | (x >> (32 - R));
}

template <int R0, int R1, int R2, int R3>
void four_rounds(Words& x0, Words& x1) {
  x0 += x1; x1 = rotl<R0>(x1); x1 ^= x0;
  x0 += x1; x1 = rotl<R1>(x1); x1 ^= x0;
  x0 += x1; x1 = rotl<R2>(x1); x1 ^= x0;
  x0 += x1; x1 = rotl<R3>(x1); x1 ^= x0;
}

// threefry2x32 on a batch of counter pairs, lane by lane the scalar threefry2x32.
void threefry_lanes(const Key& key, Words& x0, Words& x1) {
  const std::uint32_t ks[3] = {key.hi, key.lo, key.hi ^ key.lo ^ 0x1BD11BDAu};
  x0 += Words(ks[0]);
  x1 += Words(ks[1]);
  for (std::uint32_t block = 0; block < 5; ++block) {
    if (block % 2 == 0) {
      four_rounds<13, 15, 26, 6>(x0, x1);
    } else {
      four_rounds<17, 29, 16, 24>(x0, x1);
    }
    x0 += Words(ks[(block + 1) % 3]);
    x1 += Words(ks[(block + 2) % 3] + block + 1);
  }
}

Words lane_offsets() {
  alignas(64) std::uint32_t lanes[Words::size];
  for (std::size_t k = 0; k < Words::size; ++k) lanes[k] = static_cast<std::uint32_t>(k);
  return Words::load_aligned(lanes);
}

}  // namespace

void partitionable_words(const Key& key, std::uint64_t first, std::size_t count, std::uint32_t* out) {
  constexpr std::size_t kLanes = Words::size;
  const Words lanes = lane_offsets();
  std::size_t k = 0;
  while (k < count) {
    // A run of counters with one high word: it ends where the low word would wrap.
    const std::uint64_t start = first + k;
    const std::uint64_t to_wrap = (std::uint64_t{1} << 32) - low_word(start);
    const std::size_t run_end = k + static_cast<std::size_t>(std::min<std::uint64_t>(count - k, to_wrap));
    const Words hi(high_word(start));
    std::uint32_t lo = low_word(start);
    for (; k + kLanes <= run_end; k += kLanes, lo += kLanes) {
      Words x0 = hi;
      Words x1 = Words(lo) + lanes;
      threefry_lanes(key, x0, x1);
      (x0 ^ x1).store_unaligned(out + k);
    }
    for (; k < run_end; ++k) out[k] = partitionable_word(key, first + k);
  }
}

void legacy_pairs(const Key& key, std::uint64_t n, std::uint64_t first, std::size_t count,
                  std::uint32_t* words, std::uint32_t* partners) {
  constexpr std::size_t kLanes = Words::size;
  const std::uint64_t m = (n + 1) / 2;
  const std::uint64_t with_partner = n - m;  // pairs j < n - m have j + m < n
  const Words lanes = lane_offsets();
  const Words offset(static_cast<std::uint32_t>(m));
  std::size_t k = 0;
  for (; k + kLanes <= count && first + k + kLanes <= with_partner; k += kLanes) {
    Words x0 = Words(static_cast<std::uint32_t>(first + k)) + lanes;
    Words x1 = x0 + offset;
    threefry_lanes(key, x0, x1);
    x0.store_unaligned(words + k);
    x1.store_unaligned(partners + k);
  }
  for (; k < count; ++k) {
    const auto y = legacy_pair(key, first + k, m, n);
    words[k] = y[0];
    partners[k] = y[1];
  }
}

std::uint64_t word_count(const Shape& shape, Layout layout, const char* caller) {
  const std::uint64_t n = checked_count(shape, shape, caller);
  // JAX splits the key into blocks from 2^32 - 1 words on; we do not implement that path.
  if (layout == Layout::legacy && n >= std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error(std::string(caller) + ": the legacy layout supports fewer than 2^32 - 1 words, got " +
                            std::to_string(n));
  }
  return n;
}

}  // namespace detail

}  // namespace xgrad::random
