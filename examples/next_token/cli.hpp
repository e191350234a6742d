// The next_token command line: flags (CLI11), the run from corpus to summary, and exit codes.
// run() is the whole program, taking its streams as arguments so tests can drive it.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace next_token {

// Exit codes.
constexpr int kExitOk = 0;          // trained (or sampled), row check and learning check passed
constexpr int kExitError = 1;       // a file could not be read or written (corpus, checkpoint, outputs)
constexpr int kExitUsage = 2;       // bad flags or values; nothing was run
constexpr int kExitCheckFailed = 3; // the run finished but the row check or the learning check failed

// `interactive` chooses the progress line (a terminal) over plain log lines.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err, bool interactive);

// The same with arguments as strings (without the program name), for tests.
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, bool interactive = false);

}  // namespace next_token
