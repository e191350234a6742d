// The files a run reads and writes, checked against each other before any training starts:
// an output must be writable, must not be one of the inputs (the corpus, the checkpoint
// being loaded) or inside that checkpoint, and outputs must not land inside each other (a
// save replaces its whole directory). A mistake found after a long run costs the run.
// Not a sandbox: files created or removed by someone else meanwhile are not guarded against.
#pragma once

#include <stdexcept>
#include <string>

namespace next_token {

// A bad output path: a usage error (exit 2). The message names the flag.
class OutputPathError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Empty strings are flags not given.
struct RunPaths {
  std::string corpus;  // a file read
  std::string load;    // a checkpoint directory read
  std::string json;    // a file written
  std::string plot;    // a directory written (loss.svg, embedding_rows.svg)
  std::string save;    // a checkpoint directory replaced as a whole
};

// Throws OutputPathError for the first problem found.
void check_run_paths(const RunPaths& paths);

}  // namespace next_token
