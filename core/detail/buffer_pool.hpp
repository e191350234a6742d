// A cache of released float buffers for the arrays a training step allocates afresh
// every time (op outputs, their gradients): the next step takes them back instead of
// faulting in new pages (2.3 us per 4 KiB page here). Internal to the core; not an arena
// the user manages. A buffer not taken again while two tapes come and go is freed.
#pragma once

#include <atomic>
#include <cstddef>
#include <thread>

#include "core/array.hpp"

namespace xgrad::buffer_pool {

// A lock for critical sections of a few dozen instructions: cheaper than std::mutex when
// uncontended, the common case (one training thread). Yields if the holder is descheduled.
class SpinLock {
 public:
  void lock() {
    for (int spins = 0; locked_.exchange(true, std::memory_order_acquire); ++spins) {
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins > 100) std::this_thread::yield();
      }
    }
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

// Arrays smaller than this many floats are left to malloc, which reuses them cheaply.
inline constexpr std::size_t kMinPooledFloats = std::size_t{1} << 14;

// An array of this shape with unspecified contents: a cached buffer of the same element
// count when there is one, otherwise a new allocation.
Array take(const Shape& shape);
// The same with xtensor's own shape type, which holds small shapes without allocating.
Array take_shape(const Array::shape_type& shape);
// The same with the shape of `like` (its contents are not read).
Array take_like(const Array& like);

// Hands a large array's storage to the cache, leaving `array` moved-from (only to be
// destroyed or assigned); small arrays are left alone for their owner to free.
void give_back(Array& array);

// Called when a tape is destroyed: frees buffers released before the last two tapes ended
// and not taken since, so the cache holds about one step's worth of buffers.
void end_of_step();

// Frees every cached buffer.
void release_all();

// Bytes held in the cache now.
std::size_t cached_bytes();

}  // namespace xgrad::buffer_pool
