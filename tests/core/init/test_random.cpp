// Tests for core/random (JAX's threefry PRNG) and core/xla_math against the public known
// answers in tests/vectors (public.json, and the long normal draws of token_embed_forward.json).
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "core/init/random.hpp"
#include "core/init/xla_math.hpp"
#include "tests/core/init/rows_support.hpp"
#include "tests/known_answers.hpp"

namespace {

using nlohmann::json;
using xgrad::Key;
using xgrad::random::Layout;
namespace random = xgrad::random;
namespace kat = xgrad::test;

std::uint32_t parse_u32(const std::string& text) {
  return static_cast<std::uint32_t>(std::stoull(text, nullptr, 0));  // "0x6b200159" or "42"
}

std::vector<std::uint32_t> words_of(const std::vector<Key>& keys) {
  std::vector<std::uint32_t> words;
  for (const Key& k : keys) {
    words.push_back(k.hi);
    words.push_back(k.lo);
  }
  return words;
}

std::vector<std::uint32_t> expected_words(const json& v) {
  std::vector<std::uint32_t> words;
  for (const json& e : v.at("expected")) words.push_back(parse_u32(e.get<std::string>()));
  return words;
}

xgrad::Shape shape_argument(const json& v) { return v.at("args").at("shape").get<xgrad::Shape>(); }

// Checks every float of a vector under its print rule and reports each mismatch with its ulps.
void check_floats(const json& v, const xgrad::Array& values) {
  const auto& expected = v.at("expected");
  const std::string print = v.at("print");
  REQUIRE(values.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const std::string want = expected[i];
    const float got = values.data()[i];
    INFO(v.at("id").get<std::string>() << " [" << i << "]: expected " << want << " (" << print
         << "), got " << kat::printed(got, print) << ", ~"
         << kat::ulp_distance(got, std::strtof(want.c_str(), nullptr)) << " ulp from the printed value");
    CHECK(kat::prints_as(got, print, want));
  }
}

}  // namespace

TEST_CASE("threefry2x32 reproduces the Random123 known answers", "[core][random]") {
  const auto vectors = kat::public_vectors_of_kind("threefry_2x32");
  REQUIRE(vectors.size() == 3);
  for (const json& v : vectors) {
    INFO(v.at("id").get<std::string>());
    const auto& args = v.at("args");
    const Key key{args.at("key").at(0).get<std::uint32_t>(), args.at("key").at(1).get<std::uint32_t>()};
    const auto x0 = args.at("count").at(0).get<std::uint32_t>();
    const auto x1 = args.at("count").at(1).get<std::uint32_t>();
    const auto want = expected_words(v);
    const auto y = random::threefry2x32(key, x0, x1);
    CHECK(y[0] == want[0]);
    CHECK(y[1] == want[1]);
    // The array helper hashes a 2-element count as the single pair (count[0], count[1]).
    CHECK(random::threefry_2x32(key, {x0, x1}) == want);
  }
}

TEST_CASE("prng_key matches JAX's seeds with x64 off and on", "[core][random]") {
  const auto vectors = kat::public_vectors_of_kind("prng_key");
  REQUIRE(vectors.size() == 17);
  for (const json& v : vectors) {
    INFO(v.at("id").get<std::string>());
    const auto seed = v.at("args").at("seed").get<std::int64_t>();
    const Key key = v.at("args").at("x64").get<bool>() ? random::prng_key_x64(seed) : random::prng_key(seed);
    CHECK(words_of({key}) == expected_words(v));
  }
}

TEST_CASE("prng_key keeps the low 32 bits of seeds outside int32", "[core][random]") {
  // docs/flax_jax_spec.md section 3: with x64 off the int64 seed is narrowed to int32.
  CHECK(random::prng_key(2147483648LL + 99) == Key{0, 2147483747u});
  CHECK(random::prng_key((1LL << 40) + 5) == Key{0, 5});
  CHECK(random::prng_key(-1) == Key{0, 0xFFFFFFFFu});
  CHECK(random::prng_key(std::numeric_limits<std::int64_t>::min()) == Key{0, 0});
  CHECK(random::prng_key(std::numeric_limits<std::int64_t>::max()) == Key{0, 0xFFFFFFFFu});
  CHECK(random::prng_key_x64((1LL << 40) + 5) == Key{256, 5});
}

TEST_CASE("fold_in matches JAX's known keys", "[core][random]") {
  const auto vectors = kat::public_vectors_of_kind("fold_in");
  REQUIRE(vectors.size() == 3);
  for (const json& v : vectors) {
    INFO(v.at("id").get<std::string>());
    const Key key = kat::key_argument(v.at("args").at("key"), Layout::legacy);
    const auto data = v.at("args").at("data").get<std::uint32_t>();
    CHECK(words_of({random::fold_in(key, data)}) == expected_words(v));
  }
}

TEST_CASE("split in the legacy layout matches JAX's known keys", "[core][random]") {
  const auto vectors = kat::public_vectors_of_kind("split");
  REQUIRE(vectors.size() == 4);
  for (const json& v : vectors) {
    INFO(v.at("id").get<std::string>());
    REQUIRE(v.at("mode") == "legacy");
    const Key key = kat::key_argument(v.at("args").at("key"), Layout::legacy);
    const auto n = v.at("args").at("num").get<std::size_t>();
    CHECK(words_of(random::split(key, n, Layout::legacy)) == expected_words(v));
  }
}

TEST_CASE("split in the partitionable layout gives fold_in's keys", "[core][random]") {
  // Spec section 5: partitionable key i is threefry(key, (0, i)) = fold_in(key, i); JAX's
  // fold_in_key0_4 vector gives [2285895361, 433833334] for i = 4.
  const auto keys = random::split(Key{0, 0}, 5, Layout::partitionable);
  CHECK(keys[4] == Key{2285895361u, 433833334u});
  CHECK(keys[0] == Key{1797259609u, 2579123966u});  // fold_in_key0_0
  CHECK(keys[1] == Key{928981903u, 3453687069u});   // fold_in_key0_1
}

TEST_CASE("random_bits in the legacy layout matches JAX, odd lengths included", "[core][random]") {
  const auto vectors = kat::public_vectors_of_kind("bits");
  REQUIRE(vectors.size() == 2);
  for (const json& v : vectors) {
    INFO(v.at("id").get<std::string>());
    const Key key = kat::key_argument(v.at("args").at("key"), Layout::legacy);
    const auto shape = shape_argument(v);
    REQUIRE(xgrad::element_count(shape) % 2 == 1);  // both public cases are odd-length
    CHECK(random::random_bits(key, shape, Layout::legacy) == expected_words(v));
  }
}

TEST_CASE("Legacy random_bits of odd length pairs its middle word with the zero padding",
          "[core][random]") {
  // Spec section 6, the odd-N trap: for N = 3 (m = 2), word 1 is Y0 of the pair (1, 0), not
  // of (1, 3). bits_1701_u32_legacy gives 4200222568 for it.
  const Key key{0, 1701};
  CHECK(random::threefry2x32(key, 1, 0)[0] == 4200222568u);
  CHECK(random::random_bits(key, {3}, Layout::legacy)[1] == 4200222568u);
  CHECK(random::threefry2x32(key, 1, 3)[0] != 4200222568u);
}

TEST_CASE("Partitionable random_bits of odd length matches JAX's uniform vectors", "[core][random]") {
  // Spec section 14 (worked example): bits of fold_in([0,0], 0xBF8B4530) for the (5, 3) table.
  const auto bits = random::random_bits(Key{1428664606u, 3351135085u}, {5, 3}, Layout::partitionable);
  REQUIRE(bits.size() == 15);
  CHECK(bits[0] == 0x87C4D5A5u);
  CHECK(bits[1] == 0x0D964CC3u);
  CHECK(bits[2] == 0x0BC166CCu);
  CHECK(bits[3] == 0xC3112F7Cu);
  const auto legacy = random::random_bits(Key{1428664606u, 3351135085u}, {5, 3}, Layout::legacy);
  CHECK(legacy[0] == 0x4EF5706Eu);
  CHECK(legacy[1] == 0xA10AFC57u);
  CHECK(legacy[2] == 0x3C8EF202u);
  CHECK(legacy[3] == 0x6B5393D5u);
}

TEST_CASE("Legacy random_bits refuses 2^32 - 1 words or more instead of guessing", "[core][random]") {
  CHECK_THROWS_AS(random::random_bits(Key{0, 0}, {65536, 65536}, Layout::legacy), std::length_error);
}

TEST_CASE("uniform matches JAX's printed values in both layouts", "[core][random]") {
  const auto vectors = kat::public_vectors_of_kind("uniform");
  REQUIRE(vectors.size() == 17);
  for (const json& v : vectors) {
    const Layout layout = kat::layout_of_mode(v.at("mode"));
    const auto& args = v.at("args");
    const Key key = kat::key_argument(args.at("key"), layout);
    const auto minval = args.at("minval").get<float>();
    const auto maxval = args.at("maxval").get<float>();
    check_floats(v, random::uniform(key, shape_argument(v), minval, maxval, layout));
  }
}

TEST_CASE("normal matches JAX's printed values", "[core][random]") {
  const auto vectors = kat::public_vectors_of_kind("normal");
  REQUIRE(vectors.size() == 4);
  for (const json& v : vectors) {
    const Layout layout = kat::layout_of_mode(v.at("mode"));
    const Key key = kat::key_argument(v.at("args").at("key"), layout);
    check_floats(v, random::normal(key, shape_argument(v), layout));
  }
}

TEST_CASE("normal reproduces 4096 draws of key 0 bit for bit in both layouts", "[core][random]") {
  const json file = kat::load_vectors("token_embed_forward.json");
  REQUIRE(file.at("normal").size() == 2);
  for (const json& v : file.at("normal")) {
    const Layout layout = v.at("prng") == "legacy" ? Layout::legacy : Layout::partitionable;
    const Key key = random::prng_key(v.at("key_seed").get<std::int64_t>());
    const auto shape = v.at("shape").get<xgrad::Shape>();
    const xgrad::Array z = random::normal(key, shape, layout);
    const auto& expected = v.at("expected_f32_hex");
    REQUIRE(z.size() == expected.size());
    std::size_t mismatches = 0;
    std::ostringstream first;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      const float want = kat::float_from_bits(parse_u32(expected[i]));
      if (kat::float_bits(z.data()[i]) == kat::float_bits(want)) continue;
      if (mismatches++ < 5) first << " [" << i << "] " << kat::ulp_distance(z.data()[i], want) << " ulp";
    }
    INFO(random::layout_name(layout) << ": " << mismatches << " of " << expected.size()
                                     << " differ;" << first.str());
    CHECK(mismatches == 0);
  }
}

TEST_CASE("erf_inv follows the worked example of the spec", "[core][random]") {
  // docs/flax_jax_spec.md section 14 (partitionable): u[0..3] and erf_inv(u[0..3]), printed there
  // as the shortest decimal that reads back as the float32.
  const xgrad::Array u = random::uniform(Key{1428664606u, 3351135085u}, {4},
                                         std::nextafter(-1.0f, 0.0f), 1.0f, Layout::partitionable);
  const char* want_u[] = {"0.060694277", "-0.89385074", "-0.9081604", "0.52396184"};
  const char* want_erf_inv[] = {"0.05384088", "-1.1425049", "-1.1920211", "0.5039473"};
  for (std::size_t i = 0; i < 4; ++i) {
    INFO(i);
    CHECK(kat::prints_as(u.data()[i], "exact32", want_u[i]));
    CHECK(kat::prints_as(xgrad::xla_math::erf_inv_f32(u.data()[i]), "exact32", want_erf_inv[i]));
  }
}

TEST_CASE("XLA's log stays within an ulp of the true log and handles special values",
          "[core][random]") {
  // Spec section 9.2. Where it differs from a correctly rounded logf is pinned down by the
  // 2023-12 legacy Flax vector (tests/test_flax.cpp); here only its contract is checked.
  CHECK(xgrad::xla_math::log_f32(1.0f) == 0.0f);
  CHECK(std::isinf(xgrad::xla_math::log_f32(0.0f)));
  CHECK(std::isnan(xgrad::xla_math::log_f32(-1.0f)));
  for (float y : {0.1f, 0.5f, 0.75f, 2.0f, 3.14159f, 1e-20f, 1e20f}) {
    INFO(y);
    CHECK(kat::ulp_distance(xgrad::xla_math::log_f32(y), static_cast<float>(std::log(double{y}))) <= 1);
  }
}

TEST_CASE("XLA's erf is the correctly rounded erf at the truncated normal's bounds",
          "[core][random]") {
  // truncated_normal(-2, 2) draws between erf(-+2 / sqrt2); those two floats decide every
  // draw, so they are pinned to the correctly rounded value (double erf, rounded once).
  for (float bound : {-2.0f, 2.0f}) {
    const float x = bound / 1.41421354f;
    CHECK(kat::float_bits(xgrad::xla_math::erf_f32(x)) ==
          kat::float_bits(static_cast<float>(std::erf(double{x}))));
  }
  // Elsewhere XLA's rational approximation is near, not exact (2 ulp at most on this grid);
  // beyond 3.8325 it is +-1.
  for (float x = -3.5f; x <= 3.5f; x += 0.125f) {
    INFO(x);
    CHECK(kat::ulp_distance(xgrad::xla_math::erf_f32(x), static_cast<float>(std::erf(double{x}))) <= 2);
  }
  CHECK(xgrad::xla_math::erf_f32(4.0f) == 1.0f);
  CHECK(xgrad::xla_math::erf_f32(-4.0f) == -1.0f);
}

TEST_CASE("The default layout starts partitionable and can be switched process-wide",
          "[core][random]") {
  // Every test that switches the default restores it, so this sees the process's start value.
  CHECK(random::default_layout() == Layout::partitionable);
  kat::DefaultLayoutGuard restore;
  // bits_1701_u32_legacy: [56197195, 4200222568, 961309823] only in the legacy layout.
  const std::vector<std::uint32_t> legacy_bits = {56197195u, 4200222568u, 961309823u};
  CHECK(random::random_bits(Key{0, 1701}, {3}) != legacy_bits);
  random::set_default_layout(Layout::legacy);
  CHECK(random::random_bits(Key{0, 1701}, {3}) == legacy_bits);
  CHECK(random::random_bits(Key{0, 1701}, {3}, Layout::legacy) == legacy_bits);
  CHECK(random::split(Key{0, 0}, 2) == random::split(Key{0, 0}, 2, Layout::legacy));
}

TEST_CASE("random_bits_rows gives the whole draw's words at those rows in both layouts",
          "[core][random]") {
  const Key key{1428664606u, 3351135085u};
  for (const Layout layout : {Layout::partitionable, Layout::legacy}) {
    for (const xgrad::Shape& shape : kat::row_test_shapes()) {
      INFO(random::layout_name(layout) << ", shape " << xgrad::shape_string(shape));
      const std::vector<std::uint32_t> whole = random::random_bits(key, shape, layout);
      const std::vector<std::size_t> rows = kat::edge_rows(shape);
      const std::size_t width = whole.size() / shape[0];
      CHECK(random::random_bits_rows(key, shape, rows, layout) == kat::rows_of(whole.data(), width, rows));
    }
  }
}

TEST_CASE("random_bits_rows counts 64-bit indices in the partitionable layout", "[core][random]") {
  // Spec section 6: word i is y0 ^ y1 of threefry2x32(key, (hi32(i), lo32(i))). The last row
  // of a (2^40, 3) shape starts at i = 3 * 2^40 - 3, beyond 32 bits; no whole draw fits here.
  const Key key{0, 42};
  const std::uint64_t first = 3 * (std::uint64_t{1} << 40) - 3;
  std::vector<std::uint32_t> expected;
  for (std::uint64_t i = first; i < first + 3; ++i) {
    const auto y = random::threefry2x32(key, static_cast<std::uint32_t>(i >> 32), static_cast<std::uint32_t>(i));
    expected.push_back(y[0] ^ y[1]);
  }
  CHECK(random::random_bits_rows(key, {std::size_t{1} << 40, 3}, {(std::size_t{1} << 40) - 1},
                                 Layout::partitionable) == expected);
}

TEST_CASE("normal_rows equals the rows of the whole normal draw bit for bit in both layouts",
          "[core][random]") {
  const Key key{0, 1701};
  for (const Layout layout : {Layout::partitionable, Layout::legacy}) {
    for (const xgrad::Shape& shape : kat::row_test_shapes()) {
      INFO(random::layout_name(layout) << ", shape " << xgrad::shape_string(shape));
      const xgrad::Array whole = random::normal(key, shape, layout);
      const std::vector<std::size_t> rows = kat::edge_rows(shape);
      const std::size_t width = whole.size() / shape[0];
      const xgrad::Array drawn = random::normal_rows(key, shape, rows, layout);
      xgrad::Shape expected_shape = shape;
      expected_shape[0] = rows.size();
      CHECK(xgrad::shape_of(drawn) == expected_shape);
      CHECK(kat::float_words(drawn.data(), drawn.size()) ==
            kat::float_words(kat::rows_of(whole.data(), width, rows).data(), rows.size() * width));
    }
  }
}

TEST_CASE("normal_rows of no rows is empty and uses the default layout unless one is named",
          "[core][random]") {
  kat::DefaultLayoutGuard restore;
  const Key key{0, 7};
  CHECK(random::normal_rows(key, {5, 3}, {}).size() == 0);
  const xgrad::Array legacy = random::normal_rows(key, {5, 3}, {2}, Layout::legacy);
  random::set_default_layout(Layout::legacy);
  CHECK(kat::float_words(random::normal_rows(key, {5, 3}, {2}).data(), 3) == kat::float_words(legacy.data(), 3));
  // The legacy and partitionable rows differ, so the check above can tell the layouts apart.
  CHECK(kat::float_words(random::normal_rows(key, {5, 3}, {2}, Layout::partitionable).data(), 3) !=
        kat::float_words(legacy.data(), 3));
}

TEST_CASE("Rows-only draws reject a row past the shape naming its position, value and extent",
          "[core][random]") {
  const Key key{0, 0};
  CHECK_THROWS_MATCHES(random::random_bits_rows(key, {5, 3}, {0, 4, 5}), std::out_of_range,
                       Catch::Matchers::Message("random_bits_rows: row 5 at position 2 is out of range [0, 5)"));
  CHECK_THROWS_MATCHES(random::normal_rows(key, {5, 3}, {7}, Layout::legacy), std::out_of_range,
                       Catch::Matchers::Message("normal_rows: row 7 at position 0 is out of range [0, 5)"));
  CHECK_THROWS_AS(random::normal_rows(key, {0, 3}, {0}), std::out_of_range);
  CHECK_THROWS_AS(random::normal_rows(key, {}, {0}), xgrad::ShapeError);
}

TEST_CASE("Rows-only draws refuse the shapes whole draws refuse", "[core][random]") {
  const Key key{0, 0};
  // The legacy layout's blocked path (2^32 - 1 words and more) is not implemented.
  CHECK_THROWS_AS(random::normal_rows(key, {65536, 65536}, {0}, Layout::legacy), std::length_error);
  // Counters are 64 bits wide: 2^40 * 2^30 words have no index.
  CHECK_THROWS_AS(random::random_bits_rows(key, {std::size_t{1} << 40, std::size_t{1} << 30}, {0},
                                           Layout::partitionable),
                  std::length_error);
  CHECK_THROWS_AS(random::random_bits(key, {std::size_t{1} << 40, std::size_t{1} << 30}, Layout::partitionable),
                  std::length_error);
}
