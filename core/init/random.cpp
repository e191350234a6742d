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
  detail::draw_words(key, n, layout, [out](std::size_t first, const std::uint32_t* words, std::size_t n_words) {
    std::copy(words, words + n_words, out + first);
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

// The words of a block are hashed in groups of kGroup batches: one batch's rounds form a
// chain of dependent instructions, and several independent chains keep the vector units
// busy. Everything is inlined so the batches stay in registers.
constexpr std::size_t kGroup = 4;

template <int R, std::size_t K>
[[gnu::always_inline]] inline void rounds_step(Words (&x0)[K], Words (&x1)[K]) {
  for (std::size_t k = 0; k < K; ++k) {
    x0[k] += x1[k];
    x1[k] = (x1[k] << R) | (x1[k] >> (32 - R));
    x1[k] ^= x0[k];
  }
}

template <int R0, int R1, int R2, int R3, std::size_t K>
[[gnu::always_inline]] inline void four_rounds(Words (&x0)[K], Words (&x1)[K], std::uint32_t inject0,
                                               std::uint32_t inject1) {
  rounds_step<R0>(x0, x1);
  rounds_step<R1>(x0, x1);
  rounds_step<R2>(x0, x1);
  rounds_step<R3>(x0, x1);
  const Words i0(inject0), i1(inject1);
  for (std::size_t k = 0; k < K; ++k) {
    x0[k] += i0;
    x1[k] += i1;
  }
}

// threefry2x32 on K batches of counter pairs, lane by lane the scalar threefry2x32: the
// same rounds, with its loop over the five blocks written out (block b injects
// ks[(b + 1) % 3] and ks[(b + 2) % 3] + b + 1).
template <std::size_t K>
[[gnu::always_inline]] inline void threefry_lanes(const Key& key, Words (&x0)[K], Words (&x1)[K]) {
  const std::uint32_t ks0 = key.hi, ks1 = key.lo, ks2 = key.hi ^ key.lo ^ 0x1BD11BDAu;
  const Words k0(ks0), k1(ks1);
  for (std::size_t k = 0; k < K; ++k) {
    x0[k] += k0;
    x1[k] += k1;
  }
  four_rounds<13, 15, 26, 6>(x0, x1, ks1, ks2 + 1);
  four_rounds<17, 29, 16, 24>(x0, x1, ks2, ks0 + 2);
  four_rounds<13, 15, 26, 6>(x0, x1, ks0, ks1 + 3);
  four_rounds<17, 29, 16, 24>(x0, x1, ks1, ks2 + 4);
  four_rounds<13, 15, 26, 6>(x0, x1, ks2, ks0 + 5);
}

Words lane_offsets() {
  alignas(64) std::uint32_t lanes[Words::size];
  for (std::size_t k = 0; k < Words::size; ++k) lanes[k] = static_cast<std::uint32_t>(k);
  return Words::load_aligned(lanes);
}

// Partitionable words [k, k + K * lanes) of out, counters (hi, lo + 0, 1, ...) with no wrap.
template <std::size_t K>
[[gnu::always_inline]] inline void partitionable_group(const Key& key, const Words& hi, std::uint32_t lo,
                                                       const Words& lanes, std::uint32_t* out) {
  Words x0[K], x1[K];
  for (std::size_t k = 0; k < K; ++k) {
    x0[k] = hi;
    x1[k] = Words(lo + static_cast<std::uint32_t>(k * Words::size)) + lanes;
  }
  threefry_lanes(key, x0, x1);
  for (std::size_t k = 0; k < K; ++k) (x0[k] ^ x1[k]).store_unaligned(out + k * Words::size);
}

// Legacy pairs [j, j + K * lanes), all with a partner: y0 to words, y1 to partners.
template <std::size_t K>
[[gnu::always_inline]] inline void legacy_group(const Key& key, std::uint32_t j, const Words& m,
                                                const Words& lanes, std::uint32_t* words, std::uint32_t* partners) {
  Words x0[K], x1[K];
  for (std::size_t k = 0; k < K; ++k) {
    x0[k] = Words(j + static_cast<std::uint32_t>(k * Words::size)) + lanes;
    x1[k] = x0[k] + m;
  }
  threefry_lanes(key, x0, x1);
  for (std::size_t k = 0; k < K; ++k) {
    x0[k].store_unaligned(words + k * Words::size);
    x1[k].store_unaligned(partners + k * Words::size);
  }
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
    for (; k + kGroup * kLanes <= run_end; k += kGroup * kLanes, lo += kGroup * kLanes) {
      partitionable_group<kGroup>(key, hi, lo, lanes, out + k);
    }
    for (; k + kLanes <= run_end; k += kLanes, lo += kLanes) partitionable_group<1>(key, hi, lo, lanes, out + k);
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
  // Counters fit in 32 bits: the legacy layout has fewer than 2^32 - 1 words.
  std::size_t k = 0;
  for (; k + kGroup * kLanes <= count && first + k + kGroup * kLanes <= with_partner; k += kGroup * kLanes) {
    legacy_group<kGroup>(key, static_cast<std::uint32_t>(first + k), offset, lanes, words + k, partners + k);
  }
  for (; k + kLanes <= count && first + k + kLanes <= with_partner; k += kLanes) {
    legacy_group<1>(key, static_cast<std::uint32_t>(first + k), offset, lanes, words + k, partners + k);
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
