// The 32-bit hash a static name folds into a PRNG key: the first 4 bytes, big-endian, of
// SHA-1 over the name's UTF-8 bytes (Flax's _fold_in_static, docs/flax_jax_spec.md section
// 11), with the small SHA-1 (FIPS 180-4) it needs. Not a general-purpose crypto library:
// SHA-1 is here for compatibility with Flax's keys, not for security.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/init/random.hpp"

namespace xgrad::random {

// SHA-1 fed in pieces: update() any number of times, then digest() once.
class Sha1 {
 public:
  using Digest = std::array<std::uint8_t, 20>;

  Sha1();
  void update(std::string_view bytes);
  // Pads and returns the digest; the object is spent afterwards (update/digest throw
  // std::logic_error).
  Digest digest();

 private:
  void compress(const std::uint8_t* block);

  std::array<std::uint32_t, 5> h_;
  std::array<std::uint8_t, 64> block_{};
  std::size_t used_ = 0;          // bytes waiting in block_
  std::uint64_t length_ = 0;      // message bytes so far
  bool finished_ = false;
};

// SHA-1 of one message.
Sha1::Digest sha1(std::string_view bytes);

// The first 4 bytes of sha1(name), big-endian: name_hash("attn") is the data Flax folds into
// a key for the child scope "attn".
std::uint32_t name_hash(std::string_view name);

// fold_in(key, name_hash(name)): the key of the child named `name`, so a parameter's key
// depends only on the root key and its path, never on creation order.
Key fold_in_name(const Key& key, std::string_view name);

}  // namespace xgrad::random
