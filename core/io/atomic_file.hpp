// Writing files and directories so that a crash, a kill or a full disk at any moment leaves
// either the old version or the new one, complete, and never a mix.
//   A file: the bytes go to a temporary file beside the target, are fsync'ed, and the
//     temporary file is renamed over the target; the directory is fsync'ed after.
//   A directory: its files are written into a staging directory beside the target, which is
//     fsync'ed and then exchanged with the target in one rename (renameat2 RENAME_EXCHANGE);
//     the old contents, now in the staging directory, are removed after. A kill after the
//     exchange leaves the old contents in the staging directory: the next commit removes them.
// Not a lock: two processes committing the same target at once are not supported.
#pragma once

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>

namespace xgrad::io {

// A file or directory that could not be written. The message starts with the path.
class WriteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Writes `head` then `body` to `path` atomically as described above; the directory must
// exist. On failure nothing is left behind (no temporary file) and the old file is intact.
void write_file_atomically(const std::string& path, const char* head, std::size_t head_size, const char* body,
                           std::size_t body_size);
void write_file_atomically(const std::string& path, const std::string& bytes);

// Replaces the directory `target` as a whole with what `fill` writes into the staging
// directory whose path it is given (the parent directories of `target` are created when
// missing). Leftovers of an interrupted commit of the same target are removed first. When
// `fill` throws, the staging directory is removed, `target` is untouched, and the exception
// goes on. Throws WriteError when the staging directory cannot be made or swapped in.
void replace_directory_atomically(const std::string& target, const std::function<void(const std::string&)>& fill);

// The staging directory replace_directory_atomically uses for `target`: ".NAME.saving" beside
// it. Exposed so callers can refuse it as a target of their own and tests can look for it.
std::string staging_directory_for(const std::string& target);

// Fault injection for tests. The writers call the hook at each step that matters for
// atomicity, with the step's name ("file: data written", "directory: swapped", ...). The hook
// may kill the process there, or return an errno value to make that step fail as if the
// system call had (e.g. ENOSPC); 0 lets the step go on. nullptr (the default) removes it.
using FaultHook = int (*)(const char* step);
void set_fault_hook(FaultHook hook);

}  // namespace xgrad::io
