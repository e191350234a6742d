// Specification of the Embed layer: gather forward, row-sparse backward, the one-hot
// oracle through BLAS, padding, and a table tied between gather and attend.
#include <catch2/catch.hpp>

#include "tests/test_support.hpp"
#include "core/flax/flax.hpp"

using namespace xgrad;
using layers::Embed;
using layers::EmbedOptions;
using testing::bit_equal;
using testing::hashed_init;

namespace {

Embed make_embed(std::size_t vocab, std::size_t width, std::optional<std::int32_t> padding = {}) {
  EmbedOptions options;
  options.init = hashed_init();
  options.padding_idx = padding;
  return Embed(vocab, width, Key{0, 1}, options);
}

// (T, V) rows of zeros with a 1 at each id.
Array one_hot(const TokenIds& ids, std::size_t vocab) {
  Array x = zeros_array({ids.size(), vocab});
  for (std::size_t t = 0; t < ids.size(); ++t) x(t, static_cast<std::size_t>(ids[t])) = 1.0f;
  return x;
}

}  // namespace

TEST_CASE("Embed forward returns the table rows of the ids", "[layers][embed]") {
  EmbedOptions options;
  options.init = [](const Key&, const Shape&) { return Array{{0, 1, 2}, {10, 11, 12}}; };
  const Embed embed(2, 3, Key{}, options);
  Tape tape;
  CHECK((embed(tape, TokenIds{1, 0, 1}).value() == Array{{10, 11, 12}, {0, 1, 2}, {10, 11, 12}}));
}

TEST_CASE("Embed names its parameter and exposes V and D", "[layers][embed]") {
  const Embed embed = make_embed(7, 3);
  CHECK(embed.embedding().name() == "embed.embedding");
  CHECK(embed.num_embeddings() == 7);
  CHECK(embed.features() == 3);
  CHECK(embed.parameters().size() == 1);
}

TEST_CASE("Embed backward sums gradients of repeated ids into a row-sparse gradient",
          "[layers][embed]") {
  const Embed embed = make_embed(10, 2);
  Tape tape;
  const Tensor out = embed(tape, TokenIds{4, 7, 4, 4});
  tape.backward(out, Array{{1, 2}, {3, 4}, {5, 6}, {7, 8}});
  const Gradient& g = embed.embedding().grad();
  REQUIRE(g.kind() == Gradient::Kind::row_sparse);
  CHECK(g.row_sparse().rows() == std::vector<std::int32_t>{4, 7});
  const xt::xtensor<float, 2> expected = {{13, 16}, {3, 4}};
  CHECK((g.row_sparse().values() == expected));
}

TEST_CASE("Embed forward equals one_hot(ids) @ W through BLAS", "[layers][embed]") {
  const Embed embed = make_embed(6, 4);
  const TokenIds ids{5, 0, 3, 0};
  Tape tape;
  const Tensor gathered = embed(tape, ids);
  const Tensor via_blas = matmul(tape, Tensor(one_hot(ids, 6)), embed.embedding());
  CHECK(bit_equal(gathered.value(), via_blas.value()));
}

TEST_CASE("Embed backward equals the gradient of one_hot(ids) @ W through BLAS", "[layers][embed]") {
  const TokenIds ids{5, 0, 3, 0};  // row 0 twice, rows 1, 2, 4 never
  const Array seed = testing::hashed_values({4, 4}, 99);

  const Embed sparse_embed = make_embed(6, 4);
  Tape sparse_tape;
  sparse_tape.backward(sparse_embed(sparse_tape, ids), seed);

  const Embed dense_embed = make_embed(6, 4);
  Tape dense_tape;
  dense_tape.backward(matmul(dense_tape, Tensor(one_hot(ids, 6)), dense_embed.embedding()), seed);

  REQUIRE(dense_embed.embedding().grad().kind() == Gradient::Kind::dense);
  CHECK(bit_equal(sparse_embed.embedding().grad().to_dense(), dense_embed.embedding().grad().dense()));
}

TEST_CASE("Embed padding row is returned but receives no gradient", "[layers][embed]") {
  const Embed embed = make_embed(5, 2, 0);
  Tape tape;
  const Tensor out = embed(tape, TokenIds{1, 0, 1});
  CHECK(out.value()(1, 0) == embed.embedding().value()(0, 0));
  tape.backward(sum(tape, out));
  CHECK(embed.embedding().grad().row_sparse().rows() == std::vector<std::int32_t>{1});
}

TEST_CASE("A table used by gather and attend receives both gradients", "[layers][embed]") {
  const Embed embed = make_embed(5, 3);
  const TokenIds ids{1, 3, 1};
  const TokenIds targets{3, 1, 0};
  const GradientCheckResult result = check_gradients(
      [&](Tape& tape, const std::vector<Tensor>&) {
        return softmax_cross_entropy(tape, embed.attend(tape, embed(tape, ids)), targets);
      },
      {embed.embedding()});
  INFO(result.worst);
  CHECK(result.ok);

  Tape tape;
  tape.backward(softmax_cross_entropy(tape, embed.attend(tape, embed(tape, ids)), targets));
  CHECK(embed.embedding().grad().kind() == Gradient::Kind::dense);
}

TEST_CASE("Embed attend maps (..., D) queries to (..., V) logits", "[layers][embed]") {
  const Embed embed = make_embed(5, 3);
  Tape tape;
  const Tensor logits = embed.attend(tape, Tensor(zeros_array({2, 4, 3})));
  CHECK(logits.shape() == Shape{2, 4, 5});
}

TEST_CASE("Embed with Flax's parameter key starts from Flax's table and looks up what token_embed_forward returns",
          "[layers][embed]") {
  const std::int64_t seed = 7;
  const Embed embed(11, 5, flax::param_key(random::prng_key(seed), {}, 1));
  CHECK(bit_equal(embed.embedding().value(), flax::embed_table(seed, 11, 5)));

  Tape tape;
  const Array rows = embed(tape, TokenIds{3, 10, 0, 3}).value();
  const std::vector<float> expected = flax::token_embed_forward(seed, {3, 10, 0, 3}, 11, 5);
  REQUIRE(rows.size() == expected.size());
  CHECK(std::memcmp(rows.data(), expected.data(), expected.size() * sizeof(float)) == 0);
}

TEST_CASE("Embed from a scope draws its table from the scope's key under <path>.embedding or the path itself",
          "[layers][embed][scope]") {
  const layers::Scope root(random::prng_key(2));
  EmbedOptions options;
  options.init = initializers::normal(1.0f);
  const Embed embed(root.child("tokens"), 6, 3, options);
  options.table_name = "";
  const Embed wte(root.child("wte"), 6, 3, options);
  CHECK(root.names() == std::vector<std::string>{"tokens.embedding", "wte"});
  CHECK(testing::bit_equal(embed.embedding().value(), random::normal(root.child("tokens").key(), {6, 3})));
  CHECK(testing::bit_equal(wte.embedding().value(), random::normal(root.child("wte").key(), {6, 3})));
  CHECK_THROWS_AS(Embed(root.child("wte"), 6, 3, options), std::invalid_argument);  // wte is taken
  CHECK_THROWS_AS(Embed(root.child("bad"), 0, 3, options), std::invalid_argument);
  CHECK(root.count() == 2);
}
