// Specification of the buffer cache behind uninitialized_array: large buffers released by
// tensors and gradients are taken again by the next array of their size, and nothing but
// the cache's own size limit ever frees them.
#include <catch2/catch.hpp>

#include "core/detail/buffer_pool.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;
using testing::hashed_values;

namespace {

// One training step on x: returns the addresses of y's value and gradient.
std::pair<const float*, const float*> tanh_step(const Tensor& x) {
  Tape tape;
  const Tensor y = tanh(tape, x);
  tape.backward(mean_square(tape, y));
  return {y.value().data(), y.grad().dense().data()};
}

}  // namespace

TEST_CASE("A released large buffer is taken again by the next array of its size",
          "[core][buffer_pool]") {
  buffer_pool::release_all();
  const std::size_t n = buffer_pool::kMinPooledFloats * 2;
  Array first = buffer_pool::take({2, n / 2});
  const float* storage = first.data();
  buffer_pool::give_back(first);
  CHECK(first.size() == 0);
  CHECK(buffer_pool::cached_bytes() == n * sizeof(float));
  const Array second = buffer_pool::take({n});
  CHECK(second.data() == storage);
  CHECK(second.shape().size() == 1);
  CHECK(buffer_pool::cached_bytes() == 0);
}

TEST_CASE("Small arrays are left to malloc", "[core][buffer_pool]") {
  buffer_pool::release_all();
  Array small = buffer_pool::take({3});
  buffer_pool::give_back(small);
  CHECK(buffer_pool::cached_bytes() == 0);
}

TEST_CASE("The cache keeps a bounded number of buffers of one size, the newest",
          "[core][buffer_pool]") {
  buffer_pool::release_all();
  const std::size_t n = buffer_pool::kMinPooledFloats;
  std::vector<Array> arrays;
  for (std::size_t k = 0; k < buffer_pool::kMaxBuffersPerSize + 2; ++k) {
    arrays.push_back(buffer_pool::take({n}));
  }
  const float* newest = arrays.back().data();
  for (Array& a : arrays) buffer_pool::give_back(a);
  CHECK(buffer_pool::cached_bytes() == buffer_pool::kMaxBuffersPerSize * n * sizeof(float));
  CHECK(buffer_pool::take({n}).data() == newest);
  buffer_pool::release_all();
  CHECK(buffer_pool::cached_bytes() == 0);
}

TEST_CASE("An op's output and its gradient take back their own buffers next step",
          "[core][buffer_pool]") {
  // The cache is last-in first-out and a step takes an output before its gradient, so a
  // node must return them in the opposite order for each buffer to keep its role.
  buffer_pool::release_all();
  const std::size_t n = buffer_pool::kMinPooledFloats;
  const Tensor x = Tensor::parameter(hashed_values({n}, 3), "x");
  const auto first = tanh_step(x);
  const auto second = tanh_step(x);
  CHECK(first.first != first.second);
  CHECK(second.first == first.first);
  CHECK(second.second == first.second);
}

TEST_CASE("An evaluation between two training steps leaves the step's buffers cached",
          "[core][buffer_pool]") {
  buffer_pool::release_all();
  const std::size_t n = buffer_pool::kMinPooledFloats;
  const Tensor x = Tensor::parameter(hashed_values({n}, 4), "x");
  const float* first = tanh_step(x).first;
  const std::size_t after_step = buffer_pool::cached_bytes();
  for (int k = 0; k < 20; ++k) {  // many evaluation tapes, with arrays of another size
    Tape tape(Tape::Mode::inference);
    const Tensor big(hashed_values({3 * n}, 5));
    mean_square(tape, tanh(tape, big));
  }
  CHECK(buffer_pool::cached_bytes() >= after_step);
  CHECK(tanh_step(x).first == first);
}
