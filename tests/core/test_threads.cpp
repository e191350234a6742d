// Specification of threading: training gives bit-identical parameters and losses with 1
// and 2 threads, and the 2-thread run really split work across xgrad's pool.
#include <algorithm>
#include <cstring>
#include <vector>

#include <catch2/catch.hpp>

#include "core/detail/parallel.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;
using testing::bit_equal;

namespace {

struct Snapshot {
  std::vector<Array> parameters;
  std::vector<float> losses;
};

// Two SGD steps of an embedding -> linear -> tanh -> linear -> cross-entropy model plus a
// mean-of-squares term, sized so that every op's work is above parallel::kMinWork.
Snapshot train(std::size_t threads) {
  set_num_threads(threads);
  const std::size_t vocab = 3000, width = 64, hidden = 64, classes = 1200, tokens = 4096;
  layers::EmbedOptions embed_options;
  embed_options.init = testing::hashed_init();
  embed_options.padding_idx = 7;
  const layers::Embed embed(vocab, width, Key{0, 1}, embed_options);
  layers::LinearOptions linear_options;
  linear_options.kernel_init = testing::hashed_init();
  const layers::Linear first(width, hidden, Key{0, 2}, linear_options);
  const layers::Linear second(hidden, classes, Key{0, 3}, linear_options);
  std::vector<Tensor> parameters = embed.parameters();
  for (const auto* layer : {&first, &second}) {
    for (const Tensor& p : layer->parameters()) parameters.push_back(p);
  }
  optim::SGDOptions sgd_options;
  sgd_options.momentum = 0.5f;
  optim::SGD sgd(parameters, 0.05f, sgd_options);

  Snapshot result;
  for (int step = 0; step < 2; ++step) {
    std::vector<std::int64_t> ids(tokens), targets(tokens);
    for (std::size_t t = 0; t < tokens; ++t) {
      ids[t] = static_cast<std::int64_t>((t * t * 7 + step * 13) % vocab / (1 + t % 3));  // repeats
      targets[t] = static_cast<std::int64_t>((t * 31 + step) % classes);
    }
    Tape tape;
    const Tensor x = embed(tape, TokenIds(ids, {tokens / 4, 4}));
    const Tensor flat = reshape(tape, x, {tokens, width});
    const Tensor logits = second(tape, tanh(tape, first(tape, flat)));
    const Tensor loss = add(tape, softmax_cross_entropy(tape, logits, TokenIds(targets)),
                            mean(tape, mul(tape, flat, flat)));
    tape.backward(loss);
    sgd.step();
    sgd.zero_grad();
    result.losses.push_back(loss.value()());
  }
  for (const Tensor& p : parameters) result.parameters.push_back(p.value());
  set_num_threads(1);
  return result;
}

}  // namespace

TEST_CASE("Training gives bit-identical parameters and losses with 1 and 2 threads",
          "[core][threads]") {
  const Snapshot one = train(1);
  const std::size_t regions_before = parallel_regions_run();
  const Snapshot two = train(2);
  CHECK(parallel_regions_run() - regions_before >= 10);  // the 2-thread run did split work
  REQUIRE(one.parameters.size() == two.parameters.size());
  for (std::size_t k = 0; k < one.parameters.size(); ++k) {
    INFO("parameter " << k);
    CHECK(bit_equal(one.parameters[k], two.parameters[k]));
  }
  CHECK(one.losses == two.losses);
}

TEST_CASE("set_num_threads reports the count it was given, and 0 means 1", "[core][threads]") {
  set_num_threads(2);
  CHECK(num_threads() == 2);
  set_num_threads(0);
  CHECK(num_threads() == 1);
}

TEST_CASE("Work below the threshold runs on the calling thread", "[core][threads]") {
  set_num_threads(2);
  const std::size_t before = parallel_regions_run();
  std::vector<int> seen(100, 0);
  parallel::for_range(seen.size(), parallel::kMinWork - 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) ++seen[i];
  });
  set_num_threads(1);
  CHECK(parallel_regions_run() == before);
  CHECK(std::count(seen.begin(), seen.end(), 1) == 100);
}

TEST_CASE("A parallel range visits every index exactly once", "[core][threads]") {
  set_num_threads(2);
  std::vector<int> seen(1001, 0);
  parallel::for_range(seen.size(), parallel::kMinWork, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) ++seen[i];
  });
  set_num_threads(1);
  CHECK(std::count(seen.begin(), seen.end(), 1) == 1001);
}

TEST_CASE("mean_square of many elements is bit-identical with 1 and 2 threads",
          "[core][threads][ops]") {
  // Four blocks of 2^16 elements and a partial one: the sum is split across threads.
  const Array values = testing::hashed_values({4 * 65536 + 123}, 31);
  auto loss_with = [&](std::size_t threads) {
    set_num_threads(threads);
    const Tensor x = Tensor::parameter(values, "x");
    Tape tape;
    const float loss = mean_square(tape, x).value()();
    set_num_threads(1);
    return loss;
  };
  const float one = loss_with(1);
  const std::size_t regions_before = parallel_regions_run();
  const float two = loss_with(2);
  CHECK(parallel_regions_run() > regions_before);
  CHECK(std::memcmp(&one, &two, sizeof(float)) == 0);
  double reference = 0.0;
  for (std::size_t i = 0; i < values.size(); ++i) reference += double(values(i)) * values(i);
  CHECK(one == Approx(reference / double(values.size())).epsilon(1e-6));
}
