// Specification of core/io/atomic_file: a file or a directory is replaced whole or not at
// all; a write that fails (a full disk, injected through the fault hook) leaves the old
// version and no temporary file; leftovers of an interrupted directory commit are removed
// by the next commit. The kill tests (a process killed at every step of a save) are in
// tests/examples/next_token/test_checkpoint_kills.cpp, on real checkpoints.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <vector>
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
  CHECK(io::staging_prefix_for(target) == dir.file(".ckpt.saving"));
  // What killed saves leave: staging directories (one of an older version's name), a lock file.
  for (const std::string name : {".ckpt.saving", ".ckpt.saving-123-4-00ff00ff00ff00ff"}) {
    fs::create_directories(dir.file(name));
    write_bytes(dir.file(name) + "/big.npy", std::string(1 << 16, 'x'));
  }
  write_bytes(io::lock_path_for(target), "");
  write_bytes(dir.file(".ckpt.saving-by-hand"), "not ours");  // a name no save makes stays
  io::replace_directory_atomically(target, [](const std::string& s) { fill_with(s, {{"a.txt", "new"}}); });
  CHECK(names_in(dir.path) == std::set<std::string>{"ckpt", ".ckpt.saving-by-hand"});
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

TEST_CASE("A directory commit started while another of the same target is in progress fails and changes nothing",
          "[core][io][overlap]") {
  TempDir dir("overlap_nested");
  const std::string target = dir.file("ckpt");
  io::replace_directory_atomically(target, [](const std::string& s) { fill_with(s, {{"a.txt", "old a"}, {"b.txt", "old b"}}); });
  std::string second_error;
  // The second save runs while the first is between its two files: a second terminal.
  io::replace_directory_atomically(target, [&](const std::string& s) {
    fill_with(s, {{"a.txt", "first a"}});
    try {
      io::replace_directory_atomically(target, [](const std::string& t) {
        fill_with(t, {{"a.txt", "second a"}, {"b.txt", "second b"}});
      });
    } catch (const io::WriteError& e) {
      second_error = e.what();
    }
    CHECK(read_bytes(target + "/a.txt") == "old a");  // the loser touched nothing
    fill_with(s, {{"b.txt", "first b"}});
  });
  CHECK_THAT(second_error, Contains(target) && Contains("another save into it is in progress"));
  CHECK(read_bytes(target + "/a.txt") == "first a");
  CHECK(read_bytes(target + "/b.txt") == "first b");
  CHECK(names_in(dir.path) == std::set<std::string>{"ckpt"});
}

TEST_CASE("A file write started while another of the same file is in progress fails and changes nothing",
          "[core][io][overlap]") {
  TempDir dir("overlap_file");
  const std::string path = dir.file("a.txt");
  io::write_file_atomically(path, "old");
  CHECK(io::lock_path_for(path) == dir.file(".a.txt.lock"));
  {  // the lock held as a writer in another process holds it
    struct Holder {
      int fd;
      explicit Holder(const std::string& p) : fd(::open(p.c_str(), O_RDWR | O_CREAT, 0644)) { ::flock(fd, LOCK_EX); }
      ~Holder() { ::close(fd); }
    } holder(io::lock_path_for(path));
    CHECK_THROWS_WITH(io::write_file_atomically(path, "new"), Contains(path) && Contains("another save into it is in progress"));
    CHECK(read_bytes(path) == "old");
  }
  io::write_file_atomically(path, "new");  // a lock left by a dead holder does not block
  CHECK(read_bytes(path) == "new");
  CHECK(names_in(dir.path) == std::set<std::string>{"a.txt"});
}

TEST_CASE("Two threads committing one directory many times leave one complete saved state and every loser an error",
          "[core][io][overlap]") {
  TempDir dir("overlap_threads");
  const std::string target = dir.file("ckpt");
  constexpr int kSaves = 60;
  std::mutex mutex;
  std::set<std::string> committed;
  int lost = 0;
  std::vector<std::string> other_errors;
  const auto saver = [&](int who) {
    for (int i = 0; i < kSaves; ++i) {
      const std::string state = std::to_string(who) + "/" + std::to_string(i);
      try {
        io::replace_directory_atomically(target, [&](const std::string& s) {
          fill_with(s, {{"a.txt", state}});
          std::this_thread::yield();
          fill_with(s, {{"b.txt", state}});
        });
        const std::lock_guard<std::mutex> lock(mutex);
        committed.insert(state);
      } catch (const io::WriteError& e) {
        const std::lock_guard<std::mutex> lock(mutex);
        if (std::strstr(e.what(), "another save into it is in progress")) ++lost;
        else other_errors.push_back(e.what());
      }
    }
  };
  std::thread first(saver, 1), second(saver, 2);
  first.join();
  second.join();
  CHECK(other_errors.empty());
  for (const std::string& e : other_errors) UNSCOPED_INFO(e);
  CHECK(lost + static_cast<int>(committed.size()) == 2 * kSaves);
  const std::string a = read_bytes(target + "/a.txt");
  CHECK(read_bytes(target + "/b.txt") == a);  // one save's files, not a mix
  CHECK(committed.count(a) == 1);
  CHECK(names_in(target) == std::set<std::string>{"a.txt", "b.txt"});
  CHECK(names_in(dir.path) == std::set<std::string>{"ckpt"});
}
