// Specification of core/io/atomic_file: a file or a directory is replaced whole or not at
// all; a write that fails (a full disk, injected through the fault hook) leaves the old
// version and no temporary file; leftovers of an interrupted directory commit are removed
// by the next commit. The kill tests (a process killed at every step of a save) are in
// tests/examples/next_token/test_checkpoint_kills.cpp, on real checkpoints.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>
#include <stdexcept>
#include <string>

#include "core/io/atomic_file.hpp"
#include "tests/core/io/io_test_support.hpp"

using namespace xgrad;
using namespace xgrad::testing;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
  return names;
}

// A directory holding one file per (name, text).
void fill_with(const std::string& dir, const std::set<std::pair<std::string, std::string>>& files) {
  for (const auto& [name, text] : files) io::write_file_atomically((fs::path(dir) / name).string(), text);
}

// Fails the `fail_at`-th step the writers reach (counting from 1) with ENOSPC.
int steps_seen = 0;
int fail_at = 0;
int fail_one_step(const char*) { return ++steps_seen == fail_at ? ENOSPC : 0; }

struct HookGuard {
  explicit HookGuard(io::FaultHook hook) { io::set_fault_hook(hook); }
  ~HookGuard() { io::set_fault_hook(nullptr); }
};

}  // namespace

TEST_CASE("A directory commit replaces every file at once and leaves no staging directory", "[core][io]") {
  TempDir dir("commit");
  const std::string target = dir.file("ckpt");
  io::replace_directory_atomically(target, [](const std::string& staging) {
    fill_with(staging, {{"a.txt", "old a"}, {"b.txt", "old b"}});
  });
  io::replace_directory_atomically(target, [](const std::string& staging) { fill_with(staging, {{"a.txt", "new a"}}); });
  CHECK(names_in(target) == std::set<std::string>{"a.txt"});  // b.txt went with the old version
  CHECK(read_bytes(target + "/a.txt") == "new a");
  CHECK(names_in(dir.path) == std::set<std::string>{"ckpt"});
}

TEST_CASE("A directory commit whose writer throws leaves the target untouched", "[core][io]") {
  TempDir dir("throws");
  const std::string target = dir.file("ckpt");
  io::replace_directory_atomically(target, [](const std::string& staging) { fill_with(staging, {{"a.txt", "old"}}); });
  CHECK_THROWS_WITH(io::replace_directory_atomically(target,
                                                     [](const std::string& staging) {
                                                       fill_with(staging, {{"a.txt", "half"}});
                                                       throw std::runtime_error("writer gave up");
                                                     }),
                    "writer gave up");
  CHECK(read_bytes(target + "/a.txt") == "old");
  CHECK(names_in(dir.path) == std::set<std::string>{"ckpt"});
}

TEST_CASE("Leftovers of an interrupted directory commit are removed by the next one", "[core][io]") {
  TempDir dir("leftovers");
  const std::string target = dir.file("ckpt");
  const std::string staging = io::staging_directory_for(target);
  CHECK(staging == dir.file(".ckpt.saving"));
  fs::create_directories(staging);
  write_bytes(staging + "/big.npy", std::string(1 << 16, 'x'));  // what a killed save leaves
  io::replace_directory_atomically(target, [](const std::string& s) { fill_with(s, {{"a.txt", "new"}}); });
  CHECK_FALSE(fs::exists(staging));
  CHECK(names_in(target) == std::set<std::string>{"a.txt"});
}

// Writes the new version once per step the writers reach, that step failing with ENOSPC,
// each time after `write_old` (without faults). `written_new` checks a write that threw
// nothing (a step past the point of no return: the new version must be there); `kept_old`
// checks one that threw. Returns how many threw.
static int fail_each_step_in_turn(const std::function<void()>& write_old, const std::function<void()>& write_new,
                           const std::function<void()>& written_new, const std::function<void(const char*)>& kept_old) {
  const HookGuard guard(fail_one_step);
  int failures = 0;
  for (fail_at = 1;; ++fail_at) {
    INFO("failing step " << fail_at);
    REQUIRE(fail_at < 100);
    io::set_fault_hook(nullptr);
    write_old();
    io::set_fault_hook(fail_one_step);
    steps_seen = 0;
    try {
      write_new();
      written_new();
    } catch (const io::WriteError& e) {
      ++failures;
      kept_old(e.what());
    }
    if (steps_seen < fail_at) return failures;  // no step left to fail
  }
}

TEST_CASE("A file write that fails at any step leaves the old file and no temporary file", "[core][io]") {
  TempDir dir("file_fault");
  const std::string path = dir.file("a.txt");
  const int failures = fail_each_step_in_turn(
      [&] { io::write_file_atomically(path, "old"); }, [&] { io::write_file_atomically(path, "new"); },
      [&] {
        CHECK(read_bytes(path) == "new");
        CHECK(names_in(dir.path) == std::set<std::string>{"a.txt"});
      },
      [&](const char* message) {
        CHECK_THAT(message, Contains("a.txt") && Contains(std::strerror(ENOSPC)));
        CHECK(read_bytes(path) == "old");
        CHECK(names_in(dir.path) == std::set<std::string>{"a.txt"});
      });
  CHECK(failures == 3);  // the temporary file's creation, data and sync steps each failed once
}

TEST_CASE("A directory commit that fails at any step (a full disk) leaves the old version whole", "[core][io]") {
  TempDir dir("dir_fault");
  const std::string target = dir.file("ckpt");
  const int failures = fail_each_step_in_turn(
      [&] {
        io::replace_directory_atomically(target, [](const std::string& s) {
          fill_with(s, {{"a.txt", "old a"}, {"b.txt", "old b"}});
        });
      },
      [&] {
        io::replace_directory_atomically(target, [](const std::string& s) {
          fill_with(s, {{"a.txt", "new a"}, {"c.txt", "new c"}});
        });
      },
      [&] {
        CHECK(names_in(target) == std::set<std::string>{"a.txt", "c.txt"});
        CHECK(read_bytes(target + "/a.txt") == "new a");
        CHECK(names_in(dir.path) == std::set<std::string>{"ckpt"});
      },
      [&](const char*) {
        CHECK(names_in(target) == std::set<std::string>{"a.txt", "b.txt"});
        CHECK(read_bytes(target + "/a.txt") == "old a");
        CHECK(names_in(dir.path) == std::set<std::string>{"ckpt"});
      });
  CHECK(failures == 9);  // 3 steps of each of 2 files, and 3 of the staging directory's own
}
