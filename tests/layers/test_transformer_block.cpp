// Specification of the GPT-2 block and its sublayers: CausalSelfAttention, MLPBlock and
// TransformerBlock (the ops they call are specified in tests/core).
#include <catch2/catch.hpp>

#include <cmath>

#include "tests/test_support.hpp"

using namespace xgrad;
using layers::CausalSelfAttention;
using layers::MLPBlock;
using layers::TransformerBlock;
using layers::Scope;
using layers::TransformerBlockOptions;

namespace {

struct Moments {
  double mean = 0.0, stddev = 0.0;
};

Moments moments(const Array& a) {
  double sum = 0.0, squares = 0.0;
  for (const float v : a) sum += v;
  const double mean = sum / static_cast<double>(a.size());
  for (const float v : a) squares += (v - mean) * (v - mean);
  return {mean, std::sqrt(squares / static_cast<double>(a.size()))};
}

// The sample mean within 4 standard errors of 0, the sample stddev within 5% of `stddev`
// (its standard error is stddev / sqrt(2n), under 1.2% for the sizes used here).
void check_normal(const Tensor& t, double stddev) {
  INFO(t.name() << " " << shape_string(t.shape()));
  const Moments m = moments(t.value());
  CHECK(std::abs(m.mean) < 4.0 * stddev / std::sqrt(static_cast<double>(t.size())));
  CHECK(m.stddev == Approx(stddev).epsilon(0.05));
}

bool all_equal(const Tensor& t, float value) {
  for (const float v : t.value()) {
    if (v != value) return false;
  }
  return true;
}

TransformerBlockOptions block_options(std::size_t layers, float dropout = 0.0f, float attention_dropout = 0.0f) {
  TransformerBlockOptions options;
  options.layers = layers;
  options.dropout = dropout;
  options.attention_dropout = attention_dropout;
  return options;
}

// Values of order 1 instead of GPT-2's 0.02, so finite differences see every path.
void scramble(const std::vector<Tensor>& parameters) {
  std::uint32_t salt = 11;
  for (const Tensor& p : parameters) p.mutable_value() = testing::hashed_values(p.shape(), salt++) * 0.5f;
}

}  // namespace

TEST_CASE("TransformerBlock keeps the shape (B, T, C) and names its parameters by path", "[layers][transformer_block]") {
  const Scope block_scope(random::prng_key(0), "h0");
  const TransformerBlock block(block_scope, 8, 2, block_options(2));
  Tape tape(Tape::Mode::inference);
  const Tensor x(testing::hashed_values({3, 5, 8}));
  CHECK(block(tape, x, random::prng_key(1)).shape() == Shape{3, 5, 8});
  std::vector<std::string> names;
  std::vector<Shape> shapes;
  for (const Tensor& p : block_scope.tensors()) {
    names.push_back(p.name());
    shapes.push_back(p.shape());
  }
  CHECK(names == std::vector<std::string>{"h0.ln1.weight", "h0.ln1.bias", "h0.attn.qkv.kernel", "h0.attn.qkv.bias",
                                          "h0.attn.proj.kernel", "h0.attn.proj.bias", "h0.ln2.weight", "h0.ln2.bias",
                                          "h0.mlp.fc.kernel", "h0.mlp.fc.bias", "h0.mlp.proj.kernel",
                                          "h0.mlp.proj.bias"});
  CHECK(shapes == std::vector<Shape>{{8}, {8}, {8, 24}, {24}, {8, 8}, {8}, {8}, {8}, {8, 32}, {32}, {32, 8}, {8}});
}

TEST_CASE("TransformerBlock initialises as GPT-2: kernels N(0, 0.02), residual projections N(0, 0.02/sqrt(2L))",
          "[layers][transformer_block]") {
  const std::size_t L = 4;
  const Scope block_scope(random::prng_key(7), "h0");
  const TransformerBlock block(block_scope, 64, 4, block_options(L));
  const double residual = 0.02 / std::sqrt(2.0 * L);
  check_normal(block.attn().qkv().kernel(), 0.02);
  check_normal(block.mlp().fc().kernel(), 0.02);
  check_normal(block.attn().proj().kernel(), residual);
  check_normal(block.mlp().proj().kernel(), residual);
  for (const Tensor& bias : {block.attn().qkv().bias(), block.attn().proj().bias(), block.mlp().fc().bias(),
                             block.mlp().proj().bias(), block.ln1().bias(), block.ln2().bias()}) {
    INFO(bias.name());
    CHECK(all_equal(bias, 0.0f));
  }
  CHECK(all_equal(block.ln1().weight(), 1.0f));
  CHECK(all_equal(block.ln2().weight(), 1.0f));
}

TEST_CASE("TransformerBlock draws the same parameters from the same key and others from another key",
          "[layers][transformer_block]") {
  const Scope a_scope(random::prng_key(5), "h0");
  const TransformerBlock a(a_scope, 16, 2, block_options(2));
  const Scope b_scope(random::prng_key(5), "h0");
  const TransformerBlock b(b_scope, 16, 2, block_options(2));
  const Scope c_scope(random::prng_key(6), "h0");
  const TransformerBlock c(c_scope, 16, 2, block_options(2));
  const std::vector<Tensor> pa = a_scope.tensors(), pb = b_scope.tensors(), pc = c_scope.tensors();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    INFO(pa[i].name());
    CHECK(testing::bit_equal(pa[i].value(), pb[i].value()));
  }
  CHECK_FALSE(testing::bit_equal(a.attn().qkv().kernel().value(), c.attn().qkv().kernel().value()));
  CHECK_FALSE(testing::bit_equal(a.mlp().proj().kernel().value(), c.mlp().proj().kernel().value()));
}

TEST_CASE("TransformerBlock computes x + attn(ln1(x)), then h + mlp(ln2(h))", "[layers][transformer_block]") {
  const Scope block_scope(random::prng_key(3), "h0");
  const TransformerBlock block(block_scope, 8, 2, block_options(1));
  scramble(block_scope.tensors());
  const Tensor x(testing::hashed_values({2, 4, 8}, 5));
  Tape tape(Tape::Mode::inference);
  const Key key = random::prng_key(0);
  const Tensor h = add(tape, x, block.attn()(tape, block.ln1()(tape, x), key));
  const Tensor expected = add(tape, h, block.mlp()(tape, block.ln2()(tape, h), key));
  CHECK(testing::bit_equal(block(tape, x, key).value(), expected.value()));
}

TEST_CASE("TransformerBlock gradients for input and every parameter match finite differences",
          "[layers][transformer_block]") {
  const Scope block_scope(random::prng_key(9), "h0");
  const TransformerBlock block(block_scope, 4, 2, block_options(2));
  std::vector<Tensor> inputs = block_scope.tensors();
  scramble(inputs);
  inputs.insert(inputs.begin(), Tensor::parameter(testing::hashed_values({2, 3, 4}, 4), "x"));
  const GradientCheckResult result = check_gradients(
      [&](Tape& tape, const std::vector<Tensor>& in) { return block(tape, in[0], random::prng_key(0)); }, inputs);
  INFO(result.worst);
  CHECK(result.ok);
  CHECK(result.elements_checked == 24 + 4 * (1 + 1 + 1 + 1) + 4 * 12 + 12 + 4 * 4 + 4 + 4 * 16 + 16 + 16 * 4 + 4);
}

namespace {

// `dropping` (same weights as `plain`, some dropout on) gives plain's output on an inference
// tape and on a recording tape with training = false; returns plain's output.
Array check_dropout_off_outside_training(const TransformerBlock& dropping, const TransformerBlock& plain,
                                         const Tensor& x, const Key& key) {
  Tape inference(Tape::Mode::inference);
  const Array reference = plain(inference, x, key).value();
  CHECK(testing::bit_equal(dropping(inference, x, key).value(), reference));
  Tape evaluation;
  CHECK(testing::bit_equal(dropping(evaluation, x, key, /*training=*/false).value(), reference));
  return reference;
}

}  // namespace

TEST_CASE("TransformerBlock dropout is off on an inference tape and when not training",
          "[layers][transformer_block]") {
  const Scope dropping_scope(random::prng_key(3), "h0");
  const TransformerBlock dropping(dropping_scope, 8, 2, block_options(2, 0.5f));
  const Scope plain_scope(random::prng_key(3), "h0");
  const TransformerBlock plain(plain_scope, 8, 2, block_options(2, 0.0f));
  scramble(dropping_scope.tensors());
  scramble(plain_scope.tensors());
  check_dropout_off_outside_training(dropping, plain, Tensor(testing::hashed_values({2, 4, 8}, 5)),
                                     random::prng_key(1));
}

TEST_CASE("TransformerBlock dropout on a training tape depends on the key and repeats with it",
          "[layers][transformer_block]") {
  const Scope block_scope(random::prng_key(3), "h0");
  const TransformerBlock block(block_scope, 8, 2, block_options(2, 0.5f));
  scramble(block_scope.tensors());
  const Tensor x(testing::hashed_values({2, 4, 8}, 5));
  Tape inference(Tape::Mode::inference);
  const Array reference = block(inference, x, random::prng_key(1)).value();
  Tape first, second, other;
  const Array a = block(first, x, random::prng_key(1)).value();
  CHECK_FALSE(testing::bit_equal(a, reference));
  CHECK(testing::bit_equal(block(second, x, random::prng_key(1)).value(), a));
  CHECK_FALSE(testing::bit_equal(block(other, x, random::prng_key(2)).value(), a));
}

TEST_CASE("CausalSelfAttention drops attention weights with a key folded from dropout_key, the output with "
          "dropout_key itself",
          "[layers][transformer_block]") {
  layers::CausalSelfAttentionOptions options;
  options.dropout = 0.3f;
  options.attention_dropout = 0.2f;
  const Scope attn_scope(random::prng_key(3), "attn");
  const CausalSelfAttention attn(attn_scope, 8, 2, options);
  scramble(attn_scope.tensors());
  const Tensor x(testing::hashed_values({2, 5, 8}, 6));
  const Key key = random::prng_key(4);
  Tape tape;
  const Tensor weights = causal_self_attention(tape, attn.qkv()(tape, x), 2, 0.2f,
                                               random::fold_in(key, layers::kAttentionDropoutStream));
  const Tensor expected = dropout(tape, attn.proj()(tape, weights), 0.3f, key);
  CHECK(testing::bit_equal(attn(tape, x, key).value(), expected.value()));
  CHECK(attn.attention_dropout_rate() == 0.2f);
}

TEST_CASE("TransformerBlock attention dropout is off on an inference tape and when not training, on when training",
          "[layers][transformer_block]") {
  const Scope dropping_scope(random::prng_key(3), "h0");
  const TransformerBlock dropping(dropping_scope, 8, 2, block_options(2, 0.0f, 0.5f));
  const Scope plain_scope(random::prng_key(3), "h0");
  const TransformerBlock plain(plain_scope, 8, 2, block_options(2));
  scramble(dropping_scope.tensors());
  scramble(plain_scope.tensors());
  const Tensor x(testing::hashed_values({2, 4, 8}, 5));
  const Key key = random::prng_key(1);
  const Array reference = check_dropout_off_outside_training(dropping, plain, x, key);
  Tape training;
  CHECK_FALSE(testing::bit_equal(dropping(training, x, key).value(), reference));
  CHECK(dropping.attn().attention_dropout_rate() == 0.5f);
}

TEST_CASE("Transformer layers refuse a bad configuration", "[layers][transformer_block]") {
  const Key key = random::prng_key(0);
  CHECK_THROWS_AS(TransformerBlock(Scope(key, "h0"), 8, 3), std::invalid_argument);
  CHECK_THROWS_AS(TransformerBlock(Scope(key, "h0"), 0, 1), std::invalid_argument);
  CHECK_THROWS_AS(TransformerBlock(Scope(key, "h0"), 8, 0), std::invalid_argument);
  CHECK_THROWS_AS(TransformerBlock(Scope(key, "h0"), 8, 2, block_options(0)), std::invalid_argument);
  CHECK_THROWS_AS(TransformerBlock(Scope(key, "h0"), 8, 2, block_options(1, 1.0f)), std::invalid_argument);
  CHECK_THROWS_AS(TransformerBlock(Scope(key, "h0"), 8, 2, block_options(1, -0.1f)), std::invalid_argument);
  CHECK_THROWS_AS(CausalSelfAttention(Scope(key, "attn"), 6, 4), std::invalid_argument);
  CHECK_THROWS_WITH(TransformerBlock(Scope(key, "h0"), 8, 2, block_options(1, 0.0f, 1.0f)),
                    "TransformerBlock h0: attention_dropout must lie in [0, 1), got 1.000000");
  CHECK_THROWS_AS(TransformerBlock(Scope(key, "h0"), 8, 2, block_options(1, 0.0f, -0.1f)), std::invalid_argument);
  CHECK_THROWS_AS(MLPBlock(Scope(key, "mlp"), 0), std::invalid_argument);
}
