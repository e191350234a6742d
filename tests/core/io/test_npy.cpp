// Specification of core/npy: float32 .npy files round-trip bit for bit, saves are atomic,
// and every kind of bad file is refused with an NpyError naming the file and the problem.
// The NumPy cross-check runs /usr/bin/python3 when it can import numpy; otherwise the test
// passes with a WARN("skipped: ...") line (Catch2 v2 has no SKIP).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include "tests/core/io/io_test_support.hpp"
#include "tests/test_support.hpp"
#include "core/io/npy.hpp"

using namespace xgrad;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

// A hand-made .npy: version 1.0, the given dict (padded), then `data`.
std::string npy_file(const std::string& dict, const std::string& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

std::string float_bytes(std::size_t count) { return std::string(count * 4, '\0'); }

bool numpy_available() {
  return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

}  // namespace

TEST_CASE("npy save and load round-trip every bit, at ranks 0 to 3", "[core][npy]") {
  TempDir dir("roundtrip");
  Array special = Array::from_shape({2, 3});
  const float values[] = {-0.0f, std::numeric_limits<float>::quiet_NaN(),
                          std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::max(), 1.0f / 3.0f};
  std::copy(std::begin(values), std::end(values), special.begin());
  const Array arrays[] = {Array(2.5f), testing::hashed_values({7}), special,
                          testing::hashed_values({2, 3, 4}, 9), testing::hashed_values({0, 5})};
  int i = 0;
  for (const Array& a : arrays) {
    const std::string path = dir.file("a" + std::to_string(i++) + ".npy");
    npy::save(path, a);
    const Array back = npy::load(path);
    CHECK(shape_of(back) == shape_of(a));
    if (a.size() > 0) CHECK(testing::bit_equal(back, a));  // (memcmp on an empty array's null data is UB)
    CHECK(npy::load(path, shape_of(a)).size() == a.size());
  }
}

TEST_CASE("npy save writes NumPy's header: '<f4', C order, padded to 64 bytes", "[core][npy]") {
  TempDir dir("header");
  const std::string path = dir.file("t.npy");
  npy::save(path, testing::hashed_values({3, 4}));
  const std::string bytes = read_bytes(path);
  REQUIRE(bytes.size() == 128 + 3 * 4 * 4);
  CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  CHECK_THAT(bytes.substr(10, 118), Contains("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"));
  CHECK(bytes[127] == '\n');
  const npy::Header header = npy::read_header(path);
  CHECK(header.shape == Shape{3, 4});
  CHECK(header.descr == "<f4");
  CHECK(header.data_offset == 128);
}

TEST_CASE("npy save replaces a file whole and leaves no temporary file", "[core][npy]") {
  TempDir dir("atomic");
  const std::string path = dir.file("t.npy");
  npy::save(path, testing::hashed_values({100, 8}));
  npy::save(path, testing::hashed_values({2}, 5));
  CHECK(testing::bit_equal(npy::load(path), testing::hashed_values({2}, 5)));
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    ++files;
    CHECK(entry.path().filename() == "t.npy");
  }
  CHECK(files == 1);
}

TEST_CASE("npy save into a missing directory throws and creates nothing", "[core][npy]") {
  TempDir dir("missing_dir");
  const std::string path = dir.file("no/such/dir/t.npy");
  CHECK_THROWS_WITH(npy::save(path, Array{1.0f}), Contains(path) && Contains("cannot write"));
  CHECK(fs::is_empty(dir.path));
}

TEST_CASE("npy save over a directory throws and leaves the directory as it was", "[core][npy]") {
  TempDir dir("over_dir");
  fs::create_directory(dir.path / "t.npy");
  CHECK_THROWS_AS(npy::save(dir.file("t.npy"), Array{1.0f}), npy::NpyError);
  CHECK(fs::is_directory(dir.path / "t.npy"));
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path)) ++files;
  CHECK(files == 1);
}

TEST_CASE("npy load refuses missing files and directories", "[core][npy]") {
  TempDir dir("missing");
  CHECK_THROWS_WITH(npy::load(dir.file("nope.npy")), Contains("nope.npy: cannot open"));
  CHECK_THROWS_WITH(npy::load(dir.path.string()), Contains("is a directory"));
}

TEST_CASE("npy load refuses a FIFO instead of blocking on it", "[core][npy]") {
  TempDir dir("fifo");
  REQUIRE(::mkfifo(dir.file("pipe.npy").c_str(), 0600) == 0);
  CHECK_THROWS_AS(npy::load(dir.file("pipe.npy")), npy::NpyError);
  CHECK_THROWS_WITH(npy::load(dir.file("pipe.npy")), Contains("pipe.npy: is not a regular file"));
  CHECK_THROWS_WITH(npy::read_header(dir.file("pipe.npy")), Contains("is not a regular file"));
}

TEST_CASE("npy messages escape header bytes that are not printable", "[core][npy]") {
  TempDir dir("escape");
  const std::string path = dir.file("bad.npy");
  write_bytes(path, npy_file(std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x") + '\0' + "\x1b[2J': 1}",
                             float_bytes(2)));
  try {
    npy::load(path);
    FAIL("a header with an unknown key was accepted");
  } catch (const npy::NpyError& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Contains("unexpected key 'x\\x00\\x1B[2J'"));
    CHECK(message.find('\x1b') == std::string::npos);
  }
}

TEST_CASE("npy load refuses corrupt and truncated files", "[core][npy]") {
  TempDir dir("corrupt");
  const std::string path = dir.file("bad.npy");
  const std::string good_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  const std::string good = npy_file(good_dict, float_bytes(6));
  write_bytes(path, good);
  REQUIRE(npy::load(path).size() == 6);

  struct Case {
    const char* what;
    std::string bytes;
    const char* message;
  };
  std::string bad_magic = good;
  bad_magic[1] = 'X';
  std::string bad_version = good;
  bad_version[6] = 9;
  std::string huge_length = good;
  huge_length[8] = '\xff';
  huge_length[9] = '\xff';
  const Case cases[] = {
      {"empty file", "", "shorter than the magic string"},
      {"text file", "hello, world\n", "bad magic string"},
      {"bad magic", bad_magic, "bad magic string"},
      {"bad version", bad_version, "unsupported .npy format version 9.0"},
      {"header cut short", good.substr(0, 40), "truncated .npy header"},
      {"header length past the end", huge_length, "truncated .npy header"},
      {"data cut short", good.substr(0, good.size() - 5), "truncated file"},
      {"no data", good.substr(0, good.size() - 24), "expected 24 bytes of data, found 0"},
      {"extra data", good + "xyz", "extra bytes at the end"},
      {"float64", npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", float_bytes(12)),
       "dtype is '<f8', expected '<f4'"},
      {"big-endian", npy_file("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", float_bytes(6)),
       "big-endian"},
      {"int32", npy_file("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", float_bytes(6)),
       "dtype is '<i4'"},
      {"fortran order", npy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", float_bytes(6)),
       "Fortran order"},
      {"missing key", npy_file("{'descr': '<f4', 'shape': (2, 3), }", float_bytes(6)),
       "missing key 'fortran_order'"},
      {"unknown key", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", float_bytes(6)),
       "unexpected key 'x'"},
      {"negative shape", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", float_bytes(6)),
       "malformed .npy header"},
      {"huge shape",
       npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", float_bytes(6)),
       "too large"},
      {"garbage header", npy_file("not a dict at all", float_bytes(6)), "malformed .npy header"},
      {"no newline", good.substr(0, 127) + " " + float_bytes(6), "does not end in a newline"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    write_bytes(path, c.bytes);
    CHECK_THROWS_AS(npy::load(path), npy::NpyError);
    CHECK_THROWS_WITH(npy::load(path), Contains(path) && Contains(c.message));
  }
}

TEST_CASE("npy load with an expected shape refuses a different shape", "[core][npy]") {
  TempDir dir("shape");
  const std::string path = dir.file("t.npy");
  npy::save(path, testing::hashed_values({4, 2}));
  CHECK(npy::load(path, {4, 2}).size() == 8);
  CHECK_THROWS_WITH(npy::load(path, {2, 4}), Contains("has shape (4, 2), expected (2, 4)"));
  CHECK_THROWS_WITH(npy::load(path, {8}), Contains("expected (8,)"));
}

TEST_CASE("npy files cross-check with NumPy in both directions", "[core][npy][numpy]") {
  if (!numpy_available()) {
    WARN("skipped: /usr/bin/python3 cannot import numpy (apt-get install python3-numpy)");
    return;
  }
  TempDir dir("numpy");
  const Array ours = testing::hashed_values({3, 5}, 2);
  npy::save(dir.file("ours.npy"), ours);
  // NumPy reads our file, checks it against the same formula, and writes its own files.
  const std::string script =
      "import numpy as np, sys\n"
      "d = sys.argv[1]\n"
      "a = np.load(d + '/ours.npy')\n"
      "assert a.dtype == np.float32 and a.shape == (3, 5) and a.flags.c_contiguous, (a.dtype, a.shape)\n"
      "i = np.arange(15, dtype=np.uint32)\n"
      "h = i * np.uint32(2654435761) + np.uint32(2 * 40503 + 12345)\n"
      "h ^= h >> np.uint32(15); h *= np.uint32(2246822519); h ^= h >> np.uint32(13)\n"
      "expected = ((h % np.uint32(2000)).astype(np.float32) / np.float32(1000) - np.float32(1)).reshape(3, 5)\n"
      "assert np.array_equal(a.view(np.uint32), expected.view(np.uint32)), (a, expected)\n"
      "np.save(d + '/theirs.npy', (np.arange(24, dtype=np.float32) / 7).reshape(2, 3, 4))\n"
      "np.save(d + '/scalar.npy', np.float32(-0.5))\n"
      "np.save(d + '/f64.npy', np.zeros((2, 2)))\n"
      "np.save(d + '/fortran.npy', np.asfortranarray(np.ones((2, 3), dtype=np.float32)))\n";
  write_bytes(dir.file("check.py"), script);
  const std::string command = "/usr/bin/python3 " + dir.file("check.py") + " " + dir.path.string();
  REQUIRE(std::system(command.c_str()) == 0);

  const Array theirs = npy::load(dir.file("theirs.npy"), {2, 3, 4});
  for (std::size_t k = 0; k < 24; ++k) CHECK(theirs.data()[k] == static_cast<float>(k) / 7.0f);
  CHECK(npy::load(dir.file("scalar.npy"), {})() == -0.5f);
  CHECK_THROWS_WITH(npy::load(dir.file("f64.npy")), Contains("float64"));
  CHECK_THROWS_WITH(npy::load(dir.file("fortran.npy")), Contains("Fortran order"));
}
