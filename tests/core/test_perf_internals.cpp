// Specification of the internals that make steps fast without changing results: the
// buffer pool, uniform (not yet written out) gradients, the bulk row scatter, and the
// cross-entropy gradient prepared by the forward pass.
#include <cmath>

#include <catch2/catch.hpp>

#include "core/detail/buffer_pool.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;
using testing::bit_equal;
using testing::hashed_values;

TEST_CASE("A released large buffer is taken again by the next array of its size",
          "[core][buffer_pool]") {
  buffer_pool::release_all();
  const std::size_t n = buffer_pool::kMinPooledFloats * 2;
  Array first = buffer_pool::take({2, n / 2});
  const float* storage = first.data();
  buffer_pool::give_back(first);
  CHECK(buffer_pool::cached_bytes() == n * sizeof(float));
  const Array second = buffer_pool::take({n});
  CHECK(second.data() == storage);
  CHECK(second.shape().size() == 1);
  CHECK(buffer_pool::cached_bytes() == 0);
}

TEST_CASE("A cached buffer no tape takes is freed after two tapes end", "[core][buffer_pool]") {
  buffer_pool::release_all();
  Array a = buffer_pool::take({buffer_pool::kMinPooledFloats});
  buffer_pool::give_back(a);
  { Tape tape; }
  CHECK(buffer_pool::cached_bytes() > 0);
  { Tape tape; }
  { Tape tape; }
  CHECK(buffer_pool::cached_bytes() == 0);
}

TEST_CASE("An op's output and its gradient take back their own buffers next step",
          "[core][buffer_pool]") {
  // The cache is last-in first-out and a step takes an output before its gradient, so a
  // node must return them in the opposite order for each buffer to keep its role.
  buffer_pool::release_all();
  const std::size_t n = buffer_pool::kMinPooledFloats;
  const Tensor x = Tensor::parameter(hashed_values({n}, 3), "x");
  auto step = [&] {
    Tape tape;
    const Tensor y = tanh(tape, x);
    tape.backward(mean_square(tape, y));
    return std::make_pair(y.value().data(), y.grad().dense().data());
  };
  const auto first = step();
  const auto second = step();
  CHECK(first.first != first.second);
  CHECK(second.first == first.first);
  CHECK(second.second == first.second);
}

TEST_CASE("Small arrays are left to malloc", "[core][buffer_pool]") {
  buffer_pool::release_all();
  Array small = buffer_pool::take({3});
  buffer_pool::give_back(small);
  CHECK(buffer_pool::cached_bytes() == 0);
}

TEST_CASE("A uniform gradient reads as dense and accumulates like a written one", "[core][gradient]") {
  Gradient g(Shape{2, 3});
  g.add_uniform(0.5f);
  REQUIRE(g.kind() == Gradient::Kind::dense);
  REQUIRE(g.uniform_value().has_value());
  g.add_uniform(0.25f);
  CHECK(*g.uniform_value() == 0.75f);
  CHECK(g.norm() == Approx(0.75 * std::sqrt(6.0)));  // reading writes it out
  CHECK_FALSE(g.uniform_value().has_value());
  g.add_dense(Array{{1, 0, 0}, {0, 0, 2}}, "test");
  CHECK(bit_equal(g.dense(), Array{{1.75f, 0.75f, 0.75f}, {0.75f, 0.75f, 2.75f}}));
}

TEST_CASE("A uniform gradient of -0 reads as +0, as adding to zeros gives", "[core][gradient]") {
  Gradient g(Shape{2});
  g.add_uniform(-0.0f);
  CHECK_FALSE(std::signbit(g.dense()(0)));
}

TEST_CASE("Sparse rows added to a uniform gradient land on top of the value", "[core][gradient]") {
  Gradient g(Shape{3, 2});
  g.add_uniform(1.0f);
  g.accumulate_row(1)[0] += 2.0f;
  CHECK(bit_equal(g.dense(), Array{{1, 1}, {3, 1}, {1, 1}}));
}

TEST_CASE("Scatter of rows equals adding them one by one, skipped rows aside", "[core][row_sparse_grad]") {
  const std::vector<std::int32_t> rows{4, 1, 4, 0, 9, 1, 4};
  const Array values = hashed_values({rows.size(), 3}, 5);
  RowSparseGrad bulk(10, 3), one_by_one(10, 3);
  one_by_one.accumulate_row(1)[2] += 1.0f;  // a row present before the scatter
  bulk.accumulate_row(1)[2] += 1.0f;
  bulk.scatter_add(rows.data(), rows.size(), values.data(), 9);
  for (std::size_t t = 0; t < rows.size(); ++t) {
    if (rows[t] == 9) continue;
    float* dst = one_by_one.accumulate_row(rows[t]);
    for (std::size_t j = 0; j < 3; ++j) dst[j] += values.data()[t * 3 + j];
  }
  CHECK(bulk.rows() == std::vector<std::int32_t>{1, 4, 0});
  CHECK(bulk.rows() == one_by_one.rows());
  CHECK(bit_equal(bulk.to_dense(), one_by_one.to_dense()));
}

// dY = 0 + factor * y written out, as a materialised mean_square gradient would be.
static Array written_out(const Array& y, float factor) {
  Array dy = Array::from_shape(shape_of(y));
  for (std::size_t i = 0; i < y.size(); ++i) dy.data()[i] = 0.0f + factor * y.data()[i];
  return dy;
}

TEST_CASE("A scaled gradient reads as the bits of writing it out", "[core][gradient]") {
  const Tensor x = Tensor::parameter(hashed_values({4, 3}, 21), "x");
  x.add_scaled_value_to_grad(-0.375f, "test");
  const Gradient& g = x.grad();
  REQUIRE(g.kind() == Gradient::Kind::dense);
  REQUIRE(g.scaled_value().has_value());
  CHECK(g.scaled_value()->source == x.value().data());
  CHECK(bit_equal(g.dense(), written_out(x.value(), -0.375f)));
  CHECK_FALSE(g.scaled_value().has_value());  // reading wrote it out
}

TEST_CASE("A scaled gradient of -0 reads as +0, as adding to zeros gives", "[core][gradient]") {
  const Tensor x = Tensor::parameter(Array{-0.0f, 1.0f}, "x");
  x.add_scaled_value_to_grad(2.0f, "test");
  CHECK_FALSE(std::signbit(x.grad().dense()(0)));
}

TEST_CASE("Embedding backward of mean_square equals scattering the written-out gradient",
          "[core][gradient][ops]") {
  // Repeated ids make the scatter add products to rows already started: the case where a
  // fused multiply-add would change the bits.
  const Tensor table = Tensor::parameter(hashed_values({6, 5}, 22), "table");
  const std::vector<std::int64_t> ids{3, 1, 3, 3, 0, 1, 5, 3};
  Tape tape;
  const Tensor y = embedding_lookup(tape, table, TokenIds(ids));
  tape.backward(mean_square(tape, y));
  REQUIRE(table.grad().kind() == Gradient::Kind::row_sparse);

  const float factor = static_cast<float>(2.0 / static_cast<double>(y.size()));
  const Array dy = written_out(y.value(), factor);
  const std::vector<std::int32_t> rows(ids.begin(), ids.end());
  RowSparseGrad expected(6, 5);
  expected.scatter_add(rows.data(), rows.size(), dy.data());
  CHECK(table.grad().row_sparse().rows() == expected.rows());
  CHECK(bit_equal(table.grad().to_dense(), expected.to_dense()));
}

TEST_CASE("Changing a tensor's value after backward leaves its gradient as it was",
          "[core][gradient]") {
  const Tensor x = Tensor::parameter(hashed_values({3, 4}, 23), "x");
  const Array before = x.value();
  Tape tape;
  tape.backward(mean_square(tape, x));
  const Gradient copy = x.grad();  // a copy must not follow x either
  x.mutable_value().fill(7.0f);
  const Array expected = written_out(before, static_cast<float>(2.0 / 12.0));
  CHECK(bit_equal(x.grad().dense(), expected));
  CHECK(bit_equal(copy.dense(), expected));
}

TEST_CASE("A second backward over the same tape adds the mean_square gradient again",
          "[core][gradient][ops]") {
  const Tensor x = Tensor::parameter(hashed_values({5}, 24), "x");
  Tape tape;
  const Tensor loss = mean_square(tape, x);
  tape.backward(loss);
  tape.backward(loss);  // the loss's gradient is now 2, so 2 * dX is added: 3 * dX in all
  const Array once = written_out(x.value(), static_cast<float>(2.0 / 5.0));
  for (std::size_t i = 0; i < 5; ++i) CHECK(x.grad().dense()(i) == once(i) + 2.0f * once(i));
}

TEST_CASE("A second backward over the same tape adds the cross-entropy gradient again",
          "[core][ops][cross_entropy]") {
  const Tensor logits = Tensor::parameter(hashed_values({4, 5}, 9), "z");
  Tape tape;
  const Tensor loss = softmax_cross_entropy(tape, logits, TokenIds{0, 3, 3, 1});
  tape.backward(loss);
  const Array once = logits.grad().dense();
  tape.backward(loss);  // the loss's gradient is now 2, so 2 * dZ is added: 3 * dZ in all
  const Array thrice = logits.grad().dense();
  for (std::size_t i = 0; i < once.size(); ++i) {
    CHECK(thrice.data()[i] == Approx(3.0f * once.data()[i]).margin(1e-7));
  }
}

TEST_CASE("softmax_cross_entropy with a scaled loss scales its gradient", "[core][ops][cross_entropy]") {
  const Tensor logits = Tensor::parameter(hashed_values({3, 4}, 2), "z");
  Tape tape;
  const Tensor loss = softmax_cross_entropy(tape, logits, TokenIds{1, 0, 3});
  tape.backward(loss, Array(0.5f));
  const Array half = logits.grad().dense();
  logits.mutable_grad().clear();
  Tape again;
  again.backward(softmax_cross_entropy(again, logits, TokenIds{1, 0, 3}));
  for (std::size_t i = 0; i < half.size(); ++i) {
    CHECK(half.data()[i] == Approx(0.5f * logits.grad().dense().data()[i]).margin(1e-8));
  }
}
