// The next_token command line into one RunConfig (config.hpp): the flags (CLI11), --config
// FILE (TOML, read by CLI11's own config support; a flag on the command line wins over the
// file), --load DIR's settings under both, and the checks of their combinations.
// Not the run: cli.hpp runs what this plans.
#pragma once

#include <iosfwd>
#include <optional>
#include <stdexcept>

#include "checkpoint.hpp"
#include "config.hpp"

namespace next_token {

// A usage error found after parsing (a bad combination of flags): exit 2, nothing run.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Plan {
  bool help = false;                         // --help was printed: nothing to run
  RunConfig config;
  std::optional<CheckpointInfo> checkpoint;  // --load's manifest, checked
};

// Parses twice: once to learn the model kind and --load, then onto that kind's defaults (or
// the checkpoint's settings) so that every flag given, and only those, overrides them.
// Throws CLI::ParseError for what CLI11 refuses, UsageError for a bad combination or a key in
// --config FILE that names no flag, and CheckpointError for a --load it cannot read.
Plan plan_run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace next_token
