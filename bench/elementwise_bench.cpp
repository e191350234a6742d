// Broadcast add and mul of a (32, 64, 128) array with (128,), (32, 64, 1) and (32, 64, 128):
// xgrad's forward op on an inference tape (a new output each call, from the buffer cache)
// against a hand-written loop into a buffer allocated once, measured interleaved, medians
// over repeats. Prints one line per case for bench/elementwise_bench.py, which adds NumPy and
// the ratios. Not a test.
//
//   xgrad_elementwise_bench [--repeats N]
//   -> "<op>\t<b shape>\t<xgrad 1 thread us>\t<xgrad 2 threads us>\t<loop us>"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "xgrad.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// Keeps the compiler from dropping a loop whose output nobody reads.
void escape(const void* p) { asm volatile("" : : "g"(p) : "memory"); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

xgrad::Array filled(const xgrad::Shape& shape, float scale) {
  xgrad::Array a = xgrad::Array::from_shape(shape);
  for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = scale * static_cast<float>(i % 97) - 1.0f;
  return a;
}

constexpr std::size_t kRows = 32 * 64, kWidth = 128;

// The hand-written loops, one per shape of b, as a tuned C loop would be written.
template <class Op>
void loop(const float* a, const float* b, float* y, const xgrad::Shape& bs, Op op) {
  if (bs.size() == 1) {  // (128,): every row gets the same b
    for (std::size_t r = 0; r < kRows; ++r) {
      for (std::size_t j = 0; j < kWidth; ++j) y[r * kWidth + j] = op(a[r * kWidth + j], b[j]);
    }
  } else if (bs.back() == 1) {  // (32, 64, 1): one b per row
    for (std::size_t r = 0; r < kRows; ++r) {
      const float v = b[r];
      for (std::size_t j = 0; j < kWidth; ++j) y[r * kWidth + j] = op(a[r * kWidth + j], v);
    }
  } else {  // equal shapes
    for (std::size_t i = 0; i < kRows * kWidth; ++i) y[i] = op(a[i], b[i]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t repeats = 400;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--repeats") == 0) repeats = std::strtoul(argv[i + 1], nullptr, 10);
  }
  const xgrad::Shape as{32, 64, 128};
  const std::vector<xgrad::Shape> b_shapes{{128}, {32, 64, 1}, {32, 64, 128}};
  const xgrad::Tensor a(filled(as, 0.02f));
  std::vector<float> buffer(kRows * kWidth);
  for (const char* op_name : {"add", "mul"}) {
    const bool is_add = std::strcmp(op_name, "add") == 0;
    for (const xgrad::Shape& bs : b_shapes) {
      const xgrad::Tensor b(filled(bs, 0.03f));
      const auto run_xgrad = [&] {
        xgrad::Tape tape(xgrad::Tape::Mode::inference);
        const xgrad::Tensor y = is_add ? xgrad::add(tape, a, b) : xgrad::mul(tape, a, b);
        escape(y.value().data());
      };
      const auto run_loop = [&] {
        if (is_add) {
          loop(a.value().data(), b.value().data(), buffer.data(), bs, [](float x, float z) { return x + z; });
        } else {
          loop(a.value().data(), b.value().data(), buffer.data(), bs, [](float x, float z) { return x * z; });
        }
        escape(buffer.data());
      };
      // xgrad at 1 thread and the loop interleaved, then xgrad at 2 threads apart: after a
      // 2-thread region the pool's worker spins for a while, which would slow the other two.
      std::vector<double> one, two, hand;
      const auto time_us = [](const std::function<void()>& f) {
        const auto start = Clock::now();
        f();
        return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
      };
      xgrad::set_num_threads(1);
      for (std::size_t r = 0; r < repeats + 20; ++r) {
        const double t1 = time_us(run_xgrad);
        const double tl = time_us(run_loop);
        if (r < 20) continue;  // warm-up
        one.push_back(t1);
        hand.push_back(tl);
      }
      xgrad::set_num_threads(2);
      for (std::size_t r = 0; r < repeats + 20; ++r) {
        const double t2 = time_us(run_xgrad);
        if (r >= 20) two.push_back(t2);
      }
      xgrad::set_num_threads(1);
      std::printf("%s\t%s\t%.2f\t%.2f\t%.2f\n", op_name, xgrad::shape_string(bs).c_str(), median(one),
                  median(two), median(hand));
    }
  }
  // The fixed cost of one call: add of two (4,) arrays, 10000 calls per repeat.
  {
    const xgrad::Tensor x(filled({4}, 0.1f)), z(filled({4}, 0.2f));
    std::vector<double> per_call;
    for (std::size_t r = 0; r < 50; ++r) {
      const auto start = Clock::now();
      for (int i = 0; i < 10000; ++i) {
        xgrad::Tape tape(xgrad::Tape::Mode::inference);
        escape(xgrad::add(tape, x, z).value().data());
      }
      per_call.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count() / 10000);
    }
    std::fprintf(stderr, "fixed cost of add on (4,): %.3f us per call\n", median(per_call));
  }
  return 0;
}
