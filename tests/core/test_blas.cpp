// Matrix products must reach OpenBLAS's sgemm, not the reference BLAS or a naive loop.
#include <dlfcn.h>

#include <string>

#include <catch2/catch.hpp>

// Declared here rather than through <cblas.h>: only its address is needed.
extern "C" void cblas_sgemm();

TEST_CASE("cblas_sgemm used by matmul resolves to OpenBLAS", "[core][ops][matmul]") {
  Dl_info info{};
  REQUIRE(dladdr(reinterpret_cast<void*>(&cblas_sgemm), &info) != 0);
  REQUIRE(info.dli_fname != nullptr);
  INFO("cblas_sgemm comes from " << info.dli_fname);
  CHECK(std::string(info.dli_fname).find("openblas") != std::string::npos);
}
