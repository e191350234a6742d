// Specification of dropout: its mask is jax.random.uniform(key, shape) < 1 - rate (Flax's), the kept
// values are scaled by 1 / (1 - rate), the backward uses the same mask.
#include <cmath>
#include <limits>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/test_support.hpp"

using namespace xgrad;
using Catch::Matchers::Contains;
using testing::bit_equal;
using testing::hashed_values;

TEST_CASE("dropout keeps the elements where uniform(key, shape) < 1 - rate, divided by 1 - rate",
          "[core][ops][dropout]") {
  const Key key = random::prng_key(42);
  const Array xv = hashed_values({37, 11}, 1);
  const float rate = 0.3f;
  Tape tape;
  const Array y = dropout(tape, Tensor::parameter(xv, "x"), rate, key).value();
  const Array u = random::uniform(key, {37, 11});
  std::size_t kept = 0;
  for (std::size_t i = 0; i < xv.size(); ++i) {
    INFO("element " << i << ", u = " << u.data()[i]);
    if (u.data()[i] < 1.0f - rate) {
      ++kept;
      CHECK(y.data()[i] == xv.data()[i] / 0.7f);
    } else {
      CHECK(y.data()[i] == 0.0f);
    }
  }
  CHECK(kept > 0);
  CHECK(kept < xv.size());
}

TEST_CASE("dropout backward sends dout / (1 - rate) through the kept elements only",
          "[core][ops][dropout]") {
  const Key key = random::prng_key(7);
  const Tensor x = Tensor::parameter(hashed_values({5, 40}, 2), "x");
  const Array seed = hashed_values({5, 40}, 3);
  Tape tape;
  tape.backward(dropout(tape, x, 0.5f, key), seed);
  const Array u = random::uniform(key, {5, 40});
  for (std::size_t i = 0; i < seed.size(); ++i) {
    INFO("element " << i);
    CHECK(x.grad().dense().data()[i] == (u.data()[i] < 0.5f ? seed.data()[i] / 0.5f : 0.0f));
  }
}

TEST_CASE("dropout with the same key gives the same mask, another key another",
          "[core][ops][dropout]") {
  const Tensor x(xt::ones<float>({1000}));
  Tape tape;
  const Array a = dropout(tape, x, 0.5f, random::prng_key(1)).value();
  const Array b = dropout(tape, x, 0.5f, random::prng_key(1)).value();
  const Array c = dropout(tape, x, 0.5f, random::fold_in(random::prng_key(1), 1)).value();
  CHECK(bit_equal(a, b));
  CHECK_FALSE(bit_equal(a, c));
}

TEST_CASE("dropout keeps a fraction near 1 - rate of a large array", "[core][ops][dropout]") {
  const std::size_t n = std::size_t{1} << 16;
  const Tensor x(xt::ones<float>({n}));
  Tape tape;
  for (float rate : {0.1f, 0.5f, 0.9f}) {
    const Array y = dropout(tape, x, rate, random::prng_key(3)).value();
    std::size_t kept = 0;
    for (float v : y) kept += v != 0.0f;
    // The binomial's standard deviation is at most 0.5 / sqrt(n) = 0.002: this is 5 of them.
    INFO("rate " << rate);
    CHECK(std::abs(double(kept) / double(n) - (1.0 - rate)) < 0.01);
  }
}

TEST_CASE("dropout at rate 0 or on an inference tape returns x itself", "[core][ops][dropout]") {
  const Tensor x = Tensor::parameter(hashed_values({4, 4}, 4), "x");
  Tape training;
  CHECK(dropout(training, x, 0.0f, random::prng_key(0)).same_node(x));
  CHECK(training.size() == 0);
  Tape inference(Tape::Mode::inference);
  CHECK(dropout(inference, x, 0.5f, random::prng_key(0)).same_node(x));
  CHECK(inference.size() == 0);
}

TEST_CASE("dropout of data on a training tape drops without recording", "[core][ops][dropout]") {
  const Tensor x(xt::ones<float>({64}));
  Tape tape;
  const Tensor y = dropout(tape, x, 0.5f, random::prng_key(5));
  CHECK(tape.size() == 0);
  CHECK_FALSE(y.requires_grad());
  CHECK(xt::any(xt::equal(y.value(), 0.0f)));
  CHECK(xt::any(xt::equal(y.value(), 2.0f)));
}

TEST_CASE("dropout drops an inf or NaN to 0, as a select does", "[core][ops][dropout]") {
  const float inf = std::numeric_limits<float>::infinity();
  const Key key = random::prng_key(9);
  const Array u = random::uniform(key, {64});
  const Tensor x(xt::ones<float>({64}) * inf);
  Tape tape;
  const Array y = dropout(tape, x, 0.5f, key).value();
  for (std::size_t i = 0; i < 64; ++i) CHECK(y(i) == (u(i) < 0.5f ? inf : 0.0f));
}

TEST_CASE("dropout rejects a negative rate, a rate of 1 or more and NaN before doing anything",
          "[core][ops][dropout]") {
  const Tensor x = Tensor::parameter(hashed_values({3}, 5), "x");
  Tape tape;
  for (float rate : {-0.1f, 1.0f, 1.5f, std::numeric_limits<float>::quiet_NaN()}) {
    INFO("rate " << rate);
    CHECK_THROWS_AS(dropout(tape, x, rate, random::prng_key(0)), std::invalid_argument);
    CHECK_THROWS_WITH(dropout(tape, x, rate, random::prng_key(0)),
                      Contains("dropout: rate must be in [0, 1)"));
  }
  Tape inference(Tape::Mode::inference);
  CHECK_THROWS_AS(dropout(inference, x, 1.0f, random::prng_key(0)), std::invalid_argument);
  CHECK(tape.size() == 0);
  CHECK(x.grad().empty());
}

// check_gradients evaluates f on inference tapes, where dropout is the identity, so the
// central differences are taken here on training tapes, with the same key each time.
TEST_CASE("dropout gradients match finite differences on training tapes", "[core][ops][dropout]") {
  const Key key = random::prng_key(11);
  const Array xv = hashed_values({6, 5}, 6);
  const Array w = hashed_values({6, 5}, 7);
  auto loss = [&](const Array& at) {  // sum_i w_i * tanh(dropout(x))_i, in double
    const Tensor x = Tensor::parameter(at, "x");
    Tape tape;
    const Array y = tanh(tape, dropout(tape, x, 0.25f, key)).value();
    double total = 0;
    for (std::size_t i = 0; i < y.size(); ++i) total += double(w.data()[i]) * y.data()[i];
    return total;
  };
  const Tensor x = Tensor::parameter(xv, "x");
  Tape tape;
  tape.backward(tanh(tape, dropout(tape, x, 0.25f, key)), w);
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < xv.size(); ++i) {
    Array up = xv, down = xv;
    up.data()[i] += 1e-2f;
    down.data()[i] -= 1e-2f;
    const double numeric = (loss(up) - loss(down)) / (double(up.data()[i]) - down.data()[i]);
    const double analytic = x.grad().dense().data()[i];
    INFO("element " << i << ": analytic " << analytic << ", numeric " << numeric);
    CHECK(std::abs(analytic - numeric) <= 1e-3 + 1e-2 * std::abs(numeric));
    dropped += analytic == 0.0;
  }
  CHECK(dropped > 0);  // the check covered dropped and kept elements
  CHECK(dropped < xv.size());
}

TEST_CASE("dropout is bit-identical with 1 and 2 threads", "[core][ops][dropout][threads]") {
  const Array xv = hashed_values({512, 512}, 7);
  const Array seed = hashed_values({512, 512}, 8);
  const auto runs = testing::run_at_1_and_2_threads([&] {
    const Tensor x = Tensor::parameter(xv, "x");
    Tape tape;
    const Tensor y = dropout(tape, x, 0.1f, random::prng_key(12));
    tape.backward(y, seed);
    return std::vector<Array>{y.value(), x.grad().dense()};
  });
  CHECK(runs.regions_at_two >= 2);
  CHECK(runs.differing_outputs().empty());
}

TEST_CASE("dropout's mask equals uniform(key, shape) < 1 - rate for an odd size split across threads",
          "[core][ops][dropout][threads]") {
  const Key key = random::prng_key(13);
  const Shape shape = {3, 129, 257};  // 99,459 elements: odd, and split at 2 threads
  const float rate = 0.2f;
  const Array ones = xt::ones<float>(shape);
  const Array seed = hashed_values(shape, 9);
  const random::Layout saved = random::default_layout();
  for (random::Layout layout : {random::Layout::partitionable, random::Layout::legacy}) {
    INFO(random::layout_name(layout));
    random::set_default_layout(layout);
    const Array u = random::uniform(key, shape);
    set_num_threads(2);
    const Tensor x = Tensor::parameter(ones, "x");
    Tape tape;
    const Tensor y = dropout(tape, x, rate, key);
    tape.backward(y, seed);  // the backward reads the mask the forward kept
    set_num_threads(1);
    std::size_t wrong_forward = 0, wrong_backward = 0, kept = 0;
    for (std::size_t i = 0; i < u.size(); ++i) {
      const bool expected = u.data()[i] < 1.0f - rate;
      kept += expected;
      wrong_forward += (y.value().data()[i] != 0.0f) != expected;
      wrong_backward += x.grad().dense().data()[i] != (expected ? seed.data()[i] / (1.0f - rate) : 0.0f);
    }
    CHECK(wrong_forward == 0);
    CHECK(wrong_backward == 0);
    CHECK(kept > 0);
    CHECK(kept < u.size());
  }
  random::set_default_layout(saved);
}
