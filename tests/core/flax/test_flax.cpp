// Tests for core/flax: Flax's parameter-key derivation, nn.Embed's table and lookup, and
// token_embed_forward under both ids policies, against public.json and token_embed_forward.json.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "core/flax/flax.hpp"
#include "core/init/name_hash.hpp"
#include "core/init/initializers.hpp"
#include "tests/core/init/rows_support.hpp"
#include "tests/known_answers.hpp"

namespace {

using nlohmann::json;
using xgrad::Key;
using xgrad::flax::IdsPolicy;
using xgrad::random::Layout;
namespace flax = xgrad::flax;
namespace random = xgrad::random;
namespace kat = xgrad::test;

using kat::public_vectors_of_kind;

void check_numpy8(const std::vector<float>& values, const json& v) {
  const auto expected = v.at("expected").get<std::vector<std::string>>();
  REQUIRE(values.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO(v.at("id").get<std::string>() << " [" << i << "] expected " << expected[i] << ", got "
                                       << kat::numpy_text(values[i], 8));
    CHECK(kat::prints_as(values[i], "numpy8", expected[i]));
  }
}

std::vector<float> as_vector(const xgrad::Array& a) { return std::vector<float>(a.begin(), a.end()); }

std::string error_text(const std::vector<double>& ids, std::size_t vocab_size) {
  try {
    flax::token_embed_forward(0, ids, vocab_size, 3);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("Flax's rng path hash of the counter 1 is the spec's 3213575472", "[core][flax]") {
  // docs/flax_jax_spec.md section 11: SHA1(b'\x01')[:4] = 0xBF8B4530; with flax_fix_rng_separator,
  // SHA1(b'\x00\x01')[:4] = 1059673188.
  CHECK(flax::rng_path_hash({1}) == 3213575472u);
  CHECK(flax::rng_path_hash({1}, flax::RngSeparator::zero_byte) == 1059673188u);
}

TEST_CASE("Flax's rng path hash encodes names as UTF-8 and integers as minimal big-endian bytes",
          "[core][flax]") {
  // No public vectors exist for nested paths. The expected numbers were derived from the
  // spec's rules (section 11.5) with Python's hashlib, an independent SHA-1:
  //   int.from_bytes(hashlib.sha1(b'Embed_0' + b'\x01').digest()[:4], 'big') == 1350435477
  //   ... b'Encoder_0' + b'Embed_0' + b'\x01'                               == 2352019741
  //   ... b'Dense_0' + b'\x02'                                               == 2299943050
  //   ... (256).to_bytes(2, 'big') = b'\x01\x00'                            == 238381989
  //   ... b'' (0 has no bytes)                                               == 3661210606
  CHECK(flax::rng_path_hash({"Embed_0", 1}) == 1350435477u);
  CHECK(flax::rng_path_hash({"Encoder_0", "Embed_0", 1}) == 2352019741u);
  CHECK(flax::rng_path_hash({std::string("Dense_0"), 2}) == 2299943050u);
  CHECK(flax::rng_path_hash({256}) == 238381989u);
  CHECK(flax::rng_path_hash({0}) == 3661210606u);
  CHECK(flax::rng_path_hash({}) == 3661210606u);
  CHECK_THROWS_AS(flax::RngPathItem(-1), std::invalid_argument);
}

TEST_CASE("The top-level Embed's parameter key is fold_in(PRNGKey(seed), 3213575472)", "[core][flax]") {
  // Spec section 14: seed 0 gives [1428664606, 3351135085].
  CHECK(flax::param_key(random::prng_key(0), {}, 1) == Key{1428664606u, 3351135085u});
  for (std::int64_t seed : {1LL, -1LL, 42LL, 2147483747LL}) {
    const Key root = random::prng_key(seed);
    CHECK(flax::param_key(root, {}) == random::fold_in(root, 3213575472u));
  }
}

TEST_CASE("A nested module's parameter key folds in the hash of its scope path", "[core][flax]") {
  // No public vector: built from the hashes derived above. A child Embed_0 of a top-level
  // module, a grandchild, and the second param of a child Dense_0 (its bias).
  const Key root = random::prng_key(0);
  CHECK(flax::param_key(root, {"Embed_0"}, 1) == random::fold_in(root, 1350435477u));
  CHECK(flax::param_key(root, {"Encoder_0", "Embed_0"}, 1) == random::fold_in(root, 2352019741u));
  CHECK(flax::param_key(root, {"Dense_0"}, 2) == random::fold_in(root, 2299943050u));
  CHECK(flax::fold_in_static(root, {}) == root);
}

TEST_CASE("embed_table matches Flax's Embed docstring tables in both layouts", "[core][flax]") {
  const auto vectors = public_vectors_of_kind("flax_embed_table");
  REQUIRE(vectors.size() == 2);
  for (const json& v : vectors) {
    const auto& args = v.at("args");
    const xgrad::Array table = flax::embed_table(args.at("seed").get<std::int64_t>(), args.at("V").get<std::size_t>(),
                                                 args.at("D").get<std::size_t>(), kat::layout_of_mode(v.at("mode")));
    check_numpy8(as_vector(table), v);
  }
}

TEST_CASE("token_embed_forward with the flax policy matches Flax's Embed apply docstring",
          "[core][flax]") {
  const auto vectors = public_vectors_of_kind("flax_embed_apply");
  REQUIRE(vectors.size() == 1);
  const json& v = vectors.front();
  const auto& args = v.at("args");
  std::vector<double> ids;
  for (const json& row : args.at("ids")) {
    for (const json& id : row) ids.push_back(id.get<double>());  // (2, 3) ids, row-major
  }
  const auto out = flax::token_embed_forward(args.at("seed").get<std::int64_t>(), ids, args.at("V").get<std::size_t>(),
                                             args.at("D").get<std::size_t>(), IdsPolicy::flax,
                                             kat::layout_of_mode(v.at("mode")));
  check_numpy8(out, v);
}

TEST_CASE("nnx Embed's table comes from fold_in(key(0), 0) and the same initializer", "[core][flax]") {
  const auto vectors = public_vectors_of_kind("nnx_embed_table");
  REQUIRE(vectors.size() == 1);
  const json& v = vectors.front();
  const Key key = flax::nnx_stream_key(random::prng_key(v.at("args").at("seed").get<std::int64_t>()), 0);
  const auto layout = kat::layout_of_mode(v.at("mode"));
  const xgrad::Array table = xgrad::initializers::flax_embed_default(layout)(
      key, {v.at("args").at("V").get<std::size_t>(), v.at("args").at("D").get<std::size_t>()});
  check_numpy8(as_vector(table), v);
}

TEST_CASE("token_embed_forward reproduces every case of token_embed_forward.json bit for bit",
          "[core][flax]") {
  const json file = kat::load_vectors("token_embed_forward.json");
  const auto& cases = file.at("cases");
  REQUIRE(cases.size() == 18);
  for (const json& c : cases) {
    const auto seed = c.at("seed").get<std::int64_t>();
    const auto vocab = c.at("vocab_size").get<std::size_t>();
    const auto dim = c.at("d_model").get<std::size_t>();
    const Layout layout = kat::layout_of_mode(c.at("prng"));
    const IdsPolicy policy = c.at("ids_policy") == "flax" ? IdsPolicy::flax : IdsPolicy::strict;
    const auto out = flax::token_embed_forward(seed, c.at("token_ids").get<std::vector<double>>(), vocab, dim,
                                               policy, layout);
    const auto& expected = c.at("expected_f32_hex");
    INFO("seed " << seed << ", V " << vocab << ", D " << dim << ", " << c.at("prng").get<std::string>()
                 << ", " << c.at("ids_policy").get<std::string>());
    REQUIRE(out.size() == expected.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
      const auto want = static_cast<std::uint32_t>(std::stoul(expected[i].get<std::string>(), nullptr, 16));
      INFO("[" << i << "] expected " << expected[i].get<std::string>() << ", got " << kat::float_bits(out[i]));
      CHECK(kat::float_bits(out[i]) == want);  // NaN rows included: 0x7fc00000
    }
  }
}

TEST_CASE("token_embed_forward equals a gather from the whole embed_table bit for bit in both layouts",
          "[core][flax]") {
  constexpr std::int64_t kNan = -1;  // an expected NaN row
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const Layout layout : {Layout::partitionable, Layout::legacy}) {
    for (const xgrad::Shape& shape : kat::row_test_shapes()) {
      if (shape.size() != 2) continue;
      const std::size_t vocab = shape[0];
      const std::size_t dim = shape[1];
      INFO(random::layout_name(layout) << ", V " << vocab << ", D " << dim);
      const xgrad::Array table = flax::embed_table(11, vocab, dim, layout);
      std::vector<double> ids;
      std::vector<std::int64_t> rows;
      for (std::size_t row : kat::edge_rows(shape)) {
        ids.push_back(static_cast<double>(row));
        rows.push_back(static_cast<std::int64_t>(row));
      }
      const auto expected = [&](const std::vector<std::int64_t>& want) {
        std::vector<float> out;
        for (std::int64_t row : want) {
          const std::vector<float> values =
              row == kNan ? std::vector<float>(dim, nan)
                          : kat::rows_of(table.data(), dim, {static_cast<std::size_t>(row)});
          out.insert(out.end(), values.begin(), values.end());
        }
        return kat::float_words(out.data(), out.size());
      };
      const auto forward = [&](IdsPolicy policy) {
        const std::vector<float> out = flax::token_embed_forward(11, ids, vocab, dim, policy, layout);
        return kat::float_words(out.data(), out.size());
      };
      CHECK(forward(IdsPolicy::strict) == expected(rows));
      if (vocab == 1) continue;  // V == 1 reads row 0 for any id
      // Spec section 13: -1 wraps to V - 1 and -V to 0; V and -V - 1 read NaN; a NaN id is 0.
      const auto v = static_cast<double>(vocab);
      for (double id : {-1.0, -v, v, -v - 1, std::nan("")}) ids.push_back(id);
      for (std::int64_t row : {static_cast<std::int64_t>(vocab) - 1, std::int64_t{0}, kNan, kNan, std::int64_t{0}}) {
        rows.push_back(row);
      }
      CHECK(forward(IdsPolicy::flax) == expected(rows));
    }
  }
}

TEST_CASE("token_embed_forward at V = 50,000 gives the rows it gives at V = 50 in the partitionable layout",
          "[core][flax]") {
  // Spec sections 6 and 12: a partitionable word depends on its flat index alone and the
  // stddev on D alone, so rows 1, 2, 3 of the (50000, 4096) table are those of the (50, 4096)
  // one. (Drawn whole, the larger table would take 800 MB.)
  const std::vector<double> ids = {1, 2, 3, 3};
  const auto large = flax::token_embed_forward(0, ids, 50000, 4096, IdsPolicy::strict, Layout::partitionable);
  const auto small = flax::token_embed_forward(0, ids, 50, 4096, IdsPolicy::strict, Layout::partitionable);
  REQUIRE(large.size() == 4 * 4096);
  CHECK(kat::float_words(large.data(), large.size()) == kat::float_words(small.data(), small.size()));
  const xgrad::Array table = flax::embed_table(0, 50, 4096, Layout::partitionable);
  CHECK(kat::float_words(large.data(), 4096) == kat::float_words(table.data() + 4096, 4096));
}

TEST_CASE("token_embed_forward uses the default layout unless one is named", "[core][flax]") {
  kat::DefaultLayoutGuard restore;
  const std::vector<double> ids = {0, 2, 1};
  const auto legacy = flax::token_embed_forward(0, ids, 4, 3, IdsPolicy::strict, Layout::legacy);
  const auto partitionable = flax::token_embed_forward(0, ids, 4, 3, IdsPolicy::strict, Layout::partitionable);
  // token_embed_forward.json, seed 0, V 4, D 3: first value 0x3d341056 (partitionable),
  // 0x3ec236e3 (legacy).
  CHECK(kat::float_bits(partitionable[0]) == 0x3d341056u);
  CHECK(kat::float_bits(legacy[0]) == 0x3ec236e3u);
  random::set_default_layout(Layout::legacy);
  CHECK(flax::token_embed_forward(0, ids, 4, 3) == legacy);
  random::set_default_layout(Layout::partitionable);
  CHECK(flax::token_embed_forward(0, ids, 4, 3) == partitionable);
}

TEST_CASE("The strict policy rejects bad ids naming the position, the value and V", "[core][flax]") {
  CHECK(error_text({0, 1, 2, 7}, 5) == "token_embed_forward: token id 7 at position 3 is out of range [0, 5)");
  CHECK(error_text({-1}, 5) == "token_embed_forward: token id -1 at position 0 is out of range [0, 5)");
  CHECK(error_text({0, 5}, 5) == "token_embed_forward: token id 5 at position 1 is out of range [0, 5)");
  CHECK(error_text({2.5}, 5) ==
        "token_embed_forward: token id 2.5 at position 0 is not a finite integer; ids must be whole numbers in [0, 5)");
  CHECK(error_text({1, std::nan("")}, 5) ==
        "token_embed_forward: token id nan at position 1 is not a finite integer; ids must be whole numbers in [0, 5)");
  CHECK(error_text({-std::numeric_limits<double>::infinity()}, 5) ==
        "token_embed_forward: token id -inf at position 0 is not a finite integer; ids must be whole numbers in [0, 5)");
  CHECK(error_text({3e9}, 5) ==
        "token_embed_forward: token id 3e+09 at position 0 does not fit in int32; ids must be whole numbers in [0, 5)");
  CHECK_THROWS_AS(flax::token_embed_forward(0, {7}, 5, 3), xgrad::TokenIdOutOfRange);
  CHECK_THROWS_AS(flax::token_embed_forward(0, {-1}, 5, 3), xgrad::TokenIdOutOfRange);
  CHECK_THROWS_AS(flax::token_embed_forward(0, {2.5}, 5, 3), xgrad::InvalidTokenId);
  CHECK_THROWS_AS(flax::token_embed_forward(0, {std::nan("")}, 5, 3), xgrad::InvalidTokenId);
  CHECK_THROWS_AS(flax::token_embed_forward(0, {std::numeric_limits<double>::infinity()}, 5, 3),
                  xgrad::InvalidTokenId);
  CHECK_THROWS_AS(flax::token_embed_forward(0, {4.9999999}, 5, 3), xgrad::InvalidTokenId);
  // The exception types are the standard ones callers may already catch.
  CHECK_THROWS_AS(flax::token_embed_forward(0, {7}, 5, 3), std::out_of_range);
  CHECK_THROWS_AS(flax::token_embed_forward(0, {2.5}, 5, 3), std::invalid_argument);
}

TEST_CASE("The strict policy prints a rejected id as the shortest decimal that reads back as it",
          "[core][flax]") {
  // 0.1 + 0.2 is the double 0.30000000000000004, which "0.3" would not read back as; 2.7 is
  // printed as written, not as 2.7000000000000002.
  CHECK(error_text({0.1 + 0.2}, 5) == "token_embed_forward: token id 0.30000000000000004 at position 0 is not a "
                                      "finite integer; ids must be whole numbers in [0, 5)");
  CHECK(error_text({0, 2.7}, 5) ==
        "token_embed_forward: token id 2.7 at position 1 is not a finite integer; ids must be whole numbers in [0, 5)");
}

TEST_CASE("The flax policy casts ids as jnp.asarray(...).astype(int32) and take(mode='fill') do",
          "[core][flax]") {
  // Spec section 13: float32 rounding first, then truncation toward zero, NaN -> 0,
  // saturation; negative ids wrap once; what is still out of range is a NaN row (-1 here).
  const auto rows = [](std::vector<double> ids, std::size_t vocab) {
    return flax::embedding_rows(ids, vocab, IdsPolicy::flax);
  };
  CHECK(rows({-1, -5, -6, 5, std::nan("")}, 5) == std::vector<std::int64_t>{4, 0, -1, -1, 0});
  CHECK(rows({1.9, -0.5, -1.5}, 5) == std::vector<std::int64_t>{1, 0, 4});
  CHECK(rows({4.9999999}, 5) == std::vector<std::int64_t>{-1});  // rounds to 5.0f first
  CHECK(rows({4.9999999}, 6) == std::vector<std::int64_t>{5});
  CHECK(rows({16777217.0}, 16777218) == std::vector<std::int64_t>{16777216});
  CHECK(rows({1e30, -1e30, std::numeric_limits<double>::infinity()}, 5) ==
        std::vector<std::int64_t>{-1, -1, -1});
  CHECK(rows({-2147483648.0}, 2147483647) == std::vector<std::int64_t>{-1});
  // V == 1 broadcasts row 0 for any id.
  CHECK(rows({7, -3, std::nan("")}, 1) == std::vector<std::int64_t>{0, 0, 0});
}

TEST_CASE("token_embed_forward returns NaN rows only under the flax policy", "[core][flax]") {
  const auto out = flax::token_embed_forward(3, {0, 9}, 6, 2, IdsPolicy::flax, Layout::legacy);
  REQUIRE(out.size() == 4);
  CHECK_FALSE(std::isnan(out[0]));
  CHECK(kat::float_bits(out[2]) == 0x7fc00000u);
  CHECK(kat::float_bits(out[3]) == 0x7fc00000u);
  CHECK_THROWS_AS(flax::token_embed_forward(3, {0, 9}, 6, 2, IdsPolicy::strict), xgrad::TokenIdOutOfRange);
}

TEST_CASE("token_embed_forward of no ids is empty and of an empty table is an error", "[core][flax]") {
  CHECK(flax::token_embed_forward(0, {}, 5, 3).empty());
  CHECK(flax::token_embed_forward(0, {}, 5, 3, IdsPolicy::flax).empty());
  CHECK_THROWS_AS(flax::token_embed_forward(0, {0}, 0, 3), xgrad::ShapeError);
  CHECK_THROWS_AS(flax::token_embed_forward(0, {0}, 5, 0), xgrad::ShapeError);
}

TEST_CASE("The core name hash equals Flax's path hash of the one name", "[core][flax][name_hash]") {
  // Two independent SHA-1s: core/init's own and nettle's behind rng_path_hash. Names around
  // the 55- and 64-byte padding boundaries, UTF-8 and the empty name included.
  std::vector<std::string> names{"", "attn", "qkv", "h0", "h11", "ln_f", "wte", "Dense_0", "\xc3\xa9t\xc3\xa9"};
  for (std::size_t length : {54u, 55u, 56u, 63u, 64u, 65u, 119u, 120u}) names.push_back(std::string(length, 'x'));
  for (const std::string& name : names) {
    INFO(name.size() << " bytes");
    CHECK(random::name_hash(name) == flax::rng_path_hash({name}));
    CHECK(random::fold_in_name(random::prng_key(1), name) == flax::fold_in_static(random::prng_key(1), {name}));
  }
}
