// Specification of core/init/name_hash: SHA-1 against the FIPS 180 examples, and the name
// hash against Python's hashlib (its cross-check with Flax's path hash is in test_flax.cpp).
#include <catch2/catch.hpp>

#include <string>

#include "core/init/name_hash.hpp"

using namespace xgrad;

namespace {

std::string hex(const random::Sha1::Digest& d) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (const std::uint8_t b : d) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

}  // namespace

TEST_CASE("SHA-1 gives the FIPS 180 digests of abc, the 448-bit message and the empty string",
          "[core][init][name_hash]") {
  // FIPS 180-2 appendix A.1 and A.2; the empty string's from RFC 3174's reference implementation.
  CHECK(hex(random::sha1("abc")) == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(hex(random::sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  CHECK(hex(random::sha1("")) == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST_CASE("SHA-1 of a million a fed in uneven pieces gives the FIPS 180 digest", "[core][init][name_hash]") {
  // FIPS 180-2 appendix A.3. Pieces of 1000 - 1 and 1 bytes cross block boundaries at every offset.
  random::Sha1 hash;
  const std::string piece(999, 'a');
  for (int i = 0; i < 1000; ++i) {
    hash.update(piece);
    hash.update("a");
  }
  CHECK(hex(hash.digest()) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  CHECK_THROWS_AS(hash.update("a"), std::logic_error);
}

TEST_CASE("The name hash is the first 4 bytes of SHA-1 of the UTF-8 name, big-endian", "[core][init][name_hash]") {
  // int.from_bytes(hashlib.sha1(name.encode()).digest()[:4], 'big') in Python.
  CHECK(random::name_hash("attn") == 0x5aff4092u);
  CHECK(random::name_hash("wte") == 0x917ed09eu);
  CHECK(random::name_hash("h0") == 0xddc57447u);
  CHECK(random::name_hash("qkv") == 0x1e5e4ceeu);
  CHECK(random::name_hash("ln_f") == 0xb5c3868du);
  CHECK(random::name_hash("\xc3\xa9t\xc3\xa9") == 0x64d0cbc5u);  // "été"
  const Key key = random::prng_key(3);
  CHECK(random::fold_in_name(key, "attn") == random::fold_in(key, 0x5aff4092u));
}
