// Bad input gets a clear exception naming what and where, and leaves every parameter
// bit-identical: validation happens before anything is mutated.
#include <catch2/catch.hpp>

#include "tests/test_support.hpp"

using namespace xgrad;
using Catch::Matchers::Contains;
using layers::Embed;
using layers::EmbedOptions;
using layers::Linear;
using layers::LinearOptions;
using testing::bit_equal;

namespace {

struct Model {
  Embed embed;
  Linear linear;
  optim::SGD sgd;
  Model()
      : embed(5, 3, Key{0, 1}, EmbedOptions{testing::hashed_init(), {}, "embed"}),
        linear(3, 5, Key{0, 2}, LinearOptions{testing::hashed_init(), initializers::zeros(), true, {}, "linear"}),
        sgd({embed.embedding(), linear.kernel(), linear.bias()}, 0.1f) {}

  // One training step on float ids as a user would write it: parse, forward, backward, update.
  void step(const std::vector<double>& ids, const std::vector<double>& targets) {
    const TokenIds x = TokenIds::from_floats(ids, {}, "Embed");
    const TokenIds y = TokenIds::from_floats(targets, {}, "targets");
    Tape tape;
    tape.backward(softmax_cross_entropy(tape, linear(tape, embed(tape, x)), y));
    sgd.step();
    sgd.zero_grad();
  }

  std::vector<Array> snapshot() const {
    return {embed.embedding().value(), linear.kernel().value(), linear.bias().value()};
  }
};

void check_rejected_without_change(const std::vector<double>& ids, const std::string& message) {
  Model model;
  const std::vector<Array> before = model.snapshot();
  CHECK_THROWS_WITH(model.step(ids, {0, 1, 2}), Contains(message));
  const std::vector<Array> after = model.snapshot();
  for (std::size_t k = 0; k < before.size(); ++k) CHECK(bit_equal(before[k], after[k]));
  CHECK(model.embed.embedding().grad().empty());
}

}  // namespace

TEST_CASE("A NaN id is rejected and nothing changes", "[bad_input]") {
  check_rejected_without_change({0, std::nan(""), 1}, "Embed: token id nan at position 1 is not a finite integer");
}

TEST_CASE("An infinite id is rejected and nothing changes", "[bad_input]") {
  check_rejected_without_change({0, 1, HUGE_VAL}, "Embed: token id inf at position 2 is not a finite integer");
}

TEST_CASE("A fractional id is rejected and nothing changes", "[bad_input]") {
  check_rejected_without_change({2.5, 1, 1}, "Embed: token id 2.5 at position 0 is not a finite integer");
}

TEST_CASE("A negative id is rejected and nothing changes", "[bad_input]") {
  check_rejected_without_change({0, -1, 1}, "embedding_lookup of embed.embedding: token id -1 at position 1 is out of range [0, 5)");
}

TEST_CASE("Id V is rejected and nothing changes", "[bad_input]") {
  check_rejected_without_change({0, 1, 5}, "embedding_lookup of embed.embedding: token id 5 at position 2 is out of range [0, 5)");
}

TEST_CASE("An empty id list is rejected and nothing changes", "[bad_input]") {
  Model model;
  const std::vector<Array> before = model.snapshot();
  CHECK_THROWS_WITH(model.step({}, {}), Contains("embedding_lookup of embed.embedding: the id list is empty"));
  CHECK(bit_equal(before[0], model.snapshot()[0]));
}

TEST_CASE("An out-of-range target is rejected before any gradient is applied", "[bad_input]") {
  Model model;
  const std::vector<Array> before = model.snapshot();
  CHECK_THROWS_WITH(model.step({0, 1, 2}, {0, 9, 1}),
                    Contains("softmax_cross_entropy: token id 9 at position 1 is out of range [0, 5)"));
  const std::vector<Array> after = model.snapshot();
  for (std::size_t k = 0; k < before.size(); ++k) CHECK(bit_equal(before[k], after[k]));
}

TEST_CASE("Embed with V = 0 or D = 0 is refused", "[bad_input]") {
  CHECK_THROWS_WITH(Embed(0, 3, Key{}), Contains("V = 0"));
  CHECK_THROWS_WITH(Embed(3, 0, Key{}), Contains("D = 0"));
  EmbedOptions options;
  options.padding_idx = 3;
  CHECK_THROWS_WITH(Embed(3, 2, Key{}, options), Contains("padding_idx 3 is out of range [0, 3)"));
}

TEST_CASE("Mismatched shapes in ops name the op and both shapes", "[bad_input]") {
  Tape tape;
  const Tensor a = Tensor::parameter(zeros_array({2, 3}), "a");
  const Tensor b = Tensor::parameter(zeros_array({4, 5}), "b");
  CHECK_THROWS_MATCHES(matmul(tape, a, b), ShapeError,
                       Catch::Matchers::Message("matmul: inner dimensions differ: x is (2, 3), w is (4, 5)"));
  CHECK_THROWS_WITH(add(tape, a, b), Contains("add: shapes (2, 3) and (4, 5) do not broadcast"));
  CHECK_THROWS_WITH(add_bias(tape, a, Tensor(zeros_array({2}))), Contains("add_bias: bias must be (N,)"));
  CHECK_THROWS_WITH(reshape(tape, a, {7}), Contains("reshape: cannot reshape (2, 3) to (7,)"));
  CHECK_THROWS_WITH(softmax_cross_entropy(tape, a, TokenIds{0}),
                    Contains("softmax_cross_entropy: logits (2, 3) do not match targets (1,)"));
  CHECK_THROWS_WITH(embedding_lookup(tape, Tensor(zeros_array({2})), TokenIds{0}),
                    Contains("embedding_lookup: the table must be (V, D)"));
  CHECK(tape.size() == 0);
}
