// models::sample_token: greedy at temperature 0, inverse-CDF sampling otherwise, checked
// inputs. GPT::generate's and next_token's sampling tests cover its use in both.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "models/sampling.hpp"

using xgrad::models::sample_token;

TEST_CASE("sample_token at temperature 0 takes the first largest logit whatever the draw",
          "[models][sampling]") {
  const std::vector<float> z = {0.5f, 2.0f, -1.0f, 2.0f};
  std::vector<double> weights;
  CHECK(sample_token(z.data(), z.size(), 0.0, 0.0, weights) == 1);
  CHECK(sample_token(z.data(), z.size(), 0.0, 0.999, weights) == 1);
  CHECK(weights.empty());  // greedy decoding computes no weights
}

TEST_CASE("sample_token walks the weights exp((z - max) / T) with u times their sum",
          "[models][sampling]") {
  // At T = 1 the weights are e^-1, 1, e^-2 (sum s); the cumulative bounds split [0, 1).
  const std::vector<float> z = {1.0f, 2.0f, 0.0f};
  const double w0 = std::exp(-1.0), w1 = 1.0, w2 = std::exp(-2.0), s = w0 + w1 + w2;
  std::vector<double> weights;
  CHECK(sample_token(z.data(), 3, 1.0, 0.0, weights) == 0);
  CHECK(sample_token(z.data(), 3, 1.0, 0.99 * w0 / s, weights) == 0);
  CHECK(sample_token(z.data(), 3, 1.0, 1.01 * w0 / s, weights) == 1);
  CHECK(sample_token(z.data(), 3, 1.0, 0.99 * (w0 + w1) / s, weights) == 1);
  CHECK(sample_token(z.data(), 3, 1.0, 1.01 * (w0 + w1) / s, weights) == 2);
  CHECK(sample_token(z.data(), 3, 1.0, std::nextafter(1.0, 0.0), weights) == 2);
  CHECK(weights.size() == 3);
}

TEST_CASE("sample_token at a low temperature follows the largest logit", "[models][sampling]") {
  // T = 0.01 makes the others' weights e^-100 and e^-200 of the largest: id 0 keeps only
  // the draws below about 4e-44 (u = 0 among them), id 2 those within e^-200 of 1.
  const std::vector<float> z = {1.0f, 2.0f, 0.0f};
  std::vector<double> weights;
  CHECK(sample_token(z.data(), 3, 0.01, 0.0, weights) == 0);
  for (double u : {1e-30, 0.25, 0.5, 0.75, 0.999999}) {
    CHECK(sample_token(z.data(), 3, 0.01, u, weights) == 1);
  }
}

TEST_CASE("sample_token rejects an empty vocabulary, a bad temperature and a draw u outside 0 <= u < 1",
          "[models][sampling]") {
  const std::vector<float> z = {0.0f, 1.0f};
  std::vector<double> weights;
  CHECK_THROWS_WITH(sample_token(z.data(), 0, 1.0, 0.5, weights), Catch::Contains("vocab"));
  CHECK_THROWS_WITH(sample_token(z.data(), 2, -0.5, 0.5, weights), Catch::Contains("temperature"));
  CHECK_THROWS_WITH(sample_token(z.data(), 2, std::numeric_limits<double>::infinity(), 0.5, weights),
                    Catch::Contains("temperature"));
  CHECK_THROWS_WITH(sample_token(z.data(), 2, 1.0, 1.0, weights), Catch::Contains("u must lie in [0, 1)"));
  CHECK_THROWS_WITH(sample_token(z.data(), 2, 1.0, -0.1, weights), Catch::Contains("u must lie in [0, 1)"));
  CHECK_THROWS_AS(sample_token(z.data(), 2, 1.0, std::nan(""), weights), std::invalid_argument);
}
