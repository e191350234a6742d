// How many threads xgrad's own loops use. Results are bit-identical for any count.
#pragma once

#include <cstddef>

namespace xgrad {

// Threads for xgrad's own loops (default 1; 0 means 1). Also keeps OpenBLAS at one
// thread, whatever the count: its sgemm gives different bits with 2 threads than with 1.
// Products are threaded by xgrad instead: a large product's output is cut into blocks
// fixed by its shape alone, each one single-threaded sgemm over the full inner dimension,
// and the threads share the blocks out. Any thread count makes the same calls, so the bits
// are the same. xgrad's workers and OpenBLAS's never compete for the cores.
void set_num_threads(std::size_t threads);
std::size_t num_threads();

// The CPU kernel set OpenBLAS chose when it loaded (openblas_get_corename), e.g.
// "Cooperlake", "Haswell" or "Prescott". OpenBLAS 0.3.21 falls back to its SSE3 "Prescott"
// kernels on CPU models it does not know, several times slower at sgemm; the environment
// variable OPENBLAS_CORETYPE, read when the library loads, picks one by name instead.
const char* blas_core();

// The OPENBLAS_CORETYPE value to set when OpenBLAS runs its Prescott kernels on a CPU with
// AVX2 or AVX-512 (the case above): "Cooperlake" (AVX-512 with bf16), "SkylakeX" (AVX-512)
// or "Haswell" (AVX2). Empty when OpenBLAS chose another core or the CPU has neither.
const char* blas_core_suggestion();

// A one-line hint for the case above, naming blas_core_suggestion(); empty otherwise.
const char* blas_core_hint();

}  // namespace xgrad
