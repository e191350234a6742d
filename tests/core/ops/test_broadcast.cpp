// Specification of add_broadcast: x (..., T, C) + rows (T, C).
#include <catch2/catch.hpp>

#include "core/detail/parallel.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;
using Catch::Matchers::Contains;
using testing::bit_equal;
using testing::hashed_values;

TEST_CASE("add_broadcast adds the rows to every sequence of the batch", "[core][ops][broadcast]") {
  Tape tape;
  const Tensor x(Array{{{1, 2, 3}, {4, 5, 6}}, {{10, 20, 30}, {40, 50, 60}}});  // (2, 2, 3)
  const Tensor rows(Array{{0.5f, 0, -1}, {100, 200, 300}});                      // (2, 3)
  CHECK((add_broadcast(tape, x, rows).value() ==
         Array{{{1.5f, 2, 2}, {104, 205, 306}}, {{10.5f, 20, 29}, {140, 250, 360}}}));
}

TEST_CASE("add_broadcast of x with no leading axes is a plain sum", "[core][ops][broadcast]") {
  Tape tape;
  const Tensor x(Array{{1, 2}, {3, 4}});
  const Tensor rows(Array{{10, 20}, {30, 40}});
  CHECK((add_broadcast(tape, x, rows).value() == Array{{11, 22}, {33, 44}}));
}

TEST_CASE("add_broadcast backward gives dx = dout and drows = dout summed over the leading axes",
          "[core][ops][broadcast]") {
  const Tensor x = Tensor::parameter(zeros_array({2, 3, 2, 2}), "x");  // leading axes (2, 3)
  const Tensor rows = Tensor::parameter(zeros_array({2, 2}), "rows");
  Array seed = Array::from_shape({2, 3, 2, 2});
  for (std::size_t i = 0; i < seed.size(); ++i) seed.data()[i] = static_cast<float>(i);
  Tape tape;
  tape.backward(add_broadcast(tape, x, rows), seed);
  CHECK(bit_equal(x.grad().dense(), seed));
  // Element p of the (2, 2) plane collects seed[b * 4 + p] for b = 0..5: 6p + 4 * (0+...+5).
  CHECK((rows.grad().dense() == Array{{60, 66}, {72, 78}}));
}

TEST_CASE("add_broadcast backward adds to gradients already there", "[core][ops][broadcast]") {
  const Tensor x = Tensor::parameter(hashed_values({3, 2, 4}, 1), "x");
  const Tensor rows = Tensor::parameter(hashed_values({2, 4}, 2), "rows");
  Tape tape;
  const Tensor y = add_broadcast(tape, x, rows);
  tape.backward(sum(tape, add(tape, y, add_broadcast(tape, x, rows))));
  CHECK((x.grad().dense() == xt::ones<float>({3, 2, 4}) * 2.0f));
  CHECK((rows.grad().dense() == xt::ones<float>({2, 4}) * 6.0f));
}

TEST_CASE("add_broadcast gradients match finite differences", "[core][ops][broadcast]") {
  const GradientCheckResult result = check_gradients(
      [](Tape& tape, const std::vector<Tensor>& in) {
        return tanh(tape, add_broadcast(tape, in[0], in[1]));
      },
      {Tensor::parameter(hashed_values({2, 3, 4, 5}, 3), "x"),
       Tensor::parameter(hashed_values({4, 5}, 4), "rows")});
  INFO(result.worst);
  CHECK(result.elements_checked == 2 * 3 * 4 * 5 + 4 * 5);
  CHECK(result.ok);
}

TEST_CASE("add_broadcast is bit-identical with 1 and 2 threads", "[core][ops][broadcast][threads]") {
  const Array xv = hashed_values({16, 128, 128}, 5);  // above parallel::kMinWork
  const Array rv = hashed_values({128, 128}, 6);
  const Array seed = hashed_values({16, 128, 128}, 7);
  struct Run {
    Array y, dx, drows;
  };
  auto run = [&](std::size_t threads) {
    set_num_threads(threads);
    const Tensor x = Tensor::parameter(xv, "x");
    const Tensor rows = Tensor::parameter(rv, "rows");
    Tape tape;
    const Tensor y = add_broadcast(tape, x, rows);
    tape.backward(y, seed);
    set_num_threads(1);
    return Run{y.value(), x.grad().dense(), rows.grad().dense()};
  };
  const Run one = run(1);
  const std::size_t regions_before = parallel_regions_run();
  const Run two = run(2);
  CHECK(parallel_regions_run() - regions_before >= 2);  // forward and backward were split
  CHECK(bit_equal(one.y, two.y));
  CHECK(bit_equal(one.dx, two.dx));
  CHECK(bit_equal(one.drows, two.drows));
}

TEST_CASE("add_broadcast rejects rows that are not x's last two axes, naming both shapes",
          "[core][ops][broadcast]") {
  Tape tape;
  const Tensor x = Tensor::parameter(zeros_array({2, 3, 4}), "x");
  CHECK_THROWS_AS(add_broadcast(tape, x, Tensor(zeros_array({4, 3}))), ShapeError);
  CHECK_THROWS_WITH(add_broadcast(tape, x, Tensor(zeros_array({4, 3}))),
                    "add_broadcast: rows must be (T, C) for x (..., T, C): x is (2, 3, 4), rows "
                    "is (4, 3)");
  CHECK_THROWS_WITH(add_broadcast(tape, x, Tensor(zeros_array({4}))),
                    Contains("rows is (4,)"));
  CHECK_THROWS_WITH(add_broadcast(tape, Tensor(zeros_array({4})), Tensor(zeros_array({1, 4}))),
                    Contains("x is (4,)"));
  CHECK(tape.size() == 0);
}
