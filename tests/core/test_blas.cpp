// Matrix products must reach OpenBLAS's sgemm, not the reference BLAS or a naive loop.
#include <dlfcn.h>

#include <string>

#include <catch2/catch.hpp>

#include "core/threads.hpp"

// Declared here rather than through <cblas.h>: only its address is needed.
extern "C" void cblas_sgemm();

TEST_CASE("cblas_sgemm used by matmul resolves to OpenBLAS", "[core][ops][matmul]") {
  Dl_info info{};
  REQUIRE(dladdr(reinterpret_cast<void*>(&cblas_sgemm), &info) != 0);
  REQUIRE(info.dli_fname != nullptr);
  INFO("cblas_sgemm comes from " << info.dli_fname);
  CHECK(std::string(info.dli_fname).find("openblas") != std::string::npos);
}

TEST_CASE("blas_core names OpenBLAS's kernel and hints only at the Prescott fallback on an AVX2 CPU",
          "[core][blas]") {
  const std::string core = xgrad::blas_core();
  const std::string hint = xgrad::blas_core_hint();
  INFO("OpenBLAS core " << core << "; hint: " << hint);
  CHECK_FALSE(core.empty());
  __builtin_cpu_init();
  const bool fallback = core == "Prescott" && __builtin_cpu_supports("avx2");
  CHECK(hint.empty() == !fallback);
  if (fallback) CHECK(hint.find("OPENBLAS_CORETYPE=") != std::string::npos);
}

TEST_CASE("blas_core_suggestion names the fastest kernel family the CPU's flags allow, at the Prescott fallback only",
          "[core][blas]") {
  const std::string core = xgrad::blas_core();
  const std::string suggestion = xgrad::blas_core_suggestion();
  INFO("OpenBLAS core " << core << "; suggestion: " << suggestion);
  __builtin_cpu_init();
  std::string expected;
  if (core == "Prescott") {
    expected = __builtin_cpu_supports("avx512bf16") ? "Cooperlake"
               : __builtin_cpu_supports("avx512f")  ? "SkylakeX"
               : __builtin_cpu_supports("avx2")     ? "Haswell"
                                                    : "";
  }
  CHECK(suggestion == expected);
  if (!suggestion.empty()) CHECK(std::string(xgrad::blas_core_hint()).find("OPENBLAS_CORETYPE=" + suggestion) != std::string::npos);
}
