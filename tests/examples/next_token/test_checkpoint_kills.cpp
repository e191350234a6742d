// Specification of checkpoint atomicity under kills, full disks and overlapping saves (two
// processes saving into one directory: one wins, the other is told, and chaos rounds of
// overlapping saves killed at random moments). For kills and full disks: a child process saves a
// new checkpoint over an old one and is killed (SIGKILL) at every step of the save that
// matters (through core/io's fault hook) and at random moments; or its writes fail as on a
// full disk (the file-size limit). Every time, the directory must load as the old checkpoint
// or the new one, bit for bit, and the next save must leave no leftovers beside it.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "checkpoint.hpp"
#include "core/io/atomic_file.hpp"
#include "tests/examples/next_token/checkpoint_test_support.hpp"
#include "tests/examples/next_token/next_token_support.hpp"

using namespace next_token;
using namespace next_token::testing;
namespace fs = std::filesystem;

namespace {

enum class Found { old_checkpoint, new_checkpoint, neither };

// What `dir` loads as: the parameters of `old_model`, those of `new_model`, or neither (an
// error, or other values).
Found what_loads(const std::string& dir, const LanguageModel& old_model, const LanguageModel& new_model) {
  try {
    const CheckpointInfo info = read_checkpoint_info(dir);
    const auto loaded = make_model(info.spec, 0);
    load_parameters(dir, *loaded);
    if (same_bits(values_of(*loaded), values_of(old_model))) return Found::old_checkpoint;
    if (same_bits(values_of(*loaded), values_of(new_model))) return Found::new_checkpoint;
  } catch (const CheckpointError& e) {
    UNSCOPED_INFO("load failed: " << e.what());
  }
  return Found::neither;
}

// Only the checkpoint itself is left in its parent: no staging directory, no temporary file.
bool no_leftovers(const TempDir& dir) {
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    if (entry.path().filename() != "ckpt") return false;
  }
  for (const auto& entry : fs::directory_iterator(dir.path / "ckpt")) {
    if (entry.path().filename().string().find(".tmp-") != std::string::npos) return false;
  }
  return true;
}

int steps_before_kill = 0;
int kill_at_step(const char*) {
  if (--steps_before_kill == 0) ::raise(SIGKILL);
  return 0;
}

// Runs `child` in a forked process (which ends with _exit, never returning into Catch) and
// returns its wait status. `after_fork` runs in the parent while the child works.
template <class Child, class Parent>
int in_child(Child child, Parent after_fork) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    child();
    ::_exit(0);
  }
  after_fork(pid);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return status;
}

bool killed(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL; }

}  // namespace

TEST_CASE("A save killed at any of its steps leaves the old or the new checkpoint, and the next save cleans up",
          "[next_token][checkpoint][kill]") {
  TempDir dir("kill_steps");
  const std::string ckpt = dir.file("ckpt");
  const auto old_model = scrambled_model(100);
  const auto new_model = scrambled_model(200);
  int kills = 0, old_found = 0, new_found = 0;
  for (int step = 1;; ++step) {
    INFO("killed at step " << step);
    REQUIRE(step < 200);
    save_checkpoint(ckpt, *old_model, words40(), 1, 0);
    const int status = in_child(
        [&] {
          steps_before_kill = step;
          xgrad::io::set_fault_hook(kill_at_step);
          save_checkpoint(ckpt, *new_model, words40(), 2, 0);
        },
        [](pid_t) {});
    if (!killed(status)) {  // the save got past its last step: nothing left to kill
      REQUIRE(WIFEXITED(status));
      CHECK(WEXITSTATUS(status) == 0);
      CHECK(what_loads(ckpt, *old_model, *new_model) == Found::new_checkpoint);
      break;
    }
    ++kills;
    const Found found = what_loads(ckpt, *old_model, *new_model);
    CHECK(found != Found::neither);
    old_found += found == Found::old_checkpoint;
    new_found += found == Found::new_checkpoint;
    save_checkpoint(ckpt, *old_model, words40(), 3, 0);  // the next save...
    CHECK(no_leftovers(dir));                           // ...removes what the killed one left
    CHECK(what_loads(ckpt, *old_model, *new_model) == Found::old_checkpoint);
  }
  std::cout << "kill test (every step): " << kills << " kills, " << old_found << " left the old checkpoint, "
            << new_found << " the new one\n";
  CHECK(kills >= 20);  // 6 files of 4 steps each, and the directory's own steps
  CHECK(old_found > 0);
  CHECK(new_found > 0);
}

TEST_CASE("A save killed by SIGKILL at random moments leaves the old or the new checkpoint",
          "[next_token][checkpoint][kill]") {
  TempDir dir("kill_random");
  const std::string ckpt = dir.file("ckpt");
  ModelConfig config = small_config();
  config.embed_dim = 64;
  config.hidden = 512;  // about 1 MB of parameters, so a save takes long enough to be hit
  const auto old_model = scrambled_model(300, config);
  const auto new_model = scrambled_model(400, config);
  const Vocabulary vocabulary = words40();

  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  save_checkpoint(ckpt, *new_model, vocabulary, 2, 0);
  const auto save_time = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);

  std::mt19937 rng(12);  // the delays are reproducible; where they land depends on the machine
  std::uniform_int_distribution<long> delay(0, std::max<long>(1, save_time.count() * 3 / 2));
  constexpr int kAttempts = 40;
  int kills = 0, finished = 0, old_found = 0, new_found = 0;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    save_checkpoint(ckpt, *old_model, vocabulary, 1, 0);
    const long wait_us = delay(rng);
    INFO("attempt " << attempt << ", kill after " << wait_us << " us");
    const int status = in_child([&] { save_checkpoint(ckpt, *new_model, vocabulary, 2, 0); },
                                [&](pid_t pid) {
                                  std::this_thread::sleep_for(std::chrono::microseconds(wait_us));
                                  ::kill(pid, SIGKILL);
                                });
    kills += killed(status);
    finished += WIFEXITED(status);
    const Found found = what_loads(ckpt, *old_model, *new_model);
    CHECK(found != Found::neither);
    old_found += found == Found::old_checkpoint;
    new_found += found == Found::new_checkpoint;
  }
  save_checkpoint(ckpt, *old_model, vocabulary, 3, 0);
  CHECK(no_leftovers(dir));
  std::cout << "kill test (random moments, save takes " << save_time.count() << " us): " << kills << " kills, "
            << finished << " saves finished first; " << old_found << " left the old checkpoint, " << new_found
            << " the new one\n";
  CHECK(kills + finished == kAttempts);
}

TEST_CASE("A save that fails on its second file for want of space leaves the old checkpoint and no leftovers",
          "[next_token][checkpoint][full-disk]") {
  TempDir dir("full_disk");
  const std::string ckpt = dir.file("ckpt");
  ModelConfig config = small_config();
  config.hidden = 200;  // hidden.kernel, the second file, is 8 KB; the table before it under 1 KB
  const auto old_model = scrambled_model(500, config);
  const auto new_model = scrambled_model(600, config);
  save_checkpoint(ckpt, *old_model, words40(), 1, 0);
  // A file-size limit makes write(2) fail with EFBIG as a full disk fails with ENOSPC,
  // without needing a small file system to fill.
  const int status = in_child(
      [&] {
        ::signal(SIGXFSZ, SIG_IGN);
        const rlimit limit{4096, 4096};
        ::setrlimit(RLIMIT_FSIZE, &limit);
        try {
          save_checkpoint(ckpt, *new_model, words40(), 2, 0);
        } catch (const CheckpointError& e) {
          const bool second_file = std::strstr(e.what(), "hidden.kernel.npy") != nullptr;
          ::_exit(second_file && std::strstr(e.what(), std::strerror(EFBIG)) ? 10 : 11);
        }
        ::_exit(12);
      },
      [](pid_t) {});
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 10);  // the save failed, at the second file, naming the reason
  CHECK(what_loads(ckpt, *old_model, *new_model) == Found::old_checkpoint);
  CHECK(no_leftovers(dir));
}

namespace {

// Which of `models` the checkpoint in `dir` loads as (its index), or -1: an error or other values.
int which_loads(const std::string& dir, const std::vector<std::unique_ptr<LanguageModel>>& models) {
  try {
    const CheckpointInfo info = read_checkpoint_info(dir);
    const auto loaded = make_model(info.spec, 0);
    load_parameters(dir, *loaded);
    for (std::size_t i = 0; i < models.size(); ++i) {
      if (same_bits(values_of(*loaded), values_of(*models[i]))) return static_cast<int>(i);
    }
  } catch (const CheckpointError& e) {
    UNSCOPED_INFO("load failed: " << e.what());
  }
  return -1;
}

constexpr int kOtherError = 99;  // anything else a child's save threw

// In a child: saves `model` into `dir` `saves` times; exits 100 + the saves that went
// through, or kOtherError when a save failed other than by losing the race loudly.
[[noreturn]] void save_repeatedly(const std::string& dir, const LanguageModel& model, int saves) {
  int won = 0;
  for (int i = 0; i < saves; ++i) {
    try {
      save_checkpoint(dir, model, words40(), static_cast<std::size_t>(i), 0);
      ++won;
    } catch (const CheckpointError& e) {
      if (std::strstr(e.what(), "another save into it is in progress") == nullptr) {
        std::cerr << "child " << ::getpid() << ": " << e.what() << "\n";
        ::_exit(kOtherError);
      }
    }
  }
  ::_exit(100 + won);
}

std::vector<std::unique_ptr<LanguageModel>> distinct_models(int count, std::uint32_t salt) {
  ModelConfig config = small_config();
  config.embed_dim = 64;
  config.hidden = 512;  // about 1 MB of parameters, so saves take long enough to overlap
  std::vector<std::unique_ptr<LanguageModel>> models;
  for (int i = 0; i < count; ++i) models.push_back(scrambled_model(salt + 1000 * static_cast<std::uint32_t>(i), config));
  return models;
}

}  // namespace

TEST_CASE("Processes saving into one directory at once leave one saved state, and each loser is told",
          "[next_token][checkpoint][overlap]") {
  TempDir dir("overlap_processes");
  const std::string ckpt = dir.file("ckpt");
  const auto models = distinct_models(3, 700);  // [0] the old checkpoint, [1] and [2] the savers
  save_checkpoint(ckpt, *models[0], words40(), 0, 0);
  constexpr int kSaves = 12;
  std::vector<pid_t> children;
  for (int k = 1; k <= 2; ++k) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) save_repeatedly(ckpt, *models[static_cast<std::size_t>(k)], kSaves);
    children.push_back(pid);
  }
  int won = 0;
  for (const pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) != kOtherError);
    won += WEXITSTATUS(status) - 100;
  }
  std::cout << "overlapping saves: " << won << " of " << 2 * kSaves << " went through, the others lost the race\n";
  CHECK(won >= 1);
  const int found = which_loads(ckpt, models);
  CHECK((found == 1 || found == 2));
  save_checkpoint(ckpt, *models[0], words40(), 1, 0);
  CHECK(no_leftovers(dir));
}

TEST_CASE("Chaos: overlapping saves killed at random moments always leave a checkpoint --load accepts",
          "[next_token][checkpoint][overlap][kill]") {
  TempDir dir("chaos");
  const std::string ckpt = dir.file("ckpt");
  const auto models = distinct_models(4, 900);  // [0] the first checkpoint, [1..3] the savers
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  save_checkpoint(ckpt, *models[0], words40(), 0, 0);
  const auto save_time = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);

  std::mt19937 rng(22);  // the choices are reproducible; where the kills land depends on the machine
  std::uniform_int_distribution<long> delay(0, std::max<long>(1, save_time.count() * 4));
  constexpr int kRounds = 30;
  int rounds = 0, kills = 0, other_errors = 0;
  std::set<int> states_seen;
  for (; rounds < kRounds && Clock::now() - start < std::chrono::seconds(10); ++rounds) {
    const int savers = 1 + static_cast<int>(rng() % 3);
    std::vector<pid_t> children;
    for (int k = 1; k <= savers; ++k) {
      const pid_t pid = ::fork();
      REQUIRE(pid >= 0);
      if (pid == 0) save_repeatedly(ckpt, *models[static_cast<std::size_t>(k)], 3);
      children.push_back(pid);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(delay(rng)));
    for (const pid_t pid : children) {
      if (rng() % 3 != 0) ::kill(pid, SIGKILL);  // most, not always all
    }
    for (const pid_t pid : children) {
      int status = 0;
      REQUIRE(::waitpid(pid, &status, 0) == pid);
      kills += killed(status);
      other_errors += WIFEXITED(status) && WEXITSTATUS(status) == kOtherError;
    }
    const int found = which_loads(ckpt, models);
    INFO("round " << rounds);
    CHECK(found >= 0);
    states_seen.insert(found);
  }
  CHECK(other_errors == 0);
  // The CLI's --load accepts what the chaos left (its own checks, then an evaluation).
  const CliResult loaded = run_cli({"--load", ckpt, "--steps", "0", "--samples", "0", "--eval-windows", "20", "--quiet"});
  INFO(loaded.err);
  CHECK((loaded.code == kExitOk || loaded.code == kExitCheckFailed));
  CHECK(loaded.err.empty());
  save_checkpoint(ckpt, *models[0], words40(), 1, 0);
  CHECK(no_leftovers(dir));
  std::cout << "chaos test: " << rounds << " rounds in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count() << " ms, " << kills
            << " saves killed, " << states_seen.size() << " distinct states left\n";
  CHECK(rounds >= 5);
}
