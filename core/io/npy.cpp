// .npy writing (atomic: core/io/atomic_file.hpp) and validated reading, float32 only.
// Format: "\x93NUMPY", major, minor, header length (LE uint16 for 1.0, LE uint32 for 2.0
// and 3.0), an ASCII (3.0: UTF-8) Python dict literal ending in '\n', then the raw data.
// xt::load_npy is not used: it reads past a truncated file without noticing.
#include "core/io/npy.hpp"

#include "core/io/atomic_file.hpp"
#include "core/io/message_text.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>

namespace xgrad::npy {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy: '<f4' I/O assumes a little-endian host");
static_assert(sizeof(float) == 4, "npy: float must be 4 bytes");

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLength = 6;
constexpr std::size_t kMaxHeaderLength = 1 << 20;  // NumPy itself refuses headers over ~10 KB

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw NpyError(io::printable_bytes(path) + ": " + what);
}

std::string errno_text() { return std::strerror(errno); }

// "()", "(5,)", "(3, 4)": the shape as NumPy's header writes it.
std::string python_shape(const Shape& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  if (shape.size() == 1) out += ",";
  return out + ")";
}

// The whole preamble: magic, version, length, dict padded with spaces to a multiple of 64
// bytes (as NumPy does), ending in '\n'.
std::string make_preamble(const Shape& shape) {
  std::string dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + python_shape(shape) + ", }";
  std::size_t length_bytes = 2;
  char major = 1;
  if (kMagicLength + 2 + 2 + dict.size() + 1 > 65535) {
    length_bytes = 4;
    major = 2;
  }
  const std::size_t unpadded = kMagicLength + 2 + length_bytes + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string out(kMagic, kMagicLength);
  out += major;
  out += '\0';
  for (std::size_t i = 0; i < length_bytes; ++i) out += static_cast<char>((dict.size() >> (8 * i)) & 0xFF);
  return out + dict;
}

// A tiny reader for the Python literal in the header: a dict of strings, booleans and
// tuples of non-negative integers, which is all a valid .npy header holds.
class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  Header parse() {
    Header header;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        duplicate_check(have_descr, key);
        header.descr = parse_string();
      } else if (key == "fortran_order") {
        duplicate_check(have_order, key);
        header.fortran_order = parse_bool();
      } else if (key == "shape") {
        duplicate_check(have_shape, key);
        header.shape = parse_shape();
      } else {
        bad("unexpected key '" + io::printable_bytes(key) + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++at_;
      } else if (peek() != '}') {
        bad("expected ',' or '}'");
      }
    }
    ++at_;  // '}'
    skip_space();
    if (at_ != text_.size()) bad("unexpected text after the dict");
    if (!have_descr || !have_order || !have_shape) {
      bad(std::string("missing key '") + (!have_descr ? "descr" : !have_order ? "fortran_order" : "shape") + "'");
    }
    return header;
  }

 private:
  [[noreturn]] void bad(const std::string& what) const {
    fail(path_, "malformed .npy header (" + what + " at character " + std::to_string(at_) + "): " + io::printable_bytes(text_));
  }
  char peek() const { return at_ < text_.size() ? text_[at_] : '\0'; }
  void skip_space() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\n' || text_[at_] == '\t')) ++at_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) bad(std::string("expected '") + c + "'");
    ++at_;
  }
  void duplicate_check(bool& seen, const std::string& key) const {
    if (seen) bad("key '" + key + "' appears twice");
    seen = true;
  }
  std::string parse_string() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') bad("expected a quoted string");
    const std::size_t start = ++at_;
    while (at_ < text_.size() && text_[at_] != quote) {
      if (text_[at_] == '\\') bad("escapes are not supported in header strings");
      ++at_;
    }
    if (at_ >= text_.size()) bad("unterminated string");
    return text_.substr(start, at_++ - start);
  }
  bool parse_bool() {
    skip_space();
    if (text_.compare(at_, 4, "True") == 0) {
      at_ += 4;
      return true;
    }
    if (text_.compare(at_, 5, "False") == 0) {
      at_ += 5;
      return false;
    }
    bad("expected True or False");
  }
  Shape parse_shape() {
    expect('(');
    Shape shape;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') bad("expected a non-negative integer in the shape");
      std::size_t value = 0;
      while (peek() >= '0' && peek() <= '9') {
        const auto digit = static_cast<std::size_t>(peek() - '0');
        if (value > (std::numeric_limits<std::size_t>::max() - digit) / 10) bad("shape entry too large");
        value = value * 10 + digit;
        ++at_;
      }
      if (peek() == 'L') ++at_;  // Python 2 longs, as very old NumPy wrote them
      shape.push_back(value);
      skip_space();
      if (peek() == ',') {
        ++at_;
      } else if (peek() != ')') {
        bad("expected ',' or ')' in the shape");
      }
    }
    ++at_;  // ')'
    return shape;
  }

  const std::string& path_;
  const std::string& text_;
  std::size_t at_ = 0;
};

// Opens `path` for reading, refusing directories, and FIFOs and devices (a read from those
// can block forever), with a clear message.
std::ifstream open_for_reading(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) fail(path, "cannot open: " + errno_text());
  if (S_ISDIR(info.st_mode)) fail(path, "is a directory, not a .npy file");
  if (!S_ISREG(info.st_mode)) fail(path, "is not a regular file (a FIFO or a device?), not a .npy file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open: " + errno_text());
  return in;
}

std::uint64_t file_length(std::ifstream& in, const std::string& path) {
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  if (end < 0) fail(path, "cannot determine the file length");
  in.seekg(0, std::ios::beg);
  return static_cast<std::uint64_t>(end);
}

Header parse_preamble(std::ifstream& in, const std::string& path, std::uint64_t length) {
  unsigned char fixed[kMagicLength + 2];
  if (length < sizeof fixed || !in.read(reinterpret_cast<char*>(fixed), sizeof fixed)) {
    fail(path, "not a .npy file (" + std::to_string(length) + " bytes, shorter than the magic string)");
  }
  if (std::memcmp(fixed, kMagic, kMagicLength) != 0) fail(path, "not a .npy file (bad magic string)");
  Header header;
  header.major_version = fixed[kMagicLength];
  header.minor_version = fixed[kMagicLength + 1];
  if (header.major_version < 1 || header.major_version > 3 || header.minor_version != 0) {
    fail(path, "unsupported .npy format version " + std::to_string(header.major_version) + "." +
                   std::to_string(header.minor_version) + " (1.0, 2.0 and 3.0 are read)");
  }
  const std::size_t length_bytes = header.major_version == 1 ? 2 : 4;
  unsigned char len[4] = {0, 0, 0, 0};
  if (!in.read(reinterpret_cast<char*>(len), static_cast<std::streamsize>(length_bytes))) {
    fail(path, "truncated .npy header");
  }
  std::size_t header_length = 0;
  for (std::size_t i = 0; i < length_bytes; ++i) header_length |= static_cast<std::size_t>(len[i]) << (8 * i);
  header.data_offset = sizeof fixed + length_bytes + header_length;
  if (header_length > kMaxHeaderLength) {
    fail(path, "implausible .npy header length " + std::to_string(header_length));
  }
  if (header.data_offset > length) {
    fail(path, "truncated .npy header (it says " + std::to_string(header_length) +
                   " bytes, the file ends first)");
  }
  std::string text(header_length, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(header_length))) fail(path, "truncated .npy header");
  if (text.empty() || text.back() != '\n') fail(path, "malformed .npy header (it does not end in a newline)");
  const Header parsed = HeaderParser(path, text).parse();
  header.descr = parsed.descr;
  header.fortran_order = parsed.fortran_order;
  header.shape = parsed.shape;
  return header;
}

std::string dtype_advice(const std::string& descr) {
  if (descr == ">f4") return "big-endian float32; save it little-endian (.astype('<f4'))";
  if (descr == "<f8" || descr == "=f8") return "float64; save it as float32 (.astype(np.float32))";
  return "not float32; save it as float32 (.astype(np.float32))";
}

}  // namespace

void save(const std::string& path, const Array& array) {
  const std::string preamble = make_preamble(shape_of(array));
  try {
    io::write_file_atomically(path, preamble.data(), preamble.size(), reinterpret_cast<const char*>(array.data()),
                              array.size() * sizeof(float));
  } catch (const io::WriteError& e) {
    throw NpyError(e.what());
  }
}

Header read_header(const std::string& path) {
  std::ifstream in = open_for_reading(path);
  const std::uint64_t length = file_length(in, path);
  return parse_preamble(in, path, length);
}

Array load(const std::string& path) {
  std::ifstream in = open_for_reading(path);
  const std::uint64_t length = file_length(in, path);
  const Header header = parse_preamble(in, path, length);
  if (header.descr != "<f4") {
    fail(path, "dtype is '" + io::printable_bytes(header.descr) + "', expected '<f4' (float32): " + dtype_advice(header.descr));
  }
  if (header.fortran_order) {
    fail(path, "is stored in Fortran order; save a C-ordered array (np.ascontiguousarray)");
  }
  std::uint64_t count = 1;
  for (const std::size_t extent : header.shape) {
    if (extent != 0 && count > std::numeric_limits<std::uint64_t>::max() / 4 / extent) {
      fail(path, "shape " + shape_string(header.shape) + " is too large");
    }
    count *= extent;
  }
  const std::uint64_t data_bytes = count * 4;
  const std::uint64_t available = length - header.data_offset;
  if (available != data_bytes) {
    fail(path, "file length does not match its shape " + shape_string(header.shape) + ": expected " +
                   std::to_string(data_bytes) + " bytes of data, found " + std::to_string(available) +
                   (available < data_bytes ? " (truncated file)" : " (extra bytes at the end)"));
  }
  Array out = Array::from_shape(header.shape);
  if (data_bytes > 0 &&
      !in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(data_bytes))) {
    fail(path, "read error in the data");
  }
  return out;
}

Array load(const std::string& path, const Shape& expected) {
  // Check the header's shape first, so a wrong-shape file is never read in full.
  const Header header = read_header(path);
  if (header.shape != expected && header.descr == "<f4" && !header.fortran_order) {
    fail(path, "has shape " + shape_string(header.shape) + ", expected " + shape_string(expected));
  }
  Array out = load(path);
  if (shape_of(out) != expected) {
    fail(path, "has shape " + shape_string(shape_of(out)) + ", expected " + shape_string(expected));
  }
  return out;
}

}  // namespace xgrad::npy
