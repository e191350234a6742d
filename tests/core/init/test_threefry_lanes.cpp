// The vectorised threefry2x32 (core/detail/threefry.hpp) against the scalar reference
// random::threefry2x32, word for word: counters crossing 2^32, sizes that are no multiple
// of the lane count, both layouts, and the same words at 1 and 2 threads.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/detail/parallel.hpp"
#include "core/detail/threefry.hpp"
#include "core/init/random.hpp"
#include "core/threads.hpp"

namespace {

using xgrad::Key;
using xgrad::random::Layout;
namespace random = xgrad::random;
namespace detail = xgrad::random::detail;

const std::vector<Key> kKeys = {random::prng_key(0), random::prng_key(42), Key{0xFFFFFFFFu, 0xFFFFFFFFu},
                                Key{0x9E3779B9u, 0x7F4A7C15u}};
const std::vector<std::size_t> kSizes = {0, 1, 7, 8, 9, 15, 16, 17, 31, 100, 257, 1001};

// Word i of the partitionable layout, from the scalar reference alone.
std::uint32_t reference_word(const Key& key, std::uint64_t i) {
  const auto y = random::threefry2x32(key, static_cast<std::uint32_t>(i >> 32), static_cast<std::uint32_t>(i));
  return y[0] ^ y[1];
}

// All n words of the legacy layout, from the scalar reference alone (spec section 6).
std::vector<std::uint32_t> reference_legacy(const Key& key, std::uint64_t n) {
  const std::uint64_t m = (n + 1) / 2;
  std::vector<std::uint32_t> words(n);
  for (std::uint64_t j = 0; j < m; ++j) {
    const auto y = random::threefry2x32(key, static_cast<std::uint32_t>(j),
                                        j + m < n ? static_cast<std::uint32_t>(j + m) : 0u);
    words[j] = y[0];
    if (j + m < n) words[j + m] = y[1];
  }
  return words;
}

}  // namespace

TEST_CASE("Vectorised partitionable words equal the scalar threefry2x32 at any offset and length",
          "[core][random][simd]") {
  const std::vector<std::uint64_t> firsts = {0,
                                             3,
                                             (std::uint64_t{1} << 32) - 5,     // crosses 2^32 inside a batch
                                             (std::uint64_t{1} << 32) - 16,    // crosses it at a batch boundary
                                             (std::uint64_t{1} << 32) + 1,
                                             (std::uint64_t{3} << 32) - 999,
                                             ~std::uint64_t{0} - 1200};        // the last counters
  for (const Key& key : kKeys) {
    for (std::uint64_t first : firsts) {
      for (std::size_t count : kSizes) {
        std::vector<std::uint32_t> words(count + 1, 0xDEADBEEFu);
        detail::partitionable_words(key, first, count, words.data());
        std::size_t wrong = 0;
        for (std::size_t k = 0; k < count; ++k) wrong += words[k] != reference_word(key, first + k);
        INFO("key (" << key.hi << ", " << key.lo << "), first " << first << ", count " << count);
        CHECK(wrong == 0);
        CHECK(words[count] == 0xDEADBEEFu);  // nothing written past the end
      }
    }
  }
}

TEST_CASE("Vectorised legacy pairs equal the scalar threefry2x32 for odd and even lengths",
          "[core][random][simd]") {
  for (const Key& key : kKeys) {
    for (std::size_t n : kSizes) {
      const std::vector<std::uint32_t> expected = reference_legacy(key, n);
      const std::uint64_t m = (n + 1) / 2;
      // From pair 0 and from pair 3 on, so a vector loop starts off the lane grid too.
      for (std::uint64_t first : {std::uint64_t{0}, std::uint64_t{3}}) {
        if (first > m) continue;
        const std::size_t count = static_cast<std::size_t>(m - first);
        std::vector<std::uint32_t> words(count), partners(count);
        detail::legacy_pairs(key, n, first, count, words.data(), partners.data());
        std::size_t wrong = 0;
        for (std::size_t k = 0; k < count; ++k) {
          const std::uint64_t j = first + k;
          wrong += words[k] != expected[j];
          if (j + m < n) wrong += partners[k] != expected[j + m];
        }
        INFO("key (" << key.hi << ", " << key.lo << "), n " << n << ", first pair " << first);
        CHECK(wrong == 0);
      }
    }
  }
}

TEST_CASE("random_bits equals the scalar reference word for word in both layouts, split across threads",
          "[core][random][simd][threads]") {
  const Key key = random::prng_key(2024);
  const std::uint64_t n = 3 * 65536 + 5;  // large enough to be split, no multiple of the lane count
  xgrad::set_num_threads(2);
  const std::size_t regions_before = xgrad::parallel_regions_run();
  const std::vector<std::uint32_t> partitionable = random::random_bits(key, {n}, Layout::partitionable);
  const std::vector<std::uint32_t> legacy = random::random_bits(key, {n}, Layout::legacy);
  const std::size_t regions = xgrad::parallel_regions_run() - regions_before;
  xgrad::set_num_threads(1);
  CHECK(regions >= 2);
  const std::vector<std::uint32_t> expected_legacy = reference_legacy(key, n);
  std::size_t wrong = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    wrong += partitionable[i] != reference_word(key, i);
    wrong += legacy[i] != expected_legacy[i];
  }
  CHECK(wrong == 0);
}

TEST_CASE("random_bits, uniform and normal give the same bits at 1 and 2 threads", "[core][random][simd][threads]") {
  const Key key = random::prng_key(77);
  const xgrad::Shape shape = {301, 439};  // odd, and large enough to be split
  for (Layout layout : {Layout::partitionable, Layout::legacy}) {
    INFO(random::layout_name(layout));
    xgrad::set_num_threads(1);
    const std::vector<std::uint32_t> bits_one = random::random_bits(key, shape, layout);
    const xgrad::Array uniform_one = random::uniform(key, shape, -0.5f, 3.0f, layout);
    const xgrad::Array normal_one = random::normal(key, shape, layout);
    xgrad::set_num_threads(2);
    const std::size_t regions_before = xgrad::parallel_regions_run();
    const std::vector<std::uint32_t> bits_two = random::random_bits(key, shape, layout);
    const xgrad::Array uniform_two = random::uniform(key, shape, -0.5f, 3.0f, layout);
    const xgrad::Array normal_two = random::normal(key, shape, layout);
    const std::size_t regions = xgrad::parallel_regions_run() - regions_before;
    xgrad::set_num_threads(1);
    CHECK(regions >= 3);
    CHECK(bits_one == bits_two);
    std::size_t differing = 0;
    for (std::size_t i = 0; i < uniform_one.size(); ++i) {
      // Compared as bit patterns: equal floats with different bits would count too.
      differing += std::memcmp(&uniform_one.data()[i], &uniform_two.data()[i], sizeof(float)) != 0;
      differing += std::memcmp(&normal_one.data()[i], &normal_two.data()[i], sizeof(float)) != 0;
    }
    CHECK(differing == 0);
  }
}

TEST_CASE("uniform equals its formula applied to random_bits' words", "[core][random][simd]") {
  const Key key = random::prng_key(5);
  const xgrad::Shape shape = {129, 1031};
  for (Layout layout : {Layout::partitionable, Layout::legacy}) {
    INFO(random::layout_name(layout));
    const std::vector<std::uint32_t> bits = random::random_bits(key, shape, layout);
    const xgrad::Array u = random::uniform(key, shape, 0.0f, 1.0f, layout);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < bits.size(); ++i) {
      // [1, 2) from the top 23 bits, minus 1 (spec section 7), computed here from scratch.
      const std::uint32_t one_to_two = (bits[i] >> 9) | 0x3F800000u;
      float f;
      std::memcpy(&f, &one_to_two, sizeof f);
      wrong += u.data()[i] != f - 1.0f;
    }
    CHECK(wrong == 0);
  }
}
