// .npy files that NumPy reads (np.load) and writes (np.save), for float32 arrays in C order.
// Saving is atomic (core/io/atomic_file.hpp): an interrupted save never leaves a
// half-written file.
// Loading checks everything before it trusts the file (magic, version, header, dtype '<f4',
// fortran_order False, shape, exact file length) and throws NpyError naming the file and
// the problem. Not a general NumPy reader: other dtypes and Fortran order are refused.
#pragma once

#include <stdexcept>
#include <string>

#include "core/array.hpp"

namespace xgrad::npy {

// A file that cannot be read or written as a float32 .npy, or does not match what the
// caller expects. The message starts with the path.
class NpyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a .npy header says.
struct Header {
  int major_version = 1;
  int minor_version = 0;
  std::string descr;           // e.g. "<f4"
  bool fortran_order = false;
  Shape shape;                 // () for a 0-d array
  std::size_t data_offset = 0; // bytes before the data
};

// Writes `array` (any rank, row-major) as version 1.0 (2.0 when the header needs it),
// dtype '<f4', fortran_order False. Atomic as described above; the directory must exist.
// Throws NpyError when the file cannot be written (nothing is left behind then).
void save(const std::string& path, const Array& array);

// Reads and validates the header alone (the file length is checked by load).
Header read_header(const std::string& path);

// Reads a float32 C-order .npy written by NumPy or by save(). Throws NpyError for a missing
// or unreadable file, a bad magic string or version, a malformed header, a dtype other than
// '<f4', fortran_order True, or a file whose length does not match the shape exactly.
Array load(const std::string& path);

// The same, and also throws NpyError unless the array has shape `expected`.
Array load(const std::string& path, const Shape& expected);

}  // namespace xgrad::npy
