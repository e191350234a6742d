// An experiment written as a test, against the installed xgrad: copy this file and the
// CMakeLists.txt beside it into your own project (docs/testing.md explains each part).
// The question here: does a bigram model's sparse SGD step move only the rows of the
// tokens in the batch, and is the gradient we derived by hand the one the tape computes?
#include <cmath>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <xgrad/testing.hpp>
#include <xgrad/testing/catch_matchers.hpp>
#include <xgrad/xgrad.hpp>

using namespace xgrad;
using namespace xgrad::testing;

namespace {

// A bigram model: logits[t] = W[ids[t]], loss = cross-entropy against the next token.
struct Bigram {
  layers::Embed table{8, 8, random::prng_key(42)};
  Tensor loss(Tape& tape, const TokenIds& ids, const TokenIds& next) const {
    return softmax_cross_entropy(tape, table(tape, ids), next);
  }
};

const std::vector<std::string> kVocabulary{".", "a", "b", "c", "d", "e", "f", "g"};

}  // namespace

TEST_CASE("One SGD step moves only the rows of the tokens in the batch", "[experiment]") {
  Bigram model;
  const TokenIds ids{1, 2, 1, 3}, next{2, 1, 3, 0};
  const Array before = model.table.embedding().value();
  Tape tape;
  tape.backward(model.loss(tape, ids, next));
  CHECK_THAT(model.table.embedding().grad(), IsRowSparseWithRows({1, 2, 3}));
  const RowTouches touches = row_touches(model.table.embedding(), ids);
  INFO(touches.describe(kVocabulary));   // shown if a check below fails
  CHECK(touches.count(1) == 2);
  optim::SGD(model.table.parameters(), 0.5f).step();
  CHECK_NOTHROW(expect_only_rows_changed(before, model.table.embedding().value(), {1, 2, 3}));
}

TEST_CASE("The hand-derived bigram gradient is the tape's", "[experiment]") {
  Bigram model;
  const TokenIds ids{4, 4, 7}, next{5, 6, 0};
  Tape tape;
  tape.backward(model.loss(tape, ids, next));
  // dlogits = (softmax - one_hot(next)) / T, scattered into the rows of ids.
  const Array& w = model.table.embedding().value();
  Array dw = zeros_array(shape_of(w));
  for (std::size_t t = 0; t < ids.size(); ++t) {
    const auto row = static_cast<std::size_t>(ids[t]);
    double z = 0.0;
    for (std::size_t v = 0; v < 8; ++v) z += std::exp(static_cast<double>(w(row, v)));
    for (std::size_t v = 0; v < 8; ++v) {
      const double p = std::exp(static_cast<double>(w(row, v))) / z;
      dw(row, v) += static_cast<float>((p - (static_cast<std::int32_t>(v) == next[t] ? 1.0 : 0.0)) / 3.0);
    }
  }
  const Comparison c = compare("dW", dw, model.table.embedding());
  CHECK(c.approximate);
}

TEST_CASE("The gather agrees with one_hot(ids) @ W, forward and backward", "[experiment]") {
  Bigram model;
  const TokenIds ids{0, 5, 5, 2};
  Array dout = zeros_array({4, 8});
  for (std::size_t i = 0; i < dout.size(); ++i) dout.data()[i] = 0.125f * static_cast<float>(i % 5);
  const OracleComparison c = compare_embedding_with_one_hot(model.table.embedding().value(), ids, dout);
  INFO(c.report);
  CHECK(c.ok());
}

TEST_CASE("check_gradients accepts the bigram loss at the step documented for cross-entropy",
          "[experiment]") {
  const Tensor w = Tensor::parameter(Bigram{}.table.embedding().value(), "w");
  GradientCheckOptions options;
  options.step = 3e-2;
  options.absolute_tolerance = 2e-5;
  options.relative_tolerance = 0.0;
  const GradientCheckResult r = check_gradients(
      [](Tape& tape, const std::vector<Tensor>& in) {
        return softmax_cross_entropy(tape, embedding_lookup(tape, in[0], TokenIds{1, 1, 6}),
                                     TokenIds{3, 4, 3});
      },
      {w}, options);
  INFO(r.worst);
  CHECK(r.ok);
}
