// Specification of optimiser state for checkpoints: round trips are bit-exact, and a bad
// state is refused before anything changes.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <memory>

#include "tests/test_support.hpp"

using namespace xgrad;
using optim::AdamW;
using optim::OptimizerState;
using optim::SGD;
using optim::SGDOptions;
using testing::bit_equal;

namespace {

// A small model's parameters: a (10, 4) table fed row-sparse gradients, a (4, 3) kernel
// and a (3,) bias fed dense ones.
std::vector<Tensor> make_parameters() {
  return {Tensor::parameter(testing::hashed_values({10, 4}, 1), "embed.embedding"),
          Tensor::parameter(testing::hashed_values({4, 3}, 2), "linear.kernel"),
          Tensor::parameter(testing::hashed_values({3}, 3), "linear.bias")};
}

std::vector<Tensor> copy_parameters(const std::vector<Tensor>& parameters) {
  std::vector<Tensor> copies;
  for (const Tensor& p : parameters) copies.push_back(Tensor::parameter(p.value(), p.name()));
  return copies;
}

// Gradients that depend on the step and on the current values, as a loss's would:
// dense g = p - target(step); the table gets rows {step % 10, (3 step) % 10, step % 10}.
void set_gradients(const std::vector<Tensor>& parameters, std::size_t step) {
  const auto salt = static_cast<std::uint32_t>(100 + step);
  for (std::size_t k = 1; k < parameters.size(); ++k) {
    const Tensor& p = parameters[k];
    Array g = p.value() - testing::hashed_values(p.shape(), salt);
    p.mutable_grad().add(std::move(g));
  }
  const std::int32_t rows[3] = {static_cast<std::int32_t>(step % 10),
                                static_cast<std::int32_t>((3 * step) % 10),
                                static_cast<std::int32_t>(step % 10)};
  const Array values = testing::hashed_values({3, 4}, salt);
  parameters[0].mutable_grad().scatter_add_rows(rows, 3, values.data());
}

void train(optim::Optimizer& optimizer, const std::vector<Tensor>& parameters, std::size_t first,
           std::size_t last) {
  for (std::size_t s = first; s < last; ++s) {
    set_gradients(parameters, s);
    optimizer.step();
    optimizer.zero_grad();
  }
}

using Factory = std::function<std::unique_ptr<optim::Optimizer>(const std::vector<Tensor>&)>;

// N steps in one optimiser against N/2, state(), a new optimiser on copied parameters,
// load_state, N/2 more.
void check_round_trip(const Factory& make) {
  const std::size_t n = 8;
  const std::vector<Tensor> straight = make_parameters();
  const auto straight_optimizer = make(straight);
  train(*straight_optimizer, straight, 0, n);

  const std::vector<Tensor> first_half = make_parameters();
  const auto first_optimizer = make(first_half);
  train(*first_optimizer, first_half, 0, n / 2);
  const OptimizerState saved = first_optimizer->state();
  const std::vector<Tensor> resumed = copy_parameters(first_half);
  const auto resumed_optimizer = make(resumed);
  resumed_optimizer->load_state(saved);
  train(*resumed_optimizer, resumed, n / 2, n);

  for (std::size_t k = 0; k < straight.size(); ++k) {
    INFO(straight[k].name());
    CHECK(bit_equal(straight[k].value(), resumed[k].value()));
  }
  const OptimizerState a = straight_optimizer->state(), b = resumed_optimizer->state();
  CHECK(a.step == n);
  CHECK(b.step == n);
  REQUIRE(a.arrays.size() == b.arrays.size());
  for (std::size_t i = 0; i < a.arrays.size(); ++i) {
    CHECK(a.arrays[i].first == b.arrays[i].first);
    CHECK(bit_equal(a.arrays[i].second, b.arrays[i].second));
  }
}

void check_same_state(const OptimizerState& a, const OptimizerState& b) {
  CHECK(a.kind == b.kind);
  CHECK(a.step == b.step);
  REQUIRE(a.arrays.size() == b.arrays.size());
  for (std::size_t i = 0; i < a.arrays.size(); ++i) {
    CHECK(a.arrays[i].first == b.arrays[i].first);
    CHECK(bit_equal(a.arrays[i].second, b.arrays[i].second));
  }
}

}  // namespace

TEST_CASE("AdamW resumed from its state continues bit for bit", "[optim][state][adamw]") {
  check_round_trip([](const std::vector<Tensor>& p) { return std::make_unique<AdamW>(p, 0.01f); });
}

TEST_CASE("SGD with momentum resumed from its state continues bit for bit", "[optim][state][sgd]") {
  check_round_trip([](const std::vector<Tensor>& p) {
    SGDOptions options;
    options.momentum = 0.9f;
    options.weight_decay = 0.01f;
    return std::make_unique<SGD>(p, 0.05f, options);
  });
}

TEST_CASE("AdamW's state names two moments per parameter, in parameter order",
          "[optim][state][adamw]") {
  const std::vector<Tensor> parameters = make_parameters();
  AdamW adamw(parameters, 0.01f);
  const OptimizerState state = adamw.state();
  CHECK(state.kind == "adamw");
  CHECK(state.step == 0);
  std::vector<std::string> names;
  for (const auto& entry : state.arrays) names.push_back(entry.first);
  CHECK(names == std::vector<std::string>{"embed.embedding.exp_avg", "embed.embedding.exp_avg_sq",
                                          "linear.kernel.exp_avg", "linear.kernel.exp_avg_sq",
                                          "linear.bias.exp_avg", "linear.bias.exp_avg_sq"});
  CHECK(shape_of(state.arrays[2].second) == Shape{4, 3});
}

TEST_CASE("SGD's state has velocities only with momentum", "[optim][state][sgd]") {
  const std::vector<Tensor> parameters = make_parameters();
  SGD plain(parameters, 0.1f);
  set_gradients(parameters, 0);
  plain.step();
  const OptimizerState state = plain.state();
  CHECK(state.kind == "sgd");
  CHECK(state.step == 1);
  CHECK(state.arrays.empty());
  SGDOptions options;
  options.momentum = 0.5f;
  SGD heavy(parameters, 0.1f, options);
  const OptimizerState with_velocity = heavy.state();
  REQUIRE(with_velocity.arrays.size() == 3);
  CHECK(with_velocity.arrays[1].first == "linear.kernel.velocity");
  // A velocity in the state of an optimiser without momentum is an unknown array.
  CHECK_THROWS_WITH(plain.load_state(with_velocity), Catch::Contains("unknown array"));
}

TEST_CASE("SGD accepts repeated names until a state with velocities needs them",
          "[optim][state][sgd]") {
  const Tensor a = Tensor::parameter(Array{1.0f}, "linear.kernel");
  const Tensor b = Tensor::parameter(Array{2.0f}, "linear.kernel");
  SGD plain({a, b}, 0.1f);
  CHECK(plain.state().arrays.empty());
  SGDOptions options;
  options.momentum = 0.5f;
  SGD heavy({a, b}, 0.1f, options);
  CHECK_THROWS_WITH(heavy.state(), Catch::Contains("both named 'linear.kernel'"));
}

TEST_CASE("AdamW's load_state refuses a wrong kind, name, shape or value and changes nothing",
          "[optim][state][adamw]") {
  const std::vector<Tensor> source_parameters = make_parameters();
  AdamW source(source_parameters, 0.01f);
  train(source, source_parameters, 0, 1);
  const OptimizerState good = source.state();

  const std::vector<Tensor> parameters = make_parameters();
  AdamW target(parameters, 0.01f);
  train(target, parameters, 0, 3);  // its own, different state
  const OptimizerState before = target.state();

  const std::vector<std::pair<const char*, std::function<void(OptimizerState&)>>> breakages = {
      {"kind 'sgd'", [](OptimizerState& s) { s.kind = "sgd"; }},
      {"no array 'linear.bias.exp_avg_sq'",
       [](OptimizerState& s) { s.arrays.pop_back(); }},
      {"no array 'linear.bias.exp_avg_sq' (it has unknown 'linear.bias.exp_avg_sqq')",
       [](OptimizerState& s) { s.arrays.back().first += "q"; }},
      {"unknown array 'extra'", [](OptimizerState& s) { s.arrays.emplace_back("extra", Array{1.0f}); }},
      {"'linear.kernel.exp_avg' twice",
       [](OptimizerState& s) { s.arrays.push_back(s.arrays[2]); }},
      // The last array is the bad one, so a partial load would show in the earlier ones.
      {"'linear.bias.exp_avg_sq' has shape (4,)",
       [](OptimizerState& s) { s.arrays.back().second = zeros_array({4}); }},
      {"non-finite value",
       [](OptimizerState& s) { s.arrays.back().second(1) = std::nanf(""); }},
      {"non-finite value",
       [](OptimizerState& s) { s.arrays.back().second(2) = INFINITY; }},
      {"negative value", [](OptimizerState& s) { s.arrays.back().second(0) = -1.0f; }},
  };
  for (const auto& [message, breakage] : breakages) {
    INFO(message);
    OptimizerState bad = good;
    breakage(bad);
    CHECK_THROWS_AS(target.load_state(bad), std::invalid_argument);
    CHECK_THROWS_WITH(target.load_state(bad), Catch::Contains(message));
    check_same_state(target.state(), before);
  }
  target.load_state(good);  // the unbroken state loads
  check_same_state(target.state(), good);
}

TEST_CASE("SGD's load_state refuses a wrong kind, name or shape and changes nothing",
          "[optim][state][sgd]") {
  SGDOptions options;
  options.momentum = 0.9f;
  const std::vector<Tensor> source_parameters = make_parameters();
  SGD source(source_parameters, 0.1f, options);
  train(source, source_parameters, 0, 1);
  const OptimizerState good = source.state();
  const std::vector<Tensor> parameters = make_parameters();
  SGD target(parameters, 0.1f, options);
  train(target, parameters, 0, 2);
  const OptimizerState before = target.state();

  OptimizerState wrong_kind = good;
  wrong_kind.kind = "adamw";
  OptimizerState wrong_name = good;
  wrong_name.arrays[0].first = "embed.embedding.exp_avg";
  OptimizerState wrong_shape = good;
  wrong_shape.arrays.back().second = zeros_array({1, 3});
  for (const OptimizerState* bad : {&wrong_kind, &wrong_name, &wrong_shape}) {
    CHECK_THROWS_AS(target.load_state(*bad), std::invalid_argument);
    check_same_state(target.state(), before);
  }
  CHECK_THROWS_WITH(target.load_state(wrong_shape),
                    Catch::Contains("'linear.bias.velocity' has shape (1, 3), expected (3,)"));
}
