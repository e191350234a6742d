// How many bytes this process can hope to allocate, so the example tools can refuse a table,
// an activation or a checkpoint too large for the machine with a message naming the size,
// before the allocation fails as a bare std::bad_alloc (or the kernel's OOM killer ends the
// process after minutes of swapping).
#pragma once

#include <sys/resource.h>
#include <sys/sysinfo.h>

#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

namespace examples {

// Physical memory plus swap, or the address-space limit (ulimit -v) when that is lower.
inline std::uint64_t allocatable_bytes() {
  std::uint64_t limit = std::numeric_limits<std::uint64_t>::max();
  struct sysinfo info {};
  if (::sysinfo(&info) == 0) {
    limit = (static_cast<std::uint64_t>(info.totalram) + info.totalswap) * info.mem_unit;
  }
  struct rlimit address_space {};
  if (::getrlimit(RLIMIT_AS, &address_space) == 0 && address_space.rlim_cur != RLIM_INFINITY &&
      address_space.rlim_cur < limit) {
    limit = address_space.rlim_cur;
  }
  return limit;
}

// "4000000000000 bytes (3.6 TiB)".
inline std::string byte_count(long double bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  char exact[64];
  std::snprintf(exact, sizeof exact, "%.0Lf bytes", bytes);
  std::size_t unit = 0;
  long double scaled = bytes;
  while (scaled >= 1024 && unit + 1 < sizeof units / sizeof units[0]) {
    scaled /= 1024;
    ++unit;
  }
  if (unit == 0) return exact;
  char rounded[32];
  std::snprintf(rounded, sizeof rounded, " (%.1Lf %s)", scaled, units[unit]);
  return exact + std::string(rounded);
}

// The reason `bytes` (computed in long double, so a product of sizes cannot wrap) cannot be
// allocated, e.g. "the table needs 4000000000000 bytes (3.6 TiB), more than the 25 GiB ...",
// or an empty string when it fits.
inline std::string allocation_problem(const std::string& what, long double bytes) {
  const std::uint64_t available = allocatable_bytes();
  if (bytes <= static_cast<long double>(available)) return {};
  return what + " needs " + byte_count(bytes) + ", more than the " + byte_count(static_cast<long double>(available)) +
         " this machine can allocate (memory and swap)";
}

}  // namespace examples
