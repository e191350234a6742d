// Specification of AdamW: PyTorch's formula, the nanoGPT decay rule, groups, lazy sparse rows.
#include <catch2/catch.hpp>

#include <cmath>

#include "core/detail/parallel.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;
using optim::AdamW;
using optim::AdamWOptions;
using optim::ParameterGroup;
using testing::bit_equal;

namespace {

// torch.optim.AdamW's step t on one element, in double.
struct Reference {
  double lr, beta1, beta2, eps, weight_decay;
  void step(double& p, double& m, double& v, double g, int t) const {
    p *= 1.0 - lr * weight_decay;
    m = beta1 * m + (1.0 - beta1) * g;
    v = beta2 * v + (1.0 - beta2) * g * g;
    const double denom = std::sqrt(v) / std::sqrt(1.0 - std::pow(beta2, t)) + eps;
    p -= lr / (1.0 - std::pow(beta1, t)) * m / denom;
  }
};

const Array& exp_avg(const optim::OptimizerState& state, const std::string& name) {
  for (const auto& [key, array] : state.arrays) {
    if (key == name) return array;
  }
  throw std::logic_error("no array " + name);
}

void set_dense_grad(const Tensor& p, const Array& g) {
  p.mutable_grad().clear();
  p.mutable_grad().add(Array(g));
}

}  // namespace

TEST_CASE("AdamW's dense update matches the formula in double over three steps with weight decay",
          "[optim][adamw]") {
  const Array initial{{0.5f, -1.25f, 2.0f}, {0.0f, 0.75f, -0.3f}};
  const Tensor w = Tensor::parameter(initial, "w");
  AdamWOptions options;
  options.weight_decay = 0.1f;
  options.beta2 = 0.99f;
  const float lr = 0.05f;
  AdamW adamw({w}, lr, options);
  const Reference ref{lr, options.beta1, options.beta2, options.eps, options.weight_decay};

  std::vector<double> p(initial.begin(), initial.end()), m(6, 0.0), v(6, 0.0);
  const Array grads[3] = {Array{{0.1f, -0.2f, 0.3f}, {-0.4f, 0.0f, 1.5f}},
                          Array{{-0.3f, -0.1f, 0.2f}, {0.6f, 0.25f, -1.0f}},
                          Array{{0.05f, 0.4f, -0.7f}, {0.2f, -0.5f, 0.9f}}};
  for (int t = 1; t <= 3; ++t) {
    set_dense_grad(w, grads[t - 1]);
    adamw.step();
    for (std::size_t i = 0; i < 6; ++i) ref.step(p[i], m[i], v[i], grads[t - 1].data()[i], t);
    for (std::size_t i = 0; i < 6; ++i) {
      INFO("step " << t << ", element " << i);
      CHECK(w.value().data()[i] == Approx(p[i]).epsilon(1e-5).margin(1e-7));
    }
  }
  const optim::OptimizerState state = adamw.state();
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(exp_avg(state, "w.exp_avg").data()[i] == Approx(m[i]).epsilon(1e-5).margin(1e-7));
    CHECK(exp_avg(state, "w.exp_avg_sq").data()[i] == Approx(v[i]).epsilon(1e-5).margin(1e-9));
  }
  CHECK(state.step == 3);
}

// PyTorch 1.13 (torch.__version__ 1.13.0a0, Debian's python3-torch; CPU, float32): the numbers
// below are what this script printed, run with /usr/bin/python3:
//   import torch
//   torch.set_printoptions(precision=10)
//   w = torch.tensor([[0.5, -1.25, 2.0], [0.0, 0.75, -0.3]], requires_grad=True)
//   opt = torch.optim.AdamW([w], lr=0.05, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
//   for g in ([[0.1, -0.2, 0.3], [-0.4, 0.0, 1.5]], [[-0.3, -0.1, 0.2], [0.6, 0.25, -1.0]],
//             [[0.05, 0.4, -0.7], [0.2, -0.5, 0.9]]):
//       w.grad = torch.tensor(g); opt.step()
//   print([float(x) for x in w.detach().flatten()])
TEST_CASE("AdamW gives PyTorch's AdamW bits after three steps", "[optim][adamw][torch]") {
  const Tensor w = Tensor::parameter(Array{{0.5f, -1.25f, 2.0f}, {0.0f, 0.75f, -0.3f}}, "w");
  AdamWOptions options;
  options.weight_decay = 0.1f;
  options.beta2 = 0.99f;
  AdamW adamw({w}, 0.05f, options);
  const Array grads[3] = {Array{{0.1f, -0.2f, 0.3f}, {-0.4f, 0.0f, 1.5f}},
                          Array{{-0.3f, -0.1f, 0.2f}, {0.6f, 0.25f, -1.0f}},
                          Array{{0.05f, 0.4f, -0.7f}, {0.2f, -0.5f, 0.9f}}};
  for (const Array& g : grads) {
    set_dense_grad(w, g);
    adamw.step();
  }
  const double torch_values[6] = {0.4814574420452118, -1.145694613456726, 1.8835371732711792,
                                   0.019404686987400055, 0.7175265550613403, -0.3715239465236664};
  for (std::size_t i = 0; i < 6; ++i) {
    INFO("element " << i);
    CHECK(w.value().data()[i] == static_cast<float>(torch_values[i]));  // bit for bit
  }
}

TEST_CASE("AdamW decays only parameters with two or more dimensions by default",
          "[optim][adamw]") {
  const Array kernel_initial{{1.0f, -2.0f}, {0.5f, 4.0f}};
  const Array bias_initial{3.0f, -1.0f};
  const Tensor kernel = Tensor::parameter(kernel_initial, "kernel");
  const Tensor bias = Tensor::parameter(bias_initial, "bias");
  AdamWOptions options;
  options.weight_decay = 0.5f;
  AdamW adamw({kernel, bias}, 0.1f, options);
  CHECK(adamw.weight_decay(0) == 0.5f);
  CHECK(adamw.weight_decay(1) == 0.0f);
  // A zero gradient leaves m = v = 0, so the Adam term is 0 / eps = 0 and only decay acts.
  set_dense_grad(kernel, zeros_array({2, 2}));
  set_dense_grad(bias, zeros_array({2}));
  adamw.step();
  const float factor = static_cast<float>(1.0 - 0.1 * 0.5);  // 1 - lr * wd
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(kernel.value().data()[i] == kernel_initial.data()[i] * factor);
  }
  CHECK(bit_equal(bias.value(), bias_initial));
}

TEST_CASE("AdamW parameter groups give each group's weight decay whatever the rank",
          "[optim][adamw]") {
  const Tensor kernel = Tensor::parameter(Array{{1.0f, -2.0f}}, "kernel");
  const Tensor norm = Tensor::parameter(Array{2.0f, 4.0f}, "norm");
  AdamWOptions options;
  options.weight_decay = 0.9f;  // not used with groups
  AdamW adamw(std::vector<ParameterGroup>{{{kernel}, 0.0f}, {{norm}, 0.25f}}, 0.2f, options);
  CHECK(adamw.weight_decay(0) == 0.0f);
  CHECK(adamw.weight_decay(1) == 0.25f);
  set_dense_grad(kernel, zeros_array({1, 2}));
  set_dense_grad(norm, zeros_array({2}));
  adamw.step();
  CHECK((kernel.value() == Array{{1.0f, -2.0f}}));
  const float factor = static_cast<float>(1.0 - 0.2 * 0.25);
  CHECK((norm.value() == Array{2.0f * factor, 4.0f * factor}));
}

TEST_CASE("AdamW leaves a parameter with no gradient untouched, values and moments",
          "[optim][adamw]") {
  const Tensor a = Tensor::parameter(Array{{1.0f, 2.0f}}, "a");
  const Tensor b = Tensor::parameter(Array{{3.0f, 4.0f}}, "b");
  AdamW adamw({a, b}, 0.1f);
  set_dense_grad(a, Array{{0.5f, -0.5f}});
  adamw.step();
  CHECK((b.value() == Array{{3.0f, 4.0f}}));
  const optim::OptimizerState state = adamw.state();
  CHECK((exp_avg(state, "b.exp_avg") == zeros_array({1, 2})));
  CHECK((exp_avg(state, "b.exp_avg_sq") == zeros_array({1, 2})));
  CHECK_FALSE((a.value() == Array{{1.0f, 2.0f}}));
}

TEST_CASE("AdamW's bias correction uses the optimiser's step count, also after missed steps",
          "[optim][adamw]") {
  const Tensor a = Tensor::parameter(Array{0.0f}, "a");
  const Tensor b = Tensor::parameter(Array{1.0f}, "b");
  AdamWOptions options;
  options.weight_decay = 0.0f;
  const float lr = 0.1f;
  AdamW adamw({a, b}, lr, options);
  set_dense_grad(a, Array{1.0f});
  adamw.step();  // t = 1: b has no gradient
  adamw.zero_grad();
  set_dense_grad(a, Array{1.0f});
  set_dense_grad(b, Array{2.0f});
  adamw.step();  // t = 2: b's first update, from zero moments, with t = 2's corrections
  CHECK(adamw.steps() == 2);
  const Reference ref{lr, options.beta1, options.beta2, options.eps, 0.0};
  double p = 1.0, m = 0.0, v = 0.0;
  ref.step(p, m, v, 2.0, 2);
  CHECK(b.value()(0) == Approx(p).epsilon(1e-6));
  // With a per-parameter count (t = 1) the step would be lr * g / |g| = 0.1, not ~0.0744.
  CHECK(b.value()(0) == Approx(1.0 - 0.0744).epsilon(1e-3));
}

TEST_CASE("A lazy sparse AdamW step changes only the gradient's rows, as a dense step would",
          "[optim][adamw][sparse]") {
  const Shape shape{6, 3};
  const Array initial = testing::hashed_values(shape, 11);
  const Tensor sparse_table = Tensor::parameter(initial, "table");
  const Tensor dense_table = Tensor::parameter(initial, "table");
  AdamW sparse_adamw({sparse_table}, 0.01f);  // default weight decay 0.01 on this 2-D table
  AdamW dense_adamw({dense_table}, 0.01f);
  const std::int32_t rows[2][3] = {{4, 1, 4}, {1, 4, 1}};
  const Array values[2] = {testing::hashed_values({3, 3}, 1), testing::hashed_values({3, 3}, 2)};
  for (int s = 0; s < 2; ++s) {
    sparse_table.mutable_grad().scatter_add_rows(rows[s], 3, values[s].data());
    REQUIRE(sparse_table.grad().kind() == Gradient::Kind::row_sparse);
    set_dense_grad(dense_table, sparse_table.grad().to_dense());
    sparse_adamw.step();
    dense_adamw.step();
    sparse_adamw.zero_grad();
    dense_adamw.zero_grad();
  }
  const optim::OptimizerState sparse_state = sparse_adamw.state();
  const optim::OptimizerState dense_state = dense_adamw.state();
  const std::size_t width = 3;
  auto row = [&](const Array& a, std::size_t r) {
    return Array(xt::view(a, r, xt::all()));
  };
  for (std::size_t r = 0; r < 6; ++r) {
    INFO("row " << r);
    if (r == 1 || r == 4) {
      CHECK(bit_equal(row(sparse_table.value(), r), row(dense_table.value(), r)));
      CHECK(bit_equal(row(exp_avg(sparse_state, "table.exp_avg"), r),
                      row(exp_avg(dense_state, "table.exp_avg"), r)));
      CHECK(bit_equal(row(exp_avg(sparse_state, "table.exp_avg_sq"), r),
                      row(exp_avg(dense_state, "table.exp_avg_sq"), r)));
    } else {
      CHECK(bit_equal(row(sparse_table.value(), r), row(initial, r)));  // not even decayed
      CHECK(bit_equal(row(exp_avg(sparse_state, "table.exp_avg"), r), zeros_array({width})));
      CHECK(bit_equal(row(exp_avg(sparse_state, "table.exp_avg_sq"), r), zeros_array({width})));
      // The dense step did decay them: the laziness is observable.
      CHECK_FALSE(bit_equal(row(dense_table.value(), r), row(initial, r)));
    }
  }
  // A third step on row 1 alone leaves row 4, values and moments, as it was.
  const Array before = sparse_table.value();
  const std::int32_t only_one[1] = {1};
  sparse_table.mutable_grad().scatter_add_rows(only_one, 1, values[0].data());
  sparse_adamw.step();
  const optim::OptimizerState after = sparse_adamw.state();
  CHECK(testing::changed_rows(before, sparse_table.value()) == std::vector<std::size_t>{1});
  CHECK(bit_equal(row(exp_avg(after, "table.exp_avg"), 4),
                  row(exp_avg(sparse_state, "table.exp_avg"), 4)));
  CHECK(bit_equal(row(exp_avg(after, "table.exp_avg_sq"), 4),
                  row(exp_avg(sparse_state, "table.exp_avg_sq"), 4)));
}

TEST_CASE("AdamW gives the same bits at 1 and 2 threads, dense and sparse",
          "[optim][adamw][threads]") {
  const Shape dense_shape{512, 600}, table_shape{4000, 64};
  std::vector<std::int32_t> ids(3000);
  for (std::size_t t = 0; t < ids.size(); ++t) ids[t] = static_cast<std::int32_t>((t * 7919) % 4000);
  const Array row_values = testing::hashed_values({ids.size(), 64}, 5);
  auto run = [&](std::size_t threads) {
    set_num_threads(threads);
    const Tensor w = Tensor::parameter(testing::hashed_values(dense_shape, 1), "w");
    const Tensor table = Tensor::parameter(testing::hashed_values(table_shape, 2), "table");
    AdamW adamw({w, table}, 1e-3f);
    for (int s = 0; s < 2; ++s) {
      set_dense_grad(w, testing::hashed_values(dense_shape, 3 + static_cast<std::uint32_t>(s)));
      table.mutable_grad().scatter_add_rows(ids.data(), ids.size(), row_values.data());
      adamw.step();
      adamw.zero_grad();
    }
    set_num_threads(1);
    return std::make_pair(Array(w.value()), Array(table.value()));
  };
  const auto one = run(1);
  const std::size_t regions_before = parallel_regions_run();
  const auto two = run(2);
  CHECK(parallel_regions_run() > regions_before);
  CHECK(bit_equal(one.first, two.first));
  CHECK(bit_equal(one.second, two.second));
}

TEST_CASE("AdamW's vectorised loop gives the bits of its scalar loop", "[optim][adamw]") {
  // 19 elements: whole SIMD batches and a scalar tail, against 19 one-element parameters,
  // which the scalar tail alone updates. Groups, so both get the same weight decay.
  const Array initial = testing::hashed_values({19}, 4);
  const Tensor whole = Tensor::parameter(initial, "whole");
  std::vector<Tensor> singles;
  for (std::size_t i = 0; i < 19; ++i) {
    singles.push_back(Tensor::parameter(Array{initial(i)}, "single" + std::to_string(i)));
  }
  AdamW vectorised(std::vector<ParameterGroup>{{{whole}, 0.1f}}, 0.01f);
  AdamW scalar(std::vector<ParameterGroup>{{singles, 0.1f}}, 0.01f);
  for (std::uint32_t step = 0; step < 3; ++step) {
    const Array g = testing::hashed_values({19}, 20 + step);
    set_dense_grad(whole, g);
    for (std::size_t i = 0; i < 19; ++i) set_dense_grad(singles[i], Array{g(i)});
    vectorised.step();
    scalar.step();
  }
  for (std::size_t i = 0; i < 19; ++i) {
    INFO("element " << i);
    CHECK(bit_equal(Array{whole.value()(i)}, singles[i].value()));
  }
  CHECK_FALSE(bit_equal(whole.value(), initial));
}

TEST_CASE("AdamW refuses bad hyper-parameters and parameters", "[optim][adamw]") {
  const Tensor w = Tensor::parameter(Array{{1.0f, 2.0f}}, "w");
  auto with = [](auto change) {
    AdamWOptions options;
    change(options);
    return options;
  };
  CHECK_THROWS_AS(AdamW({w}, -1e-3f), std::invalid_argument);
  CHECK_THROWS_AS(AdamW({w}, std::nanf("")), std::invalid_argument);
  CHECK_THROWS_AS(AdamW({w}, 1e-3f, with([](AdamWOptions& o) { o.beta1 = 1.0f; })),
                  std::invalid_argument);
  CHECK_THROWS_AS(AdamW({w}, 1e-3f, with([](AdamWOptions& o) { o.beta2 = -0.1f; })),
                  std::invalid_argument);
  CHECK_THROWS_AS(AdamW({w}, 1e-3f, with([](AdamWOptions& o) { o.eps = std::nanf(""); })),
                  std::invalid_argument);
  CHECK_THROWS_AS(AdamW({w}, 1e-3f, with([](AdamWOptions& o) { o.weight_decay = -0.1f; })),
                  std::invalid_argument);
  CHECK_THROWS_AS(AdamW(std::vector<ParameterGroup>{{{w}, -1.0f}}, 1e-3f), std::invalid_argument);
  CHECK_THROWS_WITH(AdamW({w, Tensor(Array{1.0f}, false, "frozen")}, 1e-3f),
                    Catch::Contains("parameter 1 ('frozen') does not require a gradient"));
  CHECK_THROWS_AS(AdamW({Tensor()}, 1e-3f), std::invalid_argument);
  AdamW adamw({w}, 1e-3f);
  CHECK_THROWS_AS(adamw.set_lr(-1.0f), std::invalid_argument);
  CHECK(adamw.lr() == 1e-3f);
}

TEST_CASE("AdamW refuses empty and repeated parameter names, which key its state",
          "[optim][adamw]") {
  const Tensor a = Tensor::parameter(Array{1.0f}, "a");
  const Tensor other_a = Tensor::parameter(Array{2.0f}, "a");
  const Tensor unnamed = Tensor::parameter(Array{3.0f}, "");
  CHECK_THROWS_WITH(AdamW({a, other_a}, 1e-3f), Catch::Contains("both named 'a'"));
  CHECK_THROWS_WITH(AdamW({a, a}, 1e-3f), Catch::Contains("both named 'a'"));
  CHECK_THROWS_WITH(AdamW({a, unnamed}, 1e-3f), Catch::Contains("parameter 1 has no name"));
  CHECK_THROWS_AS(AdamW(std::vector<ParameterGroup>{{{a}, 0.0f}, {{other_a}, 0.0f}}, 1e-3f),
                  std::invalid_argument);
}
