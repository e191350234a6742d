// The buffer cache: exact-size matches, most recently released first (its pages are the
// likeliest to be in cache), under one spin lock.
#include "core/detail/buffer_pool.hpp"

#include <mutex>
#include <utility>
#include <vector>

namespace xgrad::buffer_pool {
namespace {

struct Entry {
  Array array;
  unsigned long released_in;  // the step count when it was released
};

struct Cache {
  SpinLock mutex;
  std::vector<Entry> entries;
  unsigned long step = 0;
  std::size_t bytes = 0;
};

// Never destroyed: tensors that outlive main() still give their buffers back safely.
Cache& cache() {
  static Cache* instance = new Cache();
  return *instance;
}

// Moves a cached array of n floats into `out` and returns true, if there is one.
bool take_cached(std::size_t n, Array& out) {
  if (n < kMinPooledFloats) return false;
  Cache& c = cache();
  std::lock_guard<SpinLock> lock(c.mutex);
  for (std::size_t i = c.entries.size(); i-- > 0;) {
    if (c.entries[i].array.size() != n) continue;
    out = std::move(c.entries[i].array);
    c.entries.erase(c.entries.begin() + static_cast<std::ptrdiff_t>(i));
    c.bytes -= n * sizeof(float);
    return true;
  }
  return false;
}

template <class S>
Array take_shaped(const S& shape) {
  std::size_t n = 1;
  for (std::size_t extent : shape) n *= extent;
  Array found = Array::from_shape(Array::shape_type{0});  // allocates nothing
  if (!take_cached(n, found)) return Array::from_shape(shape);
  found.reshape(shape);
  return found;
}

}  // namespace

Array take(const Shape& shape) { return take_shaped(shape); }
Array take_shape(const Array::shape_type& shape) { return take_shaped(shape); }
Array take_like(const Array& like) { return take_shaped(like.shape()); }

void give_back(Array& array) {
  if (array.size() < kMinPooledFloats) return;
  Cache& c = cache();
  std::lock_guard<SpinLock> lock(c.mutex);
  c.bytes += array.size() * sizeof(float);
  c.entries.push_back({std::move(array), c.step});
}

void end_of_step() {
  std::vector<Entry> stale;  // freed after the lock is released
  Cache& c = cache();
  std::lock_guard<SpinLock> lock(c.mutex);
  ++c.step;
  std::size_t kept = 0;
  for (Entry& e : c.entries) {
    if (e.released_in + 2 < c.step) {
      c.bytes -= e.array.size() * sizeof(float);
      stale.push_back(std::move(e));
    } else {
      if (&c.entries[kept] != &e) c.entries[kept] = std::move(e);
      ++kept;
    }
  }
  c.entries.erase(c.entries.begin() + static_cast<std::ptrdiff_t>(kept), c.entries.end());
}

void release_all() {
  std::vector<Entry> all;
  Cache& c = cache();
  std::lock_guard<SpinLock> lock(c.mutex);
  all.swap(c.entries);
  c.bytes = 0;
}

std::size_t cached_bytes() {
  Cache& c = cache();
  std::lock_guard<SpinLock> lock(c.mutex);
  return c.bytes;
}

}  // namespace xgrad::buffer_pool
