// Checks of the output paths against each other and the inputs (output_paths.hpp).
#include "output_paths.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "checkpoint.hpp"
#include "core/io/message_text.hpp"
#include "plot.hpp"

namespace next_token {
namespace {

namespace fs = std::filesystem;

// The path with symlinks and "..", "." resolved as far as it exists, without a trailing slash.
fs::path resolved(const std::string& path) {
  std::error_code error;
  const fs::path absolute = fs::absolute(path, error);
  const fs::path canonical = fs::weakly_canonical(absolute, error);
  fs::path out = (error ? absolute : canonical).lexically_normal();
  if (!out.has_filename() && out.has_relative_path()) out = out.parent_path();
  return out;
}

// `inner` is `outer` or lies below it.
bool is_within(const std::string& inner, const std::string& outer) {
  const fs::path relative = resolved(inner).lexically_relative(resolved(outer));
  return !relative.empty() && *relative.begin() != "..";
}

bool same_path(const std::string& a, const std::string& b) { return resolved(a) == resolved(b); }

// The closest directory on the way to `path` that exists: where it would be created.
fs::path nearest_existing_directory(const fs::path& path) {
  fs::path at = resolved(path.string());
  std::error_code error;
  while (!fs::is_directory(at, error) && at.has_relative_path()) at = at.parent_path();
  return at;
}

// Creates and removes a file in `dir`: the only test of writability that also holds for
// root, read-only mounts and full quotas alike.
void require_writable(const std::string& flag, const std::string& value, const fs::path& dir) {
  const std::string probe = (dir / (".next_token-probe-" + std::to_string(::getpid()))).string();
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw OutputPathError(flag + " " + value + ": cannot write in " + dir.string() + ": " + std::strerror(errno));
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

void check_json(const RunPaths& p) {
  const std::string flag = "--json " + p.json;
  const fs::path path(p.json);
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (fs::is_directory(path)) throw OutputPathError(flag + ": is a directory");
  if (same_path(p.json, p.corpus)) throw OutputPathError(flag + ": is the corpus; it would be overwritten");
  if (!p.load.empty() && is_within(p.json, p.load)) {
    throw OutputPathError(flag + ": is inside the checkpoint being loaded (" + p.load + ")");
  }
  if (!p.save.empty() && is_within(p.json, p.save)) {
    throw OutputPathError(flag + ": is inside the --save directory, which a save replaces as a whole");
  }
  if (!p.plot.empty()) {
    for (const char* name : kPlotFiles) {
      if (same_path(p.json, (fs::path(p.plot) / name).string())) throw OutputPathError(flag + ": is a --plot file");
    }
  }
  if (!fs::is_directory(parent)) throw OutputPathError(flag + ": directory " + parent.string() + " does not exist");
  require_writable("--json", p.json, parent);
}

void check_plot(const RunPaths& p) {
  const std::string flag = "--plot " + p.plot;
  if (fs::exists(p.plot) && !fs::is_directory(p.plot)) throw OutputPathError(flag + ": exists and is not a directory");
  for (const char* name : kPlotFiles) {
    if (same_path((fs::path(p.plot) / name).string(), p.corpus)) {
      throw OutputPathError(flag + ": " + name + " there is the corpus; it would be overwritten");
    }
  }
  if (!p.load.empty() && is_within(p.plot, p.load)) {
    throw OutputPathError(flag + ": is inside the checkpoint being loaded (" + p.load + ")");
  }
  if (!p.save.empty() && (is_within(p.plot, p.save) || is_within(p.save, p.plot))) {
    throw OutputPathError(flag + ": overlaps the --save directory, which a save replaces as a whole");
  }
  require_writable("--plot", p.plot, nearest_existing_directory(p.plot));
}

void check_save(const RunPaths& p) {
  const std::string flag = "--save " + p.save;
  if (fs::exists(p.save) && !fs::is_directory(p.save)) throw OutputPathError(flag + ": exists and is not a directory");
  if (is_within(p.corpus, p.save)) throw OutputPathError(flag + ": holds the corpus, and a save replaces it as a whole");
  if (!p.load.empty() && !same_path(p.save, p.load) && (is_within(p.save, p.load) || is_within(p.load, p.save))) {
    throw OutputPathError(flag + ": overlaps the checkpoint being loaded (" + p.load +
                          "); save into it or beside it, not inside or around it");
  }
  try {
    check_checkpoint_target(p.save);
  } catch (const CheckpointError& e) {
    throw OutputPathError(std::string("--save: ") + e.what());
  }
  // The new checkpoint is written beside the target, then swapped in.
  const fs::path path = resolved(p.save);
  require_writable("--save", p.save, nearest_existing_directory(path.parent_path()));
}

}  // namespace

void check_run_paths(const RunPaths& paths) {
  if (!paths.json.empty()) check_json(paths);
  if (!paths.plot.empty()) check_plot(paths);
  if (!paths.save.empty()) check_save(paths);
}

}  // namespace next_token
