// Specification of SGD: dense and row-sparse updates, lazy momentum and weight decay.
#include <catch2/catch.hpp>

#include "testing/catch_matchers.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;
using layers::Embed;
using layers::EmbedOptions;
using optim::SGD;
using optim::SGDOptions;
using testing::changed_rows;

namespace {
Embed make_embed(std::size_t vocab, std::size_t width) {
  EmbedOptions options;
  options.init = testing::hashed_init();
  return Embed(vocab, width, Key{0, 3}, options);
}

void train_step(const Embed& embed, SGD& sgd, const TokenIds& ids) {
  Tape tape;
  tape.backward(sum(tape, mul(tape, embed(tape, ids), embed(tape, ids))));
  sgd.step();
  sgd.zero_grad();
}
}  // namespace

TEST_CASE("After one sparse SGD step only the used rows changed", "[optim][sgd]") {
  const Embed embed = make_embed(50, 4);
  const Array before = embed.embedding().value();
  SGD sgd(embed.parameters(), 0.1f);
  train_step(embed, sgd, TokenIds{3, 17, 3, 49});
  CHECK(changed_rows(before, embed.embedding().value()) == std::vector<std::size_t>{3, 17, 49});
}

TEST_CASE("Plain SGD on a row-sparse gradient subtracts lr times the summed rows", "[optim][sgd]") {
  const Tensor table = Tensor::parameter(zeros_array({4, 2}), "t");
  SGD sgd({table}, 0.5f);
  Tape tape;
  tape.backward(embedding_lookup(tape, table, TokenIds{2, 2}), Array{{1, 2}, {3, 4}});
  sgd.step();
  CHECK((table.value() == Array{{0, 0}, {0, 0}, {-2, -3}, {0, 0}}));
}

TEST_CASE("Plain SGD on a dense gradient updates every element", "[optim][sgd]") {
  const Tensor w = Tensor::parameter(Array{1.0f, 2.0f}, "w");
  SGD sgd({w}, 0.25f);
  Tape tape;
  tape.backward(sum(tape, w));
  sgd.step();
  CHECK((w.value() == Array{0.75f, 1.75f}));
}

TEST_CASE("zero_grad clears sparse and dense gradients", "[optim][sgd]") {
  const Embed embed = make_embed(8, 2);
  const Tensor w = Tensor::parameter(Array{1.0f}, "w");
  SGD sgd({embed.embedding(), w}, 0.1f);
  Tape tape;
  tape.backward(add(tape, sum(tape, embed(tape, TokenIds{1})), sum(tape, w)));
  sgd.zero_grad();
  CHECK(embed.embedding().grad().empty());
  CHECK(w.grad().empty());
}

TEST_CASE("Sparse momentum is lazy: a row's velocity acts only when the row is used", "[optim][sgd]") {
  const Tensor table = Tensor::parameter(zeros_array({3, 1}), "t");
  SGDOptions options;
  options.momentum = 0.5f;
  SGD sgd({table}, 1.0f, options);
  auto step_on = [&](std::int64_t id) {
    Tape tape;
    tape.backward(sum(tape, embedding_lookup(tape, table, TokenIds{id})));
    sgd.step();
    sgd.zero_grad();
  };
  step_on(0);  // v0 = 1, p0 = -1
  step_on(1);  // row 0 untouched: no decay of v0, no update of p0
  CHECK(table.value()(0, 0) == -1.0f);
  step_on(0);  // v0 = 0.5 * 1 + 1 = 1.5, p0 = -2.5
  CHECK(table.value()(0, 0) == -2.5f);
  CHECK(table.value()(1, 0) == -1.0f);
  CHECK(table.value()(2, 0) == 0.0f);
}

TEST_CASE("Sparse weight decay shrinks only the rows present in the step", "[optim][sgd]") {
  Array initial = zeros_array({2, 1});
  initial.fill(2.0f);
  const Tensor table = Tensor::parameter(initial, "t");
  SGDOptions options;
  options.weight_decay = 0.5f;
  SGD sgd({table}, 1.0f, options);
  Tape tape;
  tape.backward(sum(tape, embedding_lookup(tape, table, TokenIds{1})));
  sgd.step();
  CHECK(table.value()(0, 0) == 2.0f);
  CHECK(table.value()(1, 0) == 2.0f - (1.0f + 0.5f * 2.0f));
}

TEST_CASE("SGD refuses bad hyper-parameters", "[optim][sgd]") {
  const Tensor w = Tensor::parameter(Array{1.0f}, "w");
  CHECK_THROWS_AS(SGD({w}, -0.1f), std::invalid_argument);
  CHECK_THROWS_AS(SGD({w}, std::nanf("")), std::invalid_argument);
  SGDOptions options;
  options.momentum = 1.0f;
  CHECK_THROWS_AS(SGD({w}, 0.1f, options), std::invalid_argument);
  CHECK_THROWS_AS(SGD({Tensor(Array{1.0f})}, 0.1f), std::invalid_argument);
}

TEST_CASE("SGD refuses a tensor listed twice, which it would step twice", "[optim][sgd]") {
  const Tensor p = Tensor::parameter(Array{1.0f}, "p");
  const Tensor q = Tensor::parameter(Array{2.0f}, "q");
  CHECK_THROWS_MATCHES(optim::SGD({p, q, p}, 0.1f), std::invalid_argument,
                       testing::MessageContains("parameters 0 and 2 are the same tensor 'p'"));
}
