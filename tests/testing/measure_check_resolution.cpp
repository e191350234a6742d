// Measures check_gradients' resolution per op: the largest |analytic - numeric| over every
// element, for a range of finite-difference steps, on inputs of order 1. float32 forward
// passes limit it: a small step loses digits to rounding (about eps * |L| / h), a large one
// to the function's curvature (about h^2 * |f'''|). docs/testing.md reports the numbers.
// Not a test (it asserts nothing); run: ./build/tests/gradient_check_resolution
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "tests/test_support.hpp"

using namespace xgrad;
using testing::hashed_values;

namespace {

struct Case {
  std::string name;
  CheckedFunction f;
  std::vector<Tensor> inputs;
};

Array scaled(Array a, float s) {
  for (float& v : a) v *= s;
  return a;
}

}  // namespace

int main() {
  const TokenIds ids{3, 0, 3, 7, 1, 3, 26, 0};
  const TokenIds targets{1, 4, 4, 0, 26, 9, 2, 2};
  std::vector<Case> cases;
  cases.push_back({"matmul (8,16)@(16,8)",
                   [](Tape& t, const std::vector<Tensor>& in) { return matmul(t, in[0], in[1]); },
                   {Tensor::parameter(hashed_values({8, 16}, 1), "x"),
                    Tensor::parameter(hashed_values({16, 8}, 2), "w")}});
  cases.push_back({"matmul (16,256)@(256,16)",
                   [](Tape& t, const std::vector<Tensor>& in) { return matmul(t, in[0], in[1]); },
                   {Tensor::parameter(hashed_values({16, 256}, 11), "x"),
                    Tensor::parameter(hashed_values({256, 16}, 12), "w")}});
  cases.push_back({"tanh (64,) in [-2,2]",
                   [](Tape& t, const std::vector<Tensor>& in) { return tanh(t, in[0]); },
                   {Tensor::parameter(scaled(hashed_values({64}, 3), 2.0f), "x")}});
  cases.push_back({"cross-entropy (8,27)",
                   [targets](Tape& t, const std::vector<Tensor>& in) {
                     return softmax_cross_entropy(t, in[0], targets);
                   },
                   {Tensor::parameter(scaled(hashed_values({8, 27}, 4), 3.0f), "logits")}});
  std::vector<std::int64_t> many(16);
  for (std::size_t i = 0; i < many.size(); ++i) many[i] = static_cast<std::int64_t>((i * 617) % 1000);
  const TokenIds wide_targets(many);
  cases.push_back({"cross-entropy (16,1000)",
                   [wide_targets](Tape& t, const std::vector<Tensor>& in) {
                     return softmax_cross_entropy(t, in[0], wide_targets);
                   },
                   {Tensor::parameter(scaled(hashed_values({16, 1000}, 13), 3.0f), "logits")}});
  cases.push_back({"embedding (27,8), dup ids",
                   [ids](Tape& t, const std::vector<Tensor>& in) { return embedding_lookup(t, in[0], ids); },
                   {Tensor::parameter(hashed_values({27, 8}, 5), "table")}});
  cases.push_back({"MLP: embed-matmul-tanh-matmul-CE",
                   [ids, targets](Tape& t, const std::vector<Tensor>& in) {
                     const Tensor h = tanh(t, matmul(t, embedding_lookup(t, in[0], ids), in[1]));
                     return softmax_cross_entropy(t, matmul(t, h, in[2]), targets);
                   },
                   {Tensor::parameter(hashed_values({27, 8}, 6), "table"),
                    Tensor::parameter(scaled(hashed_values({8, 16}, 7), 0.5f), "w1"),
                    Tensor::parameter(scaled(hashed_values({16, 27}, 8), 0.5f), "w2")}});

  const std::vector<double> steps{1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4};
  std::printf("%-34s", "largest |analytic - numeric|");
  for (const double h : steps) std::printf("  h=%-7.0e", h);
  std::printf("\n");
  for (const Case& c : cases) {
    std::printf("%-34s", c.name.c_str());
    for (const double h : steps) {
      GradientCheckOptions options;
      options.step = h;
      const GradientCheckResult r = check_gradients(c.f, c.inputs, options);
      std::printf("  %-9.2e", r.max_abs_error);
    }
    std::printf("\n");
  }
  return 0;
}
