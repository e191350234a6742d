// Writing files and directories so that a crash, a kill or a full disk at any moment leaves
// either the old version or the new one, complete, and never a mix.
//   A file: the bytes go to a temporary file beside the target, are fsync'ed, and the
//     temporary file is renamed over the target; the directory is fsync'ed after.
//   A directory: its files are written into a staging directory beside the target, which is
//     fsync'ed and then exchanged with the target in one rename (renameat2 RENAME_EXCHANGE);
//     the old contents, now in the staging directory, are removed after. A kill after the
//     exchange leaves the old contents in the staging directory: the next commit removes them.
// Overlapping writes of one target (two runs, or a run and a second terminal; threads too):
// each write first takes an exclusive flock(2) on ".NAME.lock" beside the target and holds it
// until it is done. A write that finds the lock taken fails at once with WriteError, writing
// nothing and leaving the target as it was; the one holding the lock goes on. A process
// killed while holding the lock releases it with its file descriptors (the stale file is
// reused and removed by the next write). Temporary files and staging directories carry a
// name private to each write (pid, counter and random bits), and what is swapped in is
// checked to be the staging directory this write made and filled, so no write can swap in
// another's half-written files.
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
// Temporary files that killed writes of `path` left are removed.
void write_file_atomically(const std::string& path, const char* head, std::size_t head_size, const char* body,
                           std::size_t body_size);
void write_file_atomically(const std::string& path, const std::string& bytes);

// Replaces the directory `target` as a whole with what `fill` writes into the staging
// directory whose path it is given (the parent directories of `target` are created when
// missing). Leftovers of an interrupted commit of the same target are removed first. When
// `fill` throws, the staging directory is removed, `target` is untouched, and the exception
// goes on. `verify`, when given, is called on the filled staging directory just before the
// swap and throws when it is not complete; the commit is then abandoned as when `fill`
// throws. Throws WriteError when the lock is taken or the staging directory cannot be made,
// is not the one this commit filled, or cannot be swapped in.
using DirectoryWriter = std::function<void(const std::string&)>;
void replace_directory_atomically(const std::string& target, const DirectoryWriter& fill,
                                  const DirectoryWriter& verify = nullptr);

// The prefix of the staging directories replace_directory_atomically makes for `target`:
// ".NAME.saving"; each commit's is ".NAME.saving-PID-COUNTER-RANDOM" beside the target.
std::string staging_prefix_for(const std::string& target);

// The lock file every write of `target` holds (a flock) while it runs: ".NAME.lock" beside it.
std::string lock_path_for(const std::string& target);

// Fault injection for tests. The writers call the hook at each step that matters for
// atomicity, with the step's name ("file: data written", "directory: swapped", ...). The hook
// may kill the process there, or return an errno value to make that step fail as if the
// system call had (e.g. ENOSPC); 0 lets the step go on. nullptr (the default) removes it.
using FaultHook = int (*)(const char* step);
void set_fault_hook(FaultHook hook);

}  // namespace xgrad::io
