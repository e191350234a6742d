// next_token: train a toy language model and check which embedding rows moved (cli.hpp).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli.hpp"
#include "core/threads.hpp"

namespace {

// OpenBLAS 0.3.21 reads OPENBLAS_CORETYPE once, as it loads, and falls back to its SSE3
// kernels on CPUs it does not know (core/threads.hpp); the only way to change the kernels it
// chose is to start again with the variable set. A variable the caller set is left alone,
// which also stops a second restart; XGRAD_NO_BLAS_RESTART=1 keeps OpenBLAS's own choice. If
// exec fails the run goes on, slower, and the header prints the hint instead.
void restart_with_faster_blas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr || std::getenv("XGRAD_NO_BLAS_RESTART") != nullptr) return;
  const char* core = xgrad::blas_core_suggestion();
  if (*core == '\0') return;
  ::setenv("OPENBLAS_CORETYPE", core, 1);
  ::setenv("XGRAD_BLAS_CORE_CHOSEN", core, 1);  // for the header's note
  std::fflush(nullptr);
  ::execv("/proc/self/exe", argv);
  ::unsetenv("OPENBLAS_CORETYPE");
  ::unsetenv("XGRAD_BLAS_CORE_CHOSEN");
}

}  // namespace

int main(int argc, char** argv) {
  restart_with_faster_blas_kernels(argv);
  return next_token::run(argc, argv, std::cout, std::cerr, ::isatty(::fileno(stdout)) != 0);
}
