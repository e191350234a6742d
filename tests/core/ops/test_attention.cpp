// Specification of causal_self_attention: values by hand and against a naive double-precision
// reference, causality, gradients against finite differences, accumulation, threads, shapes;
// with attention dropout, the same against a reference applying the mask uniform(key) < keep.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/test_support.hpp"

using namespace xgrad;
using xgrad::testing::bit_equal;
using xgrad::testing::hashed_values;

namespace {

// out (B, T, C) of causal attention, from the definition: for each query t, the scores
// q_t . k_s / sqrt(hs) over s <= t, their softmax, and the weighted sum of the v_s.
// With u (B, H, T, T) non-null, attention dropout: weight A[t, s] is kept as A[t, s] / keep
// where u[b, h, t, s] < keep and is 0 elsewhere.
std::vector<double> naive_attention(const Array& qkv, std::size_t heads, const Array* u = nullptr,
                                    float keep = 1.0f) {
  const std::size_t B = qkv.shape()[0], T = qkv.shape()[1], C = qkv.shape()[2] / 3;
  const std::size_t hs = C / heads;
  auto at = [&](std::size_t b, std::size_t t, std::size_t j) {
    return static_cast<double>(qkv(b, t, j));
  };
  std::vector<double> out(B * T * C, 0.0);
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t h = 0; h < heads; ++h) {
      for (std::size_t t = 0; t < T; ++t) {
        std::vector<double> score(t + 1, 0.0);
        for (std::size_t s = 0; s <= t; ++s) {
          for (std::size_t i = 0; i < hs; ++i) score[s] += at(b, t, h * hs + i) * at(b, s, C + h * hs + i);
          score[s] /= std::sqrt(static_cast<double>(hs));
        }
        double top = score[0];
        for (double x : score) top = std::max(top, x);
        double total = 0.0;
        for (double& x : score) total += (x = std::exp(x - top));
        for (std::size_t s = 0; s <= t; ++s) {
          for (std::size_t i = 0; i < hs; ++i) {
            double weight = score[s] / total;
            if (u != nullptr) weight = (*u)(b, h, t, s) < keep ? weight / keep : 0.0;
            out[(b * T + t) * C + h * hs + i] += weight * at(b, s, 2 * C + h * hs + i);
          }
        }
      }
    }
  }
  return out;
}

Array attention_value(const Array& qkv, std::size_t heads) {
  Tape tape(Tape::Mode::inference);
  return causal_self_attention(tape, Tensor(qkv), heads).value();
}

// Attention dropout applies on a training tape only.
Array dropped_value(const Array& qkv, std::size_t heads, float rate, const Key& key) {
  Tape tape;
  return causal_self_attention(tape, Tensor(qkv), heads, rate, key).value();
}

// The output and qkv's gradient for the output gradient `seed`, on a training tape.
std::vector<Array> value_and_gradient(const Array& values, const Array& seed, std::size_t heads,
                                      float rate, const Key& key, bool with_dropout_overload = true) {
  const Tensor qkv = Tensor::parameter(values, "qkv");
  Tape tape;
  const Tensor out = with_dropout_overload ? causal_self_attention(tape, qkv, heads, rate, key)
                                           : causal_self_attention(tape, qkv, heads);
  tape.backward(out, seed);
  return {out.value(), qkv.grad().dense()};
}

}  // namespace

TEST_CASE("causal_self_attention matches a hand computation with one channel",
          "[core][ops][attention]") {
  // T = 2, C = 1, one head, so the scale is 1. Row t of qkv is (q_t, k_t, v_t).
  // Position 0 sees only v_0 = 1. Position 1 has scores q_1 k_0 = 0 and q_1 k_1 = 1, weights
  // 1 / (1 + e) and e / (1 + e), so out_1 = (1 - e) / (1 + e) = -tanh(1/2).
  const Array qkv = Array{{{5.0f, 0.0f, 1.0f}, {1.0f, 1.0f, -1.0f}}};
  const Array out = attention_value(qkv, 1);
  REQUIRE(shape_of(out) == Shape{1, 2, 1});
  CHECK(out(0, 0, 0) == 1.0f);
  CHECK(out(0, 1, 0) == Approx(-std::tanh(0.5)).epsilon(1e-6));
}

TEST_CASE("causal_self_attention matches a naive double-precision reference",
          "[core][ops][attention]") {
  // Two heads of two features; T = 37 spans more than one block of positions.
  for (const Shape& shape : {Shape{1, 3, 6}, Shape{2, 3, 12}, Shape{2, 37, 12}}) {
    INFO("qkv " << shape_string(shape));
    const Array qkv = hashed_values(shape, 3) * 2.0f;
    const std::size_t heads = shape[2] == 6 ? 1 : 2;
    const Array out = attention_value(qkv, heads);
    const std::vector<double> expected = naive_attention(qkv, heads);
    REQUIRE(out.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      INFO("element " << i);
      CHECK(out.data()[i] == Approx(expected[i]).margin(1e-6).epsilon(1e-5));
    }
  }
}

TEST_CASE("causal_self_attention's first position attends only to itself",
          "[core][ops][attention]") {
  const std::size_t B = 3, T = 5, C = 8;
  const Array qkv = hashed_values({B, T, 3 * C}, 7) * 4.0f;
  const Array out = attention_value(qkv, 2);
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t j = 0; j < C; ++j) {
      INFO("b " << b << " feature " << j);
      CHECK(out(b, 0, j) == qkv(b, 0, 2 * C + j));
    }
  }
}

TEST_CASE("causal_self_attention's outputs before a changed position stay bit-identical",
          "[core][ops][attention]") {
  const std::size_t T = 40, C = 8;
  const Array qkv = hashed_values({2, T, 3 * C}, 11);
  const Array before = attention_value(qkv, 2);
  for (std::size_t changed : {std::size_t{1}, std::size_t{20}, std::size_t{35}}) {
    INFO("changed position " << changed);
    Array edited = qkv;
    for (std::size_t j = 0; j < 3 * C; ++j) edited(1, changed, j) += 0.5f;  // its q, k and v
    const Array after = attention_value(edited, 2);
    for (std::size_t b = 0; b < 2; ++b) {
      for (std::size_t t = 0; t < T; ++t) {
        const bool same = std::memcmp(&before(b, t, 0), &after(b, t, 0), C * sizeof(float)) == 0;
        if (b == 0 || t < changed) {
          CHECK(same);
        } else if (t == changed) {
          CHECK_FALSE(same);  // the edit did reach the op
        }
      }
    }
  }
}

TEST_CASE("causal_self_attention keeps a NaN row's masked weights at 0: later values' gradients "
          "stay finite",
          "[core][ops][attention]") {
  // One head of 8 features. q_0 = (+inf, 0, ...) and k_0 = (-1, ...) make position 0's one
  // score -inf, so its softmax row is NaN: out[0] is NaN, as in PyTorch. Its masked weights
  // A[0, s > 0] must stay 0, or every v_s with s > 0 would get a NaN gradient from them.
  const std::size_t T = 16, C = 8;
  Array values = hashed_values({1, T, 3 * C}, 3);
  for (std::size_t j = 0; j < C; ++j) values(0, 0, j) = 0.0f;
  values(0, 0, 0) = std::numeric_limits<float>::infinity();
  values(0, 0, C) = -1.0f;
  const Tensor qkv = Tensor::parameter(values, "qkv");
  Tape tape;
  const Tensor out = causal_self_attention(tape, qkv, 1);
  REQUIRE(std::isnan(out.value()(0, 0, 0)));
  tape.backward(sum(tape, out));
  const Array& grad = qkv.grad().dense();
  for (std::size_t s = 1; s < T; ++s) {
    for (std::size_t j = 0; j < C; ++j) {
      INFO("position " << s << " value feature " << j);
      CHECK(std::isfinite(grad(0, s, 2 * C + j)));
    }
  }
}

TEST_CASE("causal_self_attention gradients match finite differences", "[core][ops][attention]") {
  // T = 37 crosses a block edge of the products; two heads of two features.
  for (const Shape& shape : {Shape{2, 5, 12}, Shape{1, 37, 12}}) {
    INFO("qkv " << shape_string(shape));
    const Tensor qkv = Tensor::parameter(Array(hashed_values(shape, 5) * 1.5f), "qkv");
    const GradientCheckResult result = check_gradients(
        [](Tape& tape, const std::vector<Tensor>& in) { return causal_self_attention(tape, in[0], 2); },
        {qkv});
    INFO(result.worst);
    CHECK(result.elements_checked == qkv.size());
    CHECK(result.ok);
  }
}

TEST_CASE("causal_self_attention adds its gradient to one qkv already holds",
          "[core][ops][attention]") {
  const Shape shape{2, 6, 12};
  const Array values = hashed_values(shape, 9);
  const Array seed = hashed_values({2, 6, 4}, 10);
  const Array earlier = hashed_values(shape, 12);

  const Tensor alone = Tensor::parameter(values, "alone");
  Tape first;
  first.backward(causal_self_attention(first, alone, 2), seed);

  const Tensor holding = Tensor::parameter(values, "holding");
  holding.mutable_grad().add(earlier);
  Tape second;
  second.backward(causal_self_attention(second, holding, 2), seed);

  const Array& sum = holding.grad().dense();
  const Array& own = alone.grad().dense();
  REQUIRE(sum.size() == own.size());
  for (std::size_t i = 0; i < sum.size(); ++i) {
    INFO("element " << i);
    CHECK(sum.data()[i] == Approx(earlier.data()[i] + own.data()[i]).margin(1e-6));
  }
}

TEST_CASE("causal_self_attention is bit-identical with 1 and 2 threads", "[core][ops][attention][threads]") {
  const Shape shape{8, 64, 3 * 128};
  const Array values = hashed_values(shape, 13);
  const Array seed = hashed_values({8, 64, 128}, 14);
  const auto runs = testing::run_at_1_and_2_threads([&] {
    const Tensor qkv = Tensor::parameter(values, "qkv");
    Tape tape;
    const Tensor out = causal_self_attention(tape, qkv, 4);
    tape.backward(out, seed);
    return std::vector<Array>{out.value(), qkv.grad().dense()};
  });
  CHECK(runs.regions_at_two >= 2);  // forward and backward were split
  CHECK(runs.differing_outputs().empty());
}

TEST_CASE("causal_self_attention on an inference tape gives the training value and records nothing",
          "[core][ops][attention]") {
  const Array values = hashed_values({2, 9, 12}, 15);
  Tape training;
  const Tensor trained = causal_self_attention(training, Tensor::parameter(values, "qkv"), 2);
  Tape inference(Tape::Mode::inference);
  const Tensor inferred = causal_self_attention(inference, Tensor::parameter(values, "qkv"), 2);
  CHECK(training.size() == 1);
  CHECK(inference.size() == 0);
  CHECK_FALSE(inferred.requires_grad());
  CHECK(bit_equal(trained.value(), inferred.value()));
}

TEST_CASE("causal_self_attention rejects bad shapes, naming itself and the shape",
          "[core][ops][attention]") {
  using Catch::Matchers::Message;
  Tape tape;
  auto attend = [&](const Shape& shape, std::size_t heads) {
    return causal_self_attention(tape, Tensor::parameter(zeros_array(shape), "qkv"), heads);
  };
  CHECK_THROWS_MATCHES(attend({2, 12}, 1), ShapeError,
                       Message("causal_self_attention: qkv must be (B, T, 3C) (got (2, 12))"));
  CHECK_THROWS_MATCHES(attend({1, 2, 3, 6}, 1), ShapeError,
                       Message("causal_self_attention: qkv must be (B, T, 3C) (got (1, 2, 3, 6))"));
  CHECK_THROWS_MATCHES(attend({1, 2, 4}, 1), ShapeError,
                       Message("causal_self_attention: qkv's last axis must be 3C (q, k, v) (got (1, 2, 4))"));
  CHECK_THROWS_MATCHES(attend({1, 2, 6}, 4), ShapeError,
                       Message("causal_self_attention: C = 2 is not divisible by 4 heads (got (1, 2, 6))"));
  CHECK_THROWS_MATCHES(attend({1, 2, 6}, 0), ShapeError,
                       Message("causal_self_attention: heads must be at least 1 (got (1, 2, 6))"));
  CHECK_THROWS_MATCHES(attend({1, 0, 6}, 1), ShapeError,
                       Message("causal_self_attention: qkv must not be empty (got (1, 0, 6))"));
  CHECK(tape.size() == 0);
}

TEST_CASE("causal_self_attention with attention dropout 0 gives the op without it, bit for bit",
          "[core][ops][attention][dropout]") {
  // T = 37 spans two blocks of positions.
  const Shape shape{2, 37, 12};
  const Array values = hashed_values(shape, 21);
  const Array seed = hashed_values({2, 37, 4}, 22);
  const Key key = random::prng_key(3);
  const std::vector<Array> plain = value_and_gradient(values, seed, 2, 0.0f, key, false);
  const std::vector<Array> zero_rate = value_and_gradient(values, seed, 2, 0.0f, key);
  CHECK(bit_equal(plain[0], zero_rate[0]));
  CHECK(bit_equal(plain[1], zero_rate[1]));
}

TEST_CASE("causal_self_attention ignores attention dropout on an inference tape",
          "[core][ops][attention][dropout]") {
  const Array values = hashed_values({2, 9, 12}, 23);
  Tape inference(Tape::Mode::inference);
  const Tensor out = causal_self_attention(inference, Tensor::parameter(values, "qkv"), 2, 0.5f,
                                           random::prng_key(4));
  CHECK(inference.size() == 0);
  CHECK(bit_equal(out.value(), attention_value(values, 2)));
}

TEST_CASE("causal_self_attention with attention dropout matches a hand computation",
          "[core][ops][attention][dropout]") {
  // As the hand case above (T = 2, C = 1, one head): A = [[1, 0], [1 / (1 + e), e / (1 + e)]],
  // v = (1, -1). With rate 0.5 and this key, the mask keeps A[0, 0] and A[1, 1] and drops
  // A[1, 0]; kept weights are doubled.
  const Key key = random::prng_key(5);
  const Array u = random::uniform(key, {1, 1, 2, 2});
  REQUIRE(u(0, 0, 0, 0) < 0.5f);
  REQUIRE_FALSE(u(0, 0, 1, 0) < 0.5f);
  REQUIRE(u(0, 0, 1, 1) < 0.5f);
  const Array qkv = Array{{{5.0f, 0.0f, 1.0f}, {1.0f, 1.0f, -1.0f}}};
  const Array out = dropped_value(qkv, 1, 0.5f, key);
  REQUIRE(shape_of(out) == Shape{1, 2, 1});
  CHECK(out(0, 0, 0) == 2.0f);
  const double e = std::exp(1.0);
  CHECK(out(0, 1, 0) == Approx(-2.0 * e / (1.0 + e)).epsilon(1e-6));
}

TEST_CASE("causal_self_attention with attention dropout matches a naive double-precision reference "
          "with the same mask",
          "[core][ops][attention][dropout]") {
  for (const Shape& shape : {Shape{1, 3, 6}, Shape{2, 3, 12}, Shape{2, 37, 12}}) {
    INFO("qkv " << shape_string(shape));
    const Array qkv = hashed_values(shape, 3) * 2.0f;
    const std::size_t heads = shape[2] == 6 ? 1 : 2;
    const Key key = random::prng_key(17);
    const float rate = 0.25f;
    const Array u = random::uniform(key, {shape[0], heads, shape[1], shape[1]});
    const Array out = dropped_value(qkv, heads, rate, key);
    const std::vector<double> expected = naive_attention(qkv, heads, &u, 1.0f - rate);
    REQUIRE(out.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      INFO("element " << i);
      CHECK(out.data()[i] == Approx(expected[i]).margin(1e-6).epsilon(1e-5));
    }
    // The mask did something: the output differs from the undropped one.
    CHECK_FALSE(bit_equal(out, attention_value(qkv, heads)));
  }
}

TEST_CASE("causal_self_attention with attention dropout gives the same value whether or not qkv "
          "needs a gradient",
          "[core][ops][attention][dropout]") {
  const Array values = hashed_values({2, 37, 12}, 25);
  const Key key = random::prng_key(5);
  Tape tape;
  const Tensor trained = causal_self_attention(tape, Tensor::parameter(values, "qkv"), 2, 0.3f, key);
  const Tensor constant = causal_self_attention(tape, Tensor(values), 2, 0.3f, key);
  CHECK(bit_equal(trained.value(), constant.value()));
}

// check_gradients evaluates f on inference tapes, where attention dropout is off, so the
// central differences are taken here on training tapes, with the same key (the same mask)
// each time: L = sum_i w_i out_i in double, step h = 1e-2, as check_gradients' defaults.
TEST_CASE("causal_self_attention gradients with attention dropout match finite differences",
          "[core][ops][attention][dropout]") {
  const Key key = random::prng_key(11);
  const float rate = 0.3f;
  for (const Shape& shape : {Shape{2, 5, 12}, Shape{1, 37, 12}}) {
    INFO("qkv " << shape_string(shape));
    const Array start = hashed_values(shape, 5) * 1.5f;
    const Array w = hashed_values({shape[0], shape[1], shape[2] / 3}, 6);
    auto loss = [&](const Array& at) {
      Tape tape;
      const Array out = causal_self_attention(tape, Tensor::parameter(at, "qkv"), 2, rate, key).value();
      double total = 0.0;
      for (std::size_t i = 0; i < out.size(); ++i) total += static_cast<double>(w.data()[i]) * out.data()[i];
      return total;
    };
    const Tensor qkv = Tensor::parameter(start, "qkv");
    Tape tape;
    tape.backward(causal_self_attention(tape, qkv, 2, rate, key), w);
    const Array analytic = qkv.grad().dense();
    std::size_t moved = 0;
    for (std::size_t i = 0; i < start.size(); ++i) {
      Array plus = start, minus = start;
      plus.data()[i] += 0.01f;
      minus.data()[i] -= 0.01f;
      const double numeric = (loss(plus) - loss(minus)) /
                             (static_cast<double>(plus.data()[i]) - minus.data()[i]);
      INFO("element " << i << ": analytic " << analytic.data()[i] << ", numeric " << numeric);
      CHECK(std::abs(analytic.data()[i] - numeric) <= 1e-3 + 1e-2 * std::abs(numeric));
      if (std::abs(numeric) > 1e-3) ++moved;
    }
    CHECK(moved > start.size() / 2);  // most inputs reach the loss, so the check has teeth
  }
}

TEST_CASE("causal_self_attention with attention dropout is bit-identical with 1 and 2 threads",
          "[core][ops][attention][dropout][threads]") {
  const Shape shape{8, 64, 3 * 128};
  const Array values = hashed_values(shape, 13);
  const Array seed = hashed_values({8, 64, 128}, 14);
  const Key key = random::prng_key(6);
  const auto runs = testing::run_at_1_and_2_threads(
      [&] { return value_and_gradient(values, seed, 4, 0.1f, key); });
  CHECK(runs.regions_at_two >= 2);  // forward and backward were split
  CHECK(runs.differing_outputs().empty());
}

TEST_CASE("causal_self_attention with attention dropout repeats with its key and changes with another",
          "[core][ops][attention][dropout]") {
  const Array values = hashed_values({2, 20, 12}, 27);
  const Key key = random::prng_key(8);
  const Array a = dropped_value(values, 2, 0.2f, key);
  const Array b = dropped_value(values, 2, 0.2f, key);
  const Array c = dropped_value(values, 2, 0.2f, random::fold_in(key, 1));
  CHECK(bit_equal(a, b));
  CHECK_FALSE(bit_equal(a, c));
}

TEST_CASE("causal_self_attention rejects an attention dropout rate below 0 or from 1 on, naming itself",
          "[core][ops][attention][dropout]") {
  using Catch::Matchers::Message;
  Tape tape;
  const Tensor qkv = Tensor::parameter(zeros_array({1, 2, 6}), "qkv");
  const Key key = random::prng_key(0);
  CHECK_THROWS_MATCHES(causal_self_attention(tape, qkv, 1, -0.1f, key), std::invalid_argument,
                       Message("causal_self_attention: attention_dropout must be in [0, 1) (got -0.100000)"));
  CHECK_THROWS_MATCHES(causal_self_attention(tape, qkv, 1, 1.0f, key), std::invalid_argument,
                       Message("causal_self_attention: attention_dropout must be in [0, 1) (got 1.000000)"));
  CHECK_THROWS_AS(causal_self_attention(tape, qkv, 1, std::nanf(""), key), std::invalid_argument);
  // Also on an inference tape, where the rate is otherwise unused.
  Tape inference(Tape::Mode::inference);
  CHECK_THROWS_AS(causal_self_attention(inference, qkv, 1, 1.5f, key), std::invalid_argument);
  CHECK(tape.size() == 0);
}
