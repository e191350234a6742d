// Helpers shared by the fuzz targets: reading typed values off the fuzzer's bytes, and
// stopping the process when a function breaks its contract (an exception it does not
// document), which libFuzzer then reports as a crash with the input that caused it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace fuzz {

// Consumes the fuzzer's bytes front to back; past the end every value is zero.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  template <class T>
  T take() {
    T value{};
    const std::size_t n = std::min(sizeof(T), size_ - at_);
    std::memcpy(&value, data_ + at_, n);
    at_ += n;
    return value;
  }
  std::size_t remaining() const { return size_ - at_; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

[[noreturn]] inline void contract_broken(const char* what, const char* detail) {
  std::fprintf(stderr, "fuzz: contract broken: %s: %s\n", what, detail);
  std::abort();
}

}  // namespace fuzz
