// micrograd's two engine tests (karpathy/micrograd, test/test_engine.py), written with
// xgrad's operators as they are written there, against the values micrograd publishes
// (computed in double by micrograd and PyTorch; float32 here, so relative 1e-6).
#include <catch2/catch.hpp>

#include "core/operators.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;

namespace {

Tensor scalar(float value, const char* name) { return Tensor::parameter(Array(value), name); }

bool close(double got, double expected) {
  return std::abs(got - expected) <= 1e-6 * std::abs(expected);
}

}  // namespace

TEST_CASE("micrograd's sanity check gives its published value and gradient",
          "[core][operators][micrograd]") {
  const Tensor x = scalar(-4.0f, "x");
  Tape tape;
  Tensor y;
  {
    TapeScope scope(tape);
    const Tensor z = 2 * x + 2 + x;
    const Tensor q = relu(z) + z * x;
    const Tensor h = relu(z * z);
    y = h + q + q * x;
  }
  tape.backward(y);
  CHECK(y.value()() == -20.0f);
  CHECK(x.grad().dense()() == 46.0f);
}

TEST_CASE("micrograd's more-ops test gives its published value and gradients",
          "[core][operators][micrograd]") {
  const Tensor a = scalar(-4.0f, "a");
  const Tensor b = scalar(2.0f, "b");
  Tape tape;
  Tensor g;
  {
    TapeScope scope(tape);
    Tensor c = a + b;
    Tensor d = a * b + pow(b, 3);
    c += c + 1;
    c += 1 + c + (-a);
    d += d * 2 + relu(b + a);
    d += 3 * d + relu(b - a);
    const Tensor e = c - d;
    const Tensor f = pow(e, 2);
    g = f / 2.0;
    g += 10.0 / f;
  }
  tape.backward(g);
  CHECK(close(g.value()(), 24.70408163265306));
  CHECK(close(a.grad().dense()(), 138.83381924198252));
  CHECK(close(b.grad().dense()(), 645.5772594752187));
}
