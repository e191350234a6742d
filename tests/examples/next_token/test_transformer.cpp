// Specification of next_token's toy GPT (examples/next_token/transformer.hpp): the whole
// model's gradients against finite differences, sparse token-table gradients, causality,
// initialisation per seed, dropout only where it belongs. (The PyTorch cross-check of the
// same tiny model is tests/python/test_transformer_torch.py.)
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <set>

#include "core/detail/parallel.hpp"
#include "tests/test_support.hpp"
#include "transformer.hpp"

using namespace xgrad;
using next_token::Transformer;
using next_token::TransformerConfig;

namespace {

TransformerConfig tiny(float dropout = 0.0f, float attention_dropout = 0.0f) {
  TransformerConfig c;
  c.vocab = 11;
  c.context = 5;
  c.layers = 2;
  c.heads = 2;
  c.embed_dim = 8;
  c.dropout = dropout;
  c.attention_dropout = attention_dropout;
  return c;
}

// (2, 5): repeated ids, and rows 4, 6, 8 and 10 never used.
TokenIds tiny_ids() { return TokenIds({1, 3, 3, 7, 0, 5, 1, 9, 3, 2}, {2, 5}); }
TokenIds tiny_targets() { return TokenIds({3, 3, 7, 0, 2, 1, 9, 3, 2, 2}, {2, 5}); }

// Values of order 1 instead of GPT-2's 0.02, so finite differences see every path.
void scramble(const Transformer& model) {
  std::uint32_t salt = 21;
  for (const Tensor& p : model.tensors()) p.mutable_value() = testing::hashed_values(p.shape(), salt++) * 0.5f;
}

bool bit_equal_rows(const Array& a, const Array& b, std::size_t first_row, std::size_t rows, std::size_t width) {
  return std::memcmp(a.data() + first_row * width, b.data() + first_row * width, rows * width * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("Transformer maps ids (B, T) to logits (B, T, V) with GPT-2's parameters",
          "[next_token][transformer]") {
  const Transformer model(tiny(), 0);
  Tape tape(Tape::Mode::inference);
  CHECK(model.logits(tape, tiny_ids(), random::prng_key(0)).shape() == Shape{2, 5, 11});
  // Fewer positions than the context, as sampling starts.
  CHECK(model.logits(tape, TokenIds({4, 2}, {1, 2}), random::prng_key(0)).shape() == Shape{1, 2, 11});
  std::vector<std::string> names;
  for (const Transformer::Parameter& p : model.parameters()) names.push_back(p.name);
  REQUIRE(names.size() == 2 + 2 * 12 + 2 + 1);
  CHECK(names.front() == "wte");
  CHECK(names[1] == "wpe");
  CHECK(names[2] == "h0.ln1.weight");
  CHECK(names[14] == "h1.ln1.weight");
  CHECK(names[names.size() - 3] == "ln_f.weight");
  CHECK(names.back() == "head.kernel");
  CHECK(model.parameters().back().tensor.shape() == Shape{8, 11});
  const std::size_t V = 11, T = 5, L = 2, C = 8;
  CHECK(model.parameter_count() == V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C + C * V);
  CHECK(model.token_embed().embedding().same_node(model.parameters().front().tensor));
}

TEST_CASE("Transformer gradients through the whole model and cross-entropy match finite differences",
          "[next_token][transformer]") {
  const Transformer model(tiny(), 1);
  scramble(model);
  const TokenIds ids = tiny_ids(), targets = tiny_targets();
  const GradientCheckResult result = check_gradients(
      [&](Tape& tape, const std::vector<Tensor>&) {
        return softmax_cross_entropy(tape, model.logits(tape, ids, random::prng_key(0)), targets);
      },
      model.tensors());
  INFO(result.worst);
  CHECK(result.ok);
  CHECK(result.elements_checked == model.parameter_count());
}

TEST_CASE("Transformer sends no gradient to token rows the batch does not use", "[next_token][transformer]") {
  const Transformer model(tiny(), 2);
  Tape tape;
  tape.backward(softmax_cross_entropy(tape, model.logits(tape, tiny_ids(), random::prng_key(0)), tiny_targets()));
  const Gradient& grad = model.token_embed().embedding().grad();
  REQUIRE(grad.kind() == Gradient::Kind::row_sparse);
  const std::vector<std::int32_t>& rows = grad.row_sparse().rows();
  CHECK(std::set<std::int32_t>(rows.begin(), rows.end()) == std::set<std::int32_t>{0, 1, 2, 3, 5, 7, 9});
  const Array dense = grad.to_dense();
  for (const std::size_t untouched : {4, 6, 8, 10}) {
    for (std::size_t j = 0; j < 8; ++j) CHECK(dense(untouched, j) == 0.0f);
  }
  for (const Tensor& p : model.tensors()) {
    INFO(p.name());
    CHECK_FALSE(p.grad().empty());
  }
}

TEST_CASE("Transformer is causal: a later id leaves the earlier positions' logits bit-identical",
          "[next_token][transformer]") {
  const Transformer model(tiny(), 3);
  scramble(model);
  Tape tape(Tape::Mode::inference);
  const Array before = model.logits(tape, tiny_ids(), random::prng_key(0)).value();
  // Position 3 of both sequences changes.
  const Array after =
      model.logits(tape, TokenIds({1, 3, 3, 10, 0, 5, 1, 9, 8, 2}, {2, 5}), random::prng_key(0)).value();
  for (const std::size_t b : {0, 1}) {
    INFO("sequence " << b);
    CHECK(bit_equal_rows(before, after, b * 5, 3, 11));
    CHECK_FALSE(bit_equal_rows(before, after, b * 5 + 3, 1, 11));
  }
}

TEST_CASE("Transformer draws the same parameters from the same seed and others from another seed",
          "[next_token][transformer]") {
  const Transformer a(tiny(), 4), b(tiny(), 4), c(tiny(), 5);
  const std::vector<Tensor> pa = a.tensors(), pb = b.tensors(), pc = c.tensors();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    INFO(pa[i].name());
    CHECK(testing::bit_equal(pa[i].value(), pb[i].value()));
  }
  CHECK_FALSE(testing::bit_equal(pa[0].value(), pc[0].value()));  // wte
  // The two blocks have their own keys.
  CHECK_FALSE(testing::bit_equal(a.blocks()[0].attn().qkv().kernel().value(),
                                 a.blocks()[1].attn().qkv().kernel().value()));
}

TEST_CASE("Transformer initialises embeddings and the head as GPT-2: N(0, 0.02)", "[next_token][transformer]") {
  TransformerConfig c;  // the default 256 x 128 tables: 32768 values each
  c.context = 256;
  c.layers = 1;
  const Transformer model(c, 0);
  for (const Tensor& t : {model.token_embed().embedding(), model.position_embed().embedding(), model.head().kernel()}) {
    INFO(t.name());
    double sum = 0.0, squares = 0.0;
    for (const float v : t.value()) sum += v;
    const double mean = sum / static_cast<double>(t.size());
    for (const float v : t.value()) squares += (v - mean) * (v - mean);
    CHECK(std::abs(mean) < 4.0 * 0.02 / std::sqrt(static_cast<double>(t.size())));
    CHECK(std::sqrt(squares / static_cast<double>(t.size())) == Approx(0.02).epsilon(0.03));
  }
}

TEST_CASE("Transformer dropout is off on an inference tape and repeats with its key on a training tape",
          "[next_token][transformer]") {
  const Transformer dropping(tiny(0.3f), 6), plain(tiny(0.0f), 6);
  Tape inference(Tape::Mode::inference);
  const Array reference = plain.logits(inference, tiny_ids(), random::prng_key(1)).value();
  CHECK(testing::bit_equal(dropping.logits(inference, tiny_ids(), random::prng_key(1)).value(), reference));
  Tape plain_training;
  CHECK(testing::bit_equal(plain.logits(plain_training, tiny_ids(), random::prng_key(1)).value(), reference));
  Tape first, second, other;
  const Array a = dropping.logits(first, tiny_ids(), random::prng_key(1)).value();
  CHECK_FALSE(testing::bit_equal(a, reference));
  CHECK(testing::bit_equal(dropping.logits(second, tiny_ids(), random::prng_key(1)).value(), a));
  CHECK_FALSE(testing::bit_equal(dropping.logits(other, tiny_ids(), random::prng_key(2)).value(), a));
}

TEST_CASE("Transformer attention dropout is off on an inference tape and repeats with its key on a training tape",
          "[next_token][transformer]") {
  const Transformer dropping(tiny(0.0f, 0.3f), 6), plain(tiny(), 6);
  Tape inference(Tape::Mode::inference);
  const Array reference = plain.logits(inference, tiny_ids(), random::prng_key(1)).value();
  CHECK(testing::bit_equal(dropping.logits(inference, tiny_ids(), random::prng_key(1)).value(), reference));
  Tape first, second, other;
  const Array a = dropping.logits(first, tiny_ids(), random::prng_key(1)).value();
  CHECK_FALSE(testing::bit_equal(a, reference));
  CHECK(testing::bit_equal(dropping.logits(second, tiny_ids(), random::prng_key(1)).value(), a));
  CHECK_FALSE(testing::bit_equal(dropping.logits(other, tiny_ids(), random::prng_key(2)).value(), a));
}

TEST_CASE("Transformer refuses a bad configuration and ids of the wrong shape", "[next_token][transformer]") {
  for (std::size_t TransformerConfig::*field : {&TransformerConfig::vocab, &TransformerConfig::context,
                                                &TransformerConfig::layers, &TransformerConfig::heads,
                                                &TransformerConfig::embed_dim}) {
    TransformerConfig c = tiny();
    c.*field = 0;
    CHECK_THROWS_AS(Transformer(c, 0), std::invalid_argument);
  }
  TransformerConfig c = tiny();
  c.heads = 3;
  CHECK_THROWS_AS(Transformer(c, 0), std::invalid_argument);
  CHECK_THROWS_AS(Transformer(tiny(1.0f), 0), std::invalid_argument);
  CHECK_THROWS_WITH(Transformer(tiny(0.0f, 1.0f), 0), "Transformer: attention_dropout must lie in [0, 1), got 1.000000");
  CHECK_THROWS_AS(Transformer(tiny(0.0f, -0.5f), 0), std::invalid_argument);
  const Transformer model(tiny(), 0);
  Tape tape;
  CHECK_THROWS_AS(model.logits(tape, TokenIds({1, 2, 3, 4, 5, 6}, {1, 6}), Key{}), ShapeError);  // T > context
  CHECK_THROWS_AS(model.logits(tape, TokenIds({1, 2, 3}), Key{}), ShapeError);                   // 1-D
  CHECK_THROWS_AS(model.logits(tape, TokenIds({1, 11}, {1, 2}), Key{}), TokenIdOutOfRange);
  CHECK(tape.size() == 0);
}

TEST_CASE("describe names the GPT's layers in one line", "[next_token][transformer]") {
  CHECK(next_token::describe(TransformerConfig{}) ==
        "GPT: wte(256, 128) + wpe(64, 128) -> 2 x [ln -> attention 4 heads -> ln -> MLP 512] -> ln_f -> Dense 256");
  TransformerConfig c;
  c.dropout = 0.2f;
  CHECK(next_token::describe(c).find(", dropout 0.2") != std::string::npos);
  CHECK(next_token::describe(c).find("attention dropout") == std::string::npos);
  c.attention_dropout = 0.1f;
  CHECK(next_token::describe(c).find(", dropout 0.2, attention dropout 0.1") != std::string::npos);
}

TEST_CASE("Transformer logits and gradients are bit-identical with 1 and 2 threads", "[next_token][transformer]") {
  TransformerConfig c;  // big enough that the products and ops split their work
  c.vocab = 64;
  c.context = 32;
  c.embed_dim = 64;
  c.dropout = 0.1f;
  c.attention_dropout = 0.1f;
  const Transformer model(c, 8);
  std::vector<std::int64_t> values(16 * 32);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<std::int64_t>((i * 37 + 5) % 64);
  const TokenIds ids(values, {16, 32});
  std::vector<Array> runs[2];
  std::size_t regions_before = 0;
  for (const std::size_t threads : {1, 2}) {
    set_num_threads(threads);
    regions_before = parallel_regions_run();
    for (const Tensor& p : model.tensors()) p.mutable_grad().clear();
    Tape tape;
    const Tensor logits = model.logits(tape, ids, random::prng_key(3));
    tape.backward(softmax_cross_entropy(tape, logits, ids));
    runs[threads - 1].push_back(logits.value());
    for (const Tensor& p : model.tensors()) runs[threads - 1].push_back(p.grad().to_dense());
  }
  const std::size_t regions = parallel_regions_run() - regions_before;
  set_num_threads(1);
  for (const Tensor& p : model.tensors()) p.mutable_grad().clear();
  CHECK(regions > 0);  // the 2-thread step did split work
  REQUIRE(runs[0].size() == runs[1].size());
  for (std::size_t i = 0; i < runs[0].size(); ++i) {
    INFO("array " << i << " (0 is the logits, then the parameters' gradients in order)");
    CHECK(testing::bit_equal(runs[0][i], runs[1][i]));
  }
}
