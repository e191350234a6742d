// Replays the sgemm shapes that shim.c recorded (one line per shape: calls seconds M N K
// transA transB lda ldb ldc beta) against whichever BLAS this program is linked with, one
// thread: per shape the median time of one call over rounds, and the step's total (calls x
// median). bench/sgemm/profile.sh builds it against OpenBLAS and against BLIS and alternates
// the two. Prints "total <seconds> <GFLOP/s>" last, and a checksum of the outputs so that
// the two libraries can be seen to compute the same products.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: replay SHAPES [rounds]\n");
    return 2;
  }
  const int rounds = argc > 2 ? std::stoi(argv[2]) : 21;
  std::ifstream in(argv[1]);
  std::string line;
  double total = 0.0, flops = 0.0, checksum = 0.0;
  std::printf("%6s %5s %5s %5s %2s %2s %9s %8s\n", "calls", "M", "N", "K", "tA", "tB", "us/call", "GFLOP/s");
  while (std::getline(in, line)) {
    std::istringstream f(line);
    long calls;
    double seconds;
    int m, n, k, ta, tb, lda, ldb, ldc;
    float beta;
    if (!(f >> calls >> seconds >> m >> n >> k >> ta >> tb >> lda >> ldb >> ldc >> beta)) continue;
    std::vector<float> a(static_cast<std::size_t>(ta ? k : m) * lda, 0.5f),
        b(static_cast<std::size_t>(tb ? n : k) * ldb, 0.25f), c(static_cast<std::size_t>(m) * ldc, 0.0f);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 7) * 0.125f;
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 5) * 0.25f;
    std::vector<double> times;
    const int reps = std::max(1, static_cast<int>(2e6 / (2.0 * m * n * k + 1)));  // about 2 MFLOP a sample
    for (int r = 0; r < rounds; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < reps; ++i) {
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
                    a.data(), lda, b.data(), ldb, 0.0f, c.data(), ldc);
      }
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps);
    }
    std::sort(times.begin(), times.end());
    const double t = times[times.size() / 2];
    for (int i = 0; i < m; ++i) checksum += c[static_cast<std::size_t>(i) * ldc];
    total += static_cast<double>(calls) * t;
    flops += static_cast<double>(calls) * 2.0 * m * n * k;
    std::printf("%6ld %5d %5d %5d %2d %2d %9.2f %8.1f\n", calls, m, n, k, ta, tb, t * 1e6, 2.0 * m * n * k / t / 1e9);
  }
  std::printf("checksum %.6g\ntotal %.6f s %.1f GFLOP/s\n", checksum, total, flops / total / 1e9);
  return 0;
}
