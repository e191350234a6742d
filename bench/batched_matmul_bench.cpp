// xgrad_batched_matmul_bench: the attention-shaped batched products q @ k^T and att @ v,
// forward and forward + backward, at one thread count, and the GFLOP/s of one large product
// for scale. Prints one JSON object per line for bench/batched_matmul.py, which runs NumPy
// on the same arrays and prints the comparison. A measurement, not a test.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "xgrad.hpp"

namespace {

using namespace xgrad;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The process's CPU time: on a machine shared with other jobs a call's wall time includes the
// time it waited for a core, which this does not (at 1 thread it is the call's own time).
double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

struct Medians {
  double wall_s, cpu_s;
};

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// The median wall and CPU time of run(), after `warmup` untimed calls, over at least
// min_reps calls and at least budget_s seconds.
Medians median_seconds(const std::function<void()>& run, double budget_s, std::size_t min_reps = 15,
                       std::size_t warmup = 3) {
  for (std::size_t i = 0; i < warmup; ++i) run();
  std::vector<double> wall, cpu;
  const double start = now_seconds();
  while (wall.size() < min_reps || now_seconds() - start < budget_s) {
    const double t0 = now_seconds(), c0 = cpu_seconds();
    run();
    cpu.push_back(cpu_seconds() - c0);
    wall.push_back(now_seconds() - t0);
  }
  return {median(wall), median(cpu)};
}

// tests/test_support.hpp's hashed_values (bench/batched_matmul.py computes the same values).
Array hashed(const Shape& shape, std::uint32_t salt) {
  Array a = Array::from_shape(shape);
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::uint32_t h = static_cast<std::uint32_t>(i) * 2654435761u + salt * 40503u + 12345u;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    a.data()[i] = static_cast<float>(h % 2000u) / 1000.0f - 1.0f;
  }
  return a;
}

double sum_of(const Array& a) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a.data()[i];
  return s;
}

void print(const char* name, Medians m, double flop, double checksum) {
  std::printf(
      "{\"case\": \"%s\", \"median_s\": %.9g, \"cpu_s\": %.9g, \"gflops\": %.4g, \"checksum\": %.9g}\n",
      name, m.wall_s, m.cpu_s, flop / m.wall_s * 1e-9, checksum);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t threads = 1, B = 32, H = 4, T = 64, d = 32;
  double budget = 0.5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::size_t value = std::strtoul(argv[i + 1], nullptr, 10);
    if (flag == "--threads") threads = value;
    else if (flag == "--B") B = value;
    else if (flag == "--H") H = value;
    else if (flag == "--T") T = value;
    else if (flag == "--d") d = value;
    else if (flag == "--budget-ms") budget = static_cast<double>(value) / 1000.0;
    else {
      std::fprintf(stderr, "usage: %s [--threads N] [--B B --H H --T T --d d] [--budget-ms MS]\n",
                   argv[0]);
      return 2;
    }
  }
  set_num_threads(threads);
  std::printf("{\"blas_core\": \"%s\", \"threads\": %zu}\n", blas_core(), threads);

  const Array q = hashed({B, H, T, d}, 1), k = hashed({B, H, T, d}, 2), v = hashed({B, H, T, d}, 3);
  const Array att = hashed({B, H, T, T}, 4);
  const Array d_scores = hashed({B, H, T, T}, 5), d_out = hashed({B, H, T, d}, 6);
  const double product_flop = 2.0 * double(B * H * T * T * d);

  const Tensor tq = Tensor::parameter(q, "q"), tk = Tensor::parameter(k, "k");
  const Tensor tv = Tensor::parameter(v, "v"), tatt = Tensor::parameter(att, "att");
  const std::vector<Tensor> params{tq, tk, tv, tatt};
  const auto clear = [&] {
    for (const Tensor& p : params) p.mutable_grad().clear();
  };

  // The backward is the op's record run on a given dY, as NumPy is given it: Tape::backward's
  // copy of a seed into fresh pages would cost more than the products on this VM.
  // Checksums (the sum of an output, to show both sides had the same arrays) are taken
  // outside the timings.
  double checksum = 0.0;
  const auto grads_sum = [](const Tensor& a, const Tensor& b) {
    return sum_of(a.grad().dense()) + sum_of(b.grad().dense());
  };
  // q @ k^T: (B, H, T, d) @ (B, H, T, d)^T -> (B, H, T, T).
  Medians s = median_seconds([&] {
    Tape tape;
    matmul_transposed(tape, tq, tk);
  }, budget);
  {
    Tape tape;
    checksum = sum_of(matmul_transposed(tape, tq, tk).value());
  }
  print("q@k^T fwd", s, product_flop, checksum);
  s = median_seconds([&] {
    clear();
    Tape tape;
    const Tensor y = matmul_transposed(tape, tq, tk);
    tape[0].backward(y.value(), d_scores);
  }, budget);
  print("q@k^T fwd+bwd", s, 3 * product_flop, grads_sum(tq, tk));
  // att @ v: (B, H, T, T) @ (B, H, T, d) -> (B, H, T, d).
  s = median_seconds([&] {
    Tape tape;
    matmul(tape, tatt, tv);
  }, budget);
  {
    Tape tape;
    checksum = sum_of(matmul(tape, tatt, tv).value());
  }
  print("att@v fwd", s, product_flop, checksum);
  s = median_seconds([&] {
    clear();
    Tape tape;
    const Tensor y = matmul(tape, tatt, tv);
    tape[0].backward(y.value(), d_out);
  }, budget);
  print("att@v fwd+bwd", s, 3 * product_flop, grads_sum(tatt, tv));

  // One large product for scale: through xgrad's matmul (its row blocks shared by the
  // threads), and a plain single-threaded cblas_sgemm.
  const std::size_t n = 1024;
  const Tensor big_x(hashed({2 * n, n}, 7)), big_w(hashed({n, n}, 8));
  const double big_flop = 2.0 * double(2 * n * n * n);
  s = median_seconds([&] {
    Tape tape(Tape::Mode::inference);
    checksum = matmul(tape, big_x, big_w).value().data()[0];
  }, budget, 5, 1);
  print("large matmul (2048x1024 @ 1024x1024)", s, big_flop, checksum);
  Array big_out = Array::from_shape({2 * n, n});
  s = median_seconds([&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(2 * n), int(n), int(n), 1.0f,
                big_x.value().data(), int(n), big_w.value().data(), int(n), 0.0f, big_out.data(),
                int(n));
  }, budget, 5, 1);
  print("large cblas_sgemm, 1 BLAS thread", s, big_flop, big_out.data()[0]);
  return 0;
}
