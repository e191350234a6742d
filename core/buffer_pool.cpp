// The buffer cache: exact-size matches, most recently released first (its pages are the
// likeliest to be in cache), under one spin lock.
#include "core/buffer_pool.hpp"

#include <mutex>
#include <optional>
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

// A cached array of n floats, if there is one.
std::optional<Array> take_cached(std::size_t n) {
  if (n < kMinPooledFloats) return std::nullopt;
  Cache& c = cache();
  std::lock_guard<SpinLock> lock(c.mutex);
  for (std::size_t i = c.entries.size(); i-- > 0;) {
    if (c.entries[i].array.size() != n) continue;
    Array found = std::move(c.entries[i].array);
    c.entries.erase(c.entries.begin() + static_cast<std::ptrdiff_t>(i));
    c.bytes -= n * sizeof(float);
    return found;
  }
  return std::nullopt;
}

}  // namespace

Array take(const Shape& shape) {
  std::optional<Array> found = take_cached(element_count(shape));
  if (!found) return Array::from_shape(shape);
  found->reshape(shape);
  return std::move(*found);
}

Array take_like(const Array& like) {
  std::optional<Array> found = take_cached(like.size());
  if (!found) return Array::from_shape(like.shape());
  found->reshape(like.shape());
  return std::move(*found);
}

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
