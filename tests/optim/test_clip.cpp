// Specification of clip_grad_norm: the global L2 norm, PyTorch's scale, stored rows once.
#include <catch2/catch.hpp>

#include <cmath>

#include "tests/test_support.hpp"

using namespace xgrad;
using optim::clip_grad_norm;
using testing::bit_equal;

namespace {
Tensor with_dense_grad(const Array& grad, const std::string& name) {
  const Tensor p = Tensor::parameter(zeros_array(shape_of(grad)), name);
  p.mutable_grad().add(Array(grad));
  return p;
}
}  // namespace

TEST_CASE("clip_grad_norm returns the global norm and scales by max_norm / (norm + 1e-6) above it",
          "[optim][clip]") {
  // 3^2 + 4^2 + 12^2 = 169: the norm is 13.
  const Tensor a = with_dense_grad(Array{{3.0f, 4.0f}}, "a");
  const Tensor b = with_dense_grad(Array{12.0f}, "b");
  CHECK(clip_grad_norm({a, b}, 6.5f) == 13.0f);
  const float factor = static_cast<float>(6.5 / (13.0 + 1e-6));
  CHECK((a.grad().dense() == Array{{3.0f * factor, 4.0f * factor}}));
  CHECK((b.grad().dense() == Array{12.0f * factor}));
  CHECK(a.grad().dense()(0, 0) == Approx(1.5f));
  // The clipped gradients' norm is max_norm, up to the 1e-6.
  CHECK(clip_grad_norm({a, b}, 100.0f) == Approx(6.5f).epsilon(1e-6));
}

TEST_CASE("clip_grad_norm leaves gradients unchanged at or below max_norm", "[optim][clip]") {
  const Array ga{{3.0f, 4.0f}}, gb{12.0f};
  const Tensor a = with_dense_grad(ga, "a");
  const Tensor b = with_dense_grad(gb, "b");
  CHECK(clip_grad_norm({a, b}, 13.0f) == 13.0f);
  CHECK(clip_grad_norm({a, b}, 20.0f) == 13.0f);
  CHECK(bit_equal(a.grad().dense(), ga));
  CHECK(bit_equal(b.grad().dense(), gb));
}

TEST_CASE("clip_grad_norm counts a row-sparse gradient by its stored rows, once each",
          "[optim][clip][sparse]") {
  const Tensor table = Tensor::parameter(zeros_array({5, 2}), "table");
  const std::int32_t rows[3] = {1, 3, 1};
  const float values[6] = {1.0f, 2.0f, 0.0f, 12.0f, 2.0f, 2.0f};
  table.mutable_grad().scatter_add_rows(rows, 3, values);
  // Row 1 sums to (3, 4), row 3 is (0, 12): norm 13. Counting the three contributions
  // instead would give sqrt(1 + 4 + 144 + 4 + 4) = sqrt(157).
  CHECK(clip_grad_norm({table}, 6.5f) == 13.0f);
  REQUIRE(table.grad().kind() == Gradient::Kind::row_sparse);
  CHECK(table.grad().row_sparse().rows() == std::vector<std::int32_t>{1, 3});
  const float factor = static_cast<float>(6.5 / (13.0 + 1e-6));
  CHECK((table.grad().to_dense() == Array{{0.0f, 0.0f},
                                          {3.0f * factor, 4.0f * factor},
                                          {0.0f, 0.0f},
                                          {0.0f, 12.0f * factor},
                                          {0.0f, 0.0f}}));
}

TEST_CASE("clip_grad_norm counts parameters without a gradient as zero and leaves them empty",
          "[optim][clip]") {
  const Tensor a = with_dense_grad(Array{6.0f, 8.0f}, "a");
  const Tensor none = Tensor::parameter(Array{1.0f}, "none");
  CHECK(clip_grad_norm({none, a}, 1.0f) == 10.0f);
  CHECK(none.grad().empty());
  CHECK(clip_grad_norm({none}, 1.0f) == 0.0f);
}

TEST_CASE("clip_grad_norm leaves gradients alone when their norm is not finite", "[optim][clip]") {
  const Array g{INFINITY, 1.0f};
  const Tensor a = with_dense_grad(g, "a");
  CHECK(std::isinf(clip_grad_norm({a}, 1.0f)));
  CHECK(bit_equal(a.grad().dense(), g));
}

TEST_CASE("clip_grad_norm refuses a max_norm that is not finite and positive", "[optim][clip]") {
  const Tensor a = with_dense_grad(Array{6.0f, 8.0f}, "a");
  CHECK_THROWS_AS(clip_grad_norm({a}, 0.0f), std::invalid_argument);
  CHECK_THROWS_AS(clip_grad_norm({a}, -1.0f), std::invalid_argument);
  CHECK_THROWS_AS(clip_grad_norm({a}, std::nanf("")), std::invalid_argument);
  CHECK_THROWS_AS(clip_grad_norm({a}, INFINITY), std::invalid_argument);
  CHECK((a.grad().dense() == Array{6.0f, 8.0f}));
}
