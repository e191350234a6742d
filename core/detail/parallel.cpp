// The thread pool behind parallel::run_chunks: n - 1 workers that spin briefly after each
// region and then sleep. The caller waits with sched_yield so that a worker woken on the
// caller's own CPU gets to run (a plain spin there stalls for a scheduler tick).
#include "core/detail/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <sched.h>

extern "C" void openblas_set_num_threads(int threads);
extern "C" char* openblas_get_corename(void);

namespace xgrad {
namespace {

class Pool {
 public:
  // Throws std::runtime_error, with the workers already started stopped and joined, when the
  // system refuses a thread (a thread or memory limit): a std::thread left joinable in the
  // unwinding vector would std::terminate the process.
  explicit Pool(std::size_t threads) : threads_(threads) {
    workers_.reserve(threads_ - 1);
    for (std::size_t k = 1; k < threads_; ++k) {
      try {
        workers_.emplace_back([this, k] { work(k); });
      } catch (const std::system_error& e) {
        stop();
        throw std::runtime_error("xgrad::set_num_threads(" + std::to_string(threads_) + "): the system refused thread " +
                                 std::to_string(k + 1) + " (" + e.what() +
                                 "; a thread or memory limit?); the thread count stays as it was, ask for fewer");
      }
    }
  }
  ~Pool() { stop(); }

  std::size_t threads() const { return threads_; }

  void run(std::size_t n, void (*chunk)(void*, std::size_t, std::size_t), void* context) {
    chunk_ = chunk;
    context_ = context;
    n_ = n;
    done_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_all();
    }
    chunk(context, 0, end_of(0));
    for (int spins = 0; done_.load(std::memory_order_acquire) < threads_ - 1; ++spins) {
      if (spins > 64) sched_yield();
    }
  }

 private:
  std::size_t end_of(std::size_t k) const { return n_ * (k + 1) / threads_; }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }

  void work(std::size_t k) {
    unsigned long seen = 0;
    for (;;) {
      // Spin (yielding, so OpenBLAS's threads can run) for a while, then sleep.
      for (int spins = 0; generation_.load(std::memory_order_acquire) == seen; ++spins) {
        if (spins < 2000) {
          if (spins > 64) sched_yield();
          continue;
        }
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_seq_cst) != seen; });
        sleepers_.fetch_sub(1, std::memory_order_seq_cst);
        if (stop_) return;
      }
      seen = generation_.load(std::memory_order_acquire);
      chunk_(context_, n_ * k / threads_, end_of(k));
      done_.fetch_add(1, std::memory_order_release);
    }
  }

  std::size_t threads_;
  std::vector<std::thread> workers_;
  void (*chunk_)(void*, std::size_t, std::size_t) = nullptr;
  void* context_ = nullptr;
  std::size_t n_ = 0;
  std::atomic<unsigned long> generation_{0};
  std::atomic<std::size_t> done_{0};
  std::atomic<int> sleepers_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
};

std::mutex pool_mutex;              // guards replacing the pool
std::unique_ptr<Pool> pool;         // null while single-threaded
std::atomic<bool> pool_busy{false};  // one region at a time; others run serially
std::atomic<std::size_t> threads_wanted{1};
std::atomic<std::size_t> regions_run{0};
thread_local bool inside_region = false;

}  // namespace

void set_num_threads(std::size_t threads) {
  threads = std::max<std::size_t>(threads, 1);
  std::lock_guard<std::mutex> lock(pool_mutex);
  bool expected = false;
  while (!pool_busy.compare_exchange_weak(expected, true)) {
    expected = false;
    std::this_thread::yield();
  }
  std::unique_ptr<Pool> replacement;
  try {
    if (threads > 1) replacement = std::make_unique<Pool>(threads);
  } catch (...) {
    pool_busy.store(false);
    throw;
  }
  pool = std::move(replacement);
  threads_wanted.store(threads);
  pool_busy.store(false);
  openblas_set_num_threads(1);  // see parallel.hpp: xgrad threads products by blocks
}

std::size_t num_threads() { return threads_wanted.load(); }

const char* blas_core() { return openblas_get_corename(); }

const char* blas_core_suggestion() {
  if (std::string(blas_core()) != "Prescott") return "";
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512bf16")) return "Cooperlake";
  if (__builtin_cpu_supports("avx512f")) return "SkylakeX";
  if (__builtin_cpu_supports("avx2")) return "Haswell";
  return "";
}

const char* blas_core_hint() {
  static const std::string hint = [] {
    const std::string core = blas_core_suggestion();
    if (core.empty()) return std::string();
    return "OpenBLAS runs its slow SSE3 Prescott kernels on this CPU, which has " +
           std::string(core == "Haswell" ? "AVX2" : "AVX-512") + ": set OPENBLAS_CORETYPE=" + core +
           " for several times faster products";
  }();
  return hint.c_str();
}

std::size_t parallel_regions_run() { return regions_run.load(); }

namespace parallel {

void keep_blas_single_threaded() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

void run_chunks(std::size_t n, std::size_t work, void (*chunk)(void*, std::size_t, std::size_t),
                void* context) {
  const std::size_t threads = threads_wanted.load(std::memory_order_relaxed);
  bool expected = false;
  if (threads == 1 || work < kMinWork || n < threads || inside_region ||
      !pool_busy.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
    chunk(context, 0, n);
    return;
  }
  struct Release {  // also when the caller's chunk throws
    ~Release() {
      inside_region = false;
      pool_busy.store(false, std::memory_order_release);
    }
  } release;
  inside_region = true;
  if (pool) {
    pool->run(n, chunk, context);
    regions_run.fetch_add(1, std::memory_order_relaxed);
  } else {
    chunk(context, 0, n);
  }
}

}  // namespace parallel
}  // namespace xgrad
