// How the hand-written baselines split work at 2 threads: [0, n) cut into one contiguous
// chunk per thread, on xgrad's thread pool (core/parallel.hpp). Sharing the pool keeps the
// comparison about the kernels: two pools in one process would spin against each other
// (and against OpenBLAS's workers) on this 2-core machine.
#pragma once

#include <cstddef>

#include "core/detail/parallel.hpp"

namespace bench {

class ForkJoin {
 public:
  explicit ForkJoin(std::size_t threads) : threads_(threads ? threads : 1) {}

  std::size_t threads() const { return threads_; }

  // fn(begin, end) over [0, n); in parallel when the pool has more than one thread and
  // work_items reaches the pool's threshold (xgrad::parallel::kMinWork), as for xgrad's ops.
  template <class F>
  void run(std::size_t n, F&& fn, std::size_t work_items) {
    xgrad::parallel::for_range(n, work_items, fn);
  }

 private:
  std::size_t threads_;
};

}  // namespace bench
