// SHA-1 as FIPS 180-4 section 6.1 states it (80 rounds over 512-bit blocks, big-endian
// words), and the name hash built on it.
#include "core/init/name_hash.hpp"

#include <stdexcept>

namespace xgrad::random {
namespace {

std::uint32_t rotl(std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

}  // namespace

Sha1::Sha1() : h_{0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u} {}

void Sha1::compress(const std::uint8_t* block) {
  std::uint32_t w[80];
  for (int t = 0; t < 16; ++t) {
    w[t] = (std::uint32_t{block[4 * t]} << 24) | (std::uint32_t{block[4 * t + 1]} << 16) |
           (std::uint32_t{block[4 * t + 2]} << 8) | std::uint32_t{block[4 * t + 3]};
  }
  for (int t = 16; t < 80; ++t) w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
  std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4];
  for (int t = 0; t < 80; ++t) {
    std::uint32_t f, k;
    if (t < 20) {
      f = (b & c) | (~b & d), k = 0x5A827999u;  // Ch
    } else if (t < 40) {
      f = b ^ c ^ d, k = 0x6ED9EBA1u;  // Parity
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDCu;  // Maj
    } else {
      f = b ^ c ^ d, k = 0xCA62C1D6u;  // Parity
    }
    const std::uint32_t temp = rotl(a, 5) + f + e + k + w[t];
    e = d, d = c, c = rotl(b, 30), b = a, a = temp;
  }
  h_[0] += a, h_[1] += b, h_[2] += c, h_[3] += d, h_[4] += e;
}

void Sha1::update(std::string_view bytes) {
  if (finished_) throw std::logic_error("Sha1::update after digest()");
  length_ += bytes.size();
  for (const char ch : bytes) {
    block_[used_++] = static_cast<std::uint8_t>(ch);
    if (used_ == block_.size()) {
      compress(block_.data());
      used_ = 0;
    }
  }
}

Sha1::Digest Sha1::digest() {
  if (finished_) throw std::logic_error("Sha1::digest called twice");
  const std::uint64_t bits = length_ * 8;
  // 0x80, zeros up to 56 bytes mod 64, then the message length in bits, big-endian.
  block_[used_++] = 0x80;
  if (used_ > 56) {
    while (used_ < 64) block_[used_++] = 0;
    compress(block_.data());
    used_ = 0;
  }
  while (used_ < 56) block_[used_++] = 0;
  for (int i = 7; i >= 0; --i) block_[used_++] = static_cast<std::uint8_t>(bits >> (8 * i));
  compress(block_.data());
  finished_ = true;
  Digest out{};
  for (std::size_t i = 0; i < 5; ++i) {
    for (std::size_t j = 0; j < 4; ++j) out[4 * i + j] = static_cast<std::uint8_t>(h_[i] >> (24 - 8 * j));
  }
  return out;
}

Sha1::Digest sha1(std::string_view bytes) {
  Sha1 hash;
  hash.update(bytes);
  return hash.digest();
}

std::uint32_t name_hash(std::string_view name) {
  const Sha1::Digest d = sha1(name);
  return (std::uint32_t{d[0]} << 24) | (std::uint32_t{d[1]} << 16) | (std::uint32_t{d[2]} << 8) | std::uint32_t{d[3]};
}

Key fold_in_name(const Key& key, std::string_view name) { return fold_in(key, name_hash(name)); }

}  // namespace xgrad::random
