// The buffer cache: a list of released arrays under one mutex, searched from the most
// recently released end.
#include "core/detail/buffer_pool.hpp"

#include <mutex>
#include <utility>
#include <vector>

namespace xgrad::buffer_pool {
namespace {

struct Cache {
  std::mutex mutex;
  std::vector<Array> entries;  // oldest first
  std::size_t bytes = 0;
};

// Never destroyed: tensors that outlive main() still give their buffers back safely.
Cache& cache() {
  static Cache* instance = new Cache();
  return *instance;
}

Array empty_array() { return Array::from_shape(Array::shape_type{0}); }  // allocates nothing

}  // namespace

Array take(const Shape& shape) {
  const std::size_t n = element_count(shape);
  if (n >= kMinPooledFloats) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    for (std::size_t i = c.entries.size(); i-- > 0;) {
      if (c.entries[i].size() != n) continue;
      Array found = std::move(c.entries[i]);
      c.entries.erase(c.entries.begin() + static_cast<std::ptrdiff_t>(i));
      c.bytes -= n * sizeof(float);
      found.reshape(shape);
      return found;
    }
  }
  return Array::from_shape(shape);
}

void give_back(Array& array) {
  const std::size_t n = array.size();
  if (n < kMinPooledFloats) return;
  Array evicted = empty_array();  // freed after the lock is released
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  std::size_t same_size = 0, oldest = 0;
  for (std::size_t i = c.entries.size(); i-- > 0;) {
    if (c.entries[i].size() != n) continue;
    ++same_size;
    oldest = i;
  }
  if (same_size >= kMaxBuffersPerSize) {
    evicted = std::move(c.entries[oldest]);
    c.entries.erase(c.entries.begin() + static_cast<std::ptrdiff_t>(oldest));
    c.bytes -= n * sizeof(float);
  }
  c.entries.push_back(std::move(array));
  c.bytes += n * sizeof(float);
  array = empty_array();
}

void release_all() {
  std::vector<Array> all;  // freed after the lock is released
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  all.swap(c.entries);
  c.bytes = 0;
}

std::size_t cached_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.bytes;
}

}  // namespace xgrad::buffer_pool
