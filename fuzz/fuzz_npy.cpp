// libFuzzer target: the .npy reader. Any bytes as a file: load and read_header either return
// an array that agrees with the header or throw NpyError; anything else is a crash.
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "core/io/npy.hpp"
#include "fuzz_input.hpp"

namespace {

// In memory (/dev/shm) where there is one: the reader takes paths, and a disk would be the
// bottleneck of every execution.
struct ScratchFile {
  std::string path = std::string(::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + "/xgrad_fuzz_npy_" +
                     std::to_string(::getpid()) + ".npy";
  ~ScratchFile() { ::unlink(path.c_str()); }
};

const std::string& scratch_file() {
  static const ScratchFile file;
  return file.path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(scratch_file(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const xgrad::npy::Header header = xgrad::npy::read_header(scratch_file());
    const xgrad::Array array = xgrad::npy::load(scratch_file());
    if (xgrad::shape_of(array) != header.shape) fuzz::contract_broken("npy::load", "shape differs from the header");
    if (header.data_offset + array.size() * sizeof(float) != size) {
      fuzz::contract_broken("npy::load", "accepted a file whose length does not match its shape");
    }
    xgrad::npy::load(scratch_file(), header.shape);
  } catch (const xgrad::npy::NpyError&) {
  }
  return 0;
}
