// The fork-join helper xgrad's ops split work with (the thread count is core/threads.hpp).
// Results are bit-identical for any thread count: work is cut only where every output
// element is computed the same way whichever thread computes it. Not a task scheduler.
#pragma once

#include <cstddef>
#include <type_traits>

#include "core/threads.hpp"

namespace xgrad {

// Parallel regions run on more than one thread since the program started: lets a test
// check that a multi-threaded path was taken.
std::size_t parallel_regions_run();

namespace parallel {

// Puts OpenBLAS at one thread, once per process, before the first product: without it
// OpenBLAS would use every core by default and give different bits than with one thread.
void keep_blas_single_threaded();

// Below this much work (about one memory-bound float operation per unit) a region runs on
// the calling thread: waking a worker costs microseconds, so only work that takes many
// times that is split (bench/RESULTS.md has the measurements).
inline constexpr std::size_t kMinWork = std::size_t{1} << 17;

// Runs chunk(context, begin, end) over [0, n), cut into one contiguous chunk per thread
// when work >= kMinWork; the caller runs the first chunk. Nested or concurrent calls
// run serially.
void run_chunks(std::size_t n, std::size_t work, void (*chunk)(void*, std::size_t, std::size_t),
                void* context);

// fn(begin, end) over [0, n), as run_chunks.
template <class F>
void for_range(std::size_t n, std::size_t work, F&& fn) {
  using Fn = std::remove_reference_t<F>;
  run_chunks(n, work,
             [](void* f, std::size_t begin, std::size_t end) { (*static_cast<Fn*>(f))(begin, end); },
             const_cast<void*>(static_cast<const void*>(&fn)));
}

}  // namespace parallel
}  // namespace xgrad
