// Helpers for the next_token tests: run the CLI in-process, temporary directories, JSON.
#pragma once

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "tests/core/io/io_test_support.hpp"

namespace next_token::testing {

struct CliResult {
  int code = -1;
  std::string out, err;
};

inline CliResult run_cli(const std::vector<std::string>& args, bool interactive = false) {
  std::ostringstream out, err;
  CliResult result;
  result.code = run(args, out, err, interactive);
  result.out = out.str();
  result.err = err.str();
  return result;
}

// A short training run on the shipped corpus (enough steps to learn, small evaluations),
// followed by `more`; a flag in `more` replaces the default of the same name.
inline std::vector<std::string> small_run(const std::vector<std::string>& more = {}) {
  const std::vector<std::pair<std::string, std::string>> defaults{
      {"--steps", "60"},         {"--batch-size", "64"}, {"--eval-every", "0"},
      {"--eval-windows", "500"}, {"--samples", "1"},     {"--sample-length", "16"}};
  std::vector<std::string> args;
  for (const auto& [flag, value] : defaults) {
    if (std::find(more.begin(), more.end(), flag) == more.end()) args.insert(args.end(), {flag, value});
  }
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

using xgrad::testing::TempDir;

inline std::string read_text(const std::string& path) { return xgrad::testing::read_bytes(path); }

inline nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_text(path)); }

inline void write_text(const std::string& path, const std::string& text) { xgrad::testing::write_bytes(path, text); }

// The summary without the keys that depend on wall time.
inline nlohmann::json without_timings(nlohmann::json summary) {
  for (const char* key : {"tokens_per_second", "train_seconds", "total_seconds"}) summary.erase(key);
  return summary;
}

}  // namespace next_token::testing
