// A cache of released float buffers for the large arrays a training step allocates afresh
// every time (op outputs, their gradients): the next step takes them back instead of
// faulting in new pages. Buffers are matched by exact element count, the most recently
// released first. Nothing ages them: an evaluation that allocates other sizes leaves the
// training step's buffers where they are. Internal; users see core/array.hpp's
// uninitialized_array and release_cached_buffers.
#pragma once

#include <cstddef>

#include "core/array.hpp"

namespace xgrad::buffer_pool {

// Arrays smaller than this many floats are left to malloc, which reuses them cheaply.
inline constexpr std::size_t kMinPooledFloats = std::size_t{1} << 14;
// At most this many buffers of one size are kept; a further one released frees the oldest
// of that size. A transformer step holds a few dozen (B, T, C) arrays at once (outputs and
// gradients of every layer), so a cap of 8 sent most of them back to the kernel each step.
inline constexpr std::size_t kMaxBuffersPerSize = 64;

// An array of this shape with unspecified contents: a cached buffer of the same element
// count when there is one, otherwise a new allocation.
Array take(const Shape& shape);

// Hands a large array's storage to the cache, leaving `array` empty; small arrays are left
// alone for their owner to free.
void give_back(Array& array);

// Frees every cached buffer.
void release_all();

// Bytes held in the cache now.
std::size_t cached_bytes();

}  // namespace xgrad::buffer_pool
