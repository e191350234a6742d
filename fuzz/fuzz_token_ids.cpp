// libFuzzer target: TokenIds construction and validation. The bytes choose a shape (up to
// 4 extents, any 64-bit values), ids (int64 or double bit patterns) and a vocabulary size.
// Every failure must be one of the documented exceptions (InvalidTokenId, ShapeError,
// TokenIdOutOfRange); an accepted TokenIds must hold exactly as many ids as its shape says.
#include <cstdint>
#include <vector>

#include "core/errors.hpp"
#include "core/token_ids.hpp"
#include "fuzz_input.hpp"

namespace {

// The element count of `shape`, or false when it does not fit in 64 bits (a zero extent
// makes it 0 whatever the others are).
bool element_count_fits(const xgrad::Shape& shape, unsigned __int128& count) {
  count = 1;
  for (const std::size_t extent : shape) {
    if (extent == 0) {
      count = 0;
      return true;
    }
  }
  for (const std::size_t extent : shape) {
    count *= extent;
    if (count > UINT64_MAX) return false;
  }
  return true;
}

void check_accepted(const xgrad::TokenIds& ids, std::uint64_t vocab) {
  unsigned __int128 count = 0;
  if (!element_count_fits(ids.shape(), count) || count != ids.size()) {
    fuzz::contract_broken("TokenIds", "accepted a shape that does not hold its ids");
  }
  try {
    ids.check_range(static_cast<std::size_t>(vocab), "fuzz");
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || static_cast<std::uint64_t>(ids[i]) >= vocab) {
        fuzz::contract_broken("check_range", "accepted an id out of range");
      }
    }
  } catch (const xgrad::TokenIdOutOfRange&) {
  } catch (const xgrad::InvalidTokenId&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const auto mode = in.take<std::uint8_t>();
  const std::size_t rank = mode & 3;  // rank 0 means "1-D, from the number of ids"
  xgrad::Shape shape;
  for (std::size_t r = 0; r < rank; ++r) shape.push_back(in.take<std::uint64_t>() >> (mode >> 2 & 3) * 16);
  const std::uint64_t vocab = in.take<std::uint32_t>();
  const bool floats = (mode & 0x10) != 0;
  try {
    if (floats) {
      std::vector<double> ids;
      while (in.remaining() > 0 && ids.size() < 4096) ids.push_back(in.take<double>());
      check_accepted(xgrad::TokenIds::from_floats(ids, shape, "fuzz"), vocab);
    } else {
      std::vector<std::int64_t> ids;
      while (in.remaining() > 0 && ids.size() < 4096) {
        // Mostly small ids, so the range check sees valid lists too.
        const auto raw = in.take<std::int64_t>();
        ids.push_back((mode & 0x20) ? raw : raw % 1000);
      }
      check_accepted(xgrad::TokenIds(ids, shape), vocab);
    }
  } catch (const xgrad::InvalidTokenId&) {
  } catch (const xgrad::ShapeError&) {
  }
  return 0;
}
