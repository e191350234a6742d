// Atomic file writes (temp file + fsync + rename) and directory commits (staging directory
// + fsync + rename exchange), with a fault hook for tests (atomic_file.hpp).
#include "core/io/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace xgrad::io {
namespace {

namespace fs = std::filesystem;

std::atomic<FaultHook> fault_hook{nullptr};
std::atomic<unsigned> temp_counter{0};

// Runs the fault hook at `step`; a non-zero result becomes errno and "failed".
bool step_fails(const char* step) {
  const FaultHook hook = fault_hook.load();
  if (hook == nullptr) return false;
  const int injected = hook(step);
  if (injected == 0) return false;
  errno = injected;
  return true;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw WriteError(path + ": " + what); }

std::string errno_text() { return std::strerror(errno); }

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

std::string parent_of(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

// Makes the directory entries in `dir` (a rename, a new file) durable.
bool sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  return synced;
}

// `target` without trailing slashes, so "ckpt/" and "ckpt" name one directory and one
// staging directory.
std::string without_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::string old_directory_for(const std::string& target) {
  const fs::path path(without_trailing_slashes(target));
  return (path.parent_path() / ("." + path.filename().string() + ".old")).string();
}

bool exists(const std::string& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0;
}

// Where renameat2(RENAME_EXCHANGE) is refused (some file systems), the target is swapped in
// two renames through ".NAME.old". A kill between them leaves no target but a complete old
// directory, which this puts back before anything else happens.
void recover_two_step_swap(const std::string& target) {
  const std::string old = old_directory_for(target);
  if (!exists(old)) return;
  std::error_code ignored;
  if (!exists(target)) {
    if (::rename(old.c_str(), target.c_str()) != 0) fail(target, "cannot restore it from " + old + ": " + errno_text());
  } else {
    fs::remove_all(old, ignored);
  }
}

void swap_in(const std::string& staging, const std::string& target) {
  if (!exists(target)) {
    if (step_fails("directory: about to swap") || ::rename(staging.c_str(), target.c_str()) != 0) {
      fail(target, "cannot move the new directory into place: " + errno_text());
    }
    return;
  }
  if (step_fails("directory: about to swap")) fail(target, "cannot swap in the new directory: " + errno_text());
  if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) return;
  if (errno != EINVAL && errno != ENOSYS) fail(target, "cannot swap in the new directory: " + errno_text());
  const std::string old = old_directory_for(target);
  if (::rename(target.c_str(), old.c_str()) != 0) fail(target, "cannot move the old directory aside: " + errno_text());
  if (::rename(staging.c_str(), target.c_str()) != 0) {
    const std::string why = errno_text();
    ::rename(old.c_str(), target.c_str());
    fail(target, "cannot move the new directory into place: " + why);
  }
  if (::rename(old.c_str(), staging.c_str()) != 0) {
    std::error_code ignored;
    fs::remove_all(old, ignored);
  }
}

}  // namespace

void set_fault_hook(FaultHook hook) { fault_hook.store(hook); }

void write_file_atomically(const std::string& path, const char* head, std::size_t head_size, const char* body,
                           std::size_t body_size) {
  const std::string temp =
      path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(temp_counter.fetch_add(1));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "cannot write: " + errno_text());
  const bool written = !step_fails("file: temporary created") && write_all(fd, head, head_size) &&
                       write_all(fd, body, body_size) && !step_fails("file: data written") && ::fsync(fd) == 0 &&
                       !step_fails("file: synced");
  std::string why = written ? "" : errno_text();
  if (::close(fd) != 0 && written) why = errno_text();
  if (!why.empty()) {
    ::unlink(temp.c_str());
    fail(path, "cannot write: " + why);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    why = errno_text();
    ::unlink(temp.c_str());
    fail(path, "cannot write (rename from the temporary file failed): " + why);
  }
  step_fails("file: renamed");
  // The rename itself is durable only once the directory is synced; the data already is,
  // and a failure here cannot be undone, so it is not an error.
  sync_directory(parent_of(path));
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  write_file_atomically(path, bytes.data(), bytes.size(), nullptr, 0);
}

std::string staging_directory_for(const std::string& target) {
  const fs::path path(without_trailing_slashes(target));
  return (path.parent_path() / ("." + path.filename().string() + ".saving")).string();
}

void replace_directory_atomically(const std::string& target_path, const std::function<void(const std::string&)>& fill) {
  const std::string target = without_trailing_slashes(target_path);
  const std::string parent = parent_of(target);
  std::error_code error;
  fs::create_directories(parent, error);
  if (error) fail(target, "cannot create its parent directory: " + error.message());
  recover_two_step_swap(target);
  if (exists(target) && !fs::is_directory(target)) fail(target, "exists and is not a directory");

  // The staging directory of an interrupted commit holds either a partial new version or,
  // after the swap, the complete old one: neither is wanted now.
  const std::string staging = staging_directory_for(target);
  fs::remove_all(staging, error);
  if (error) fail(target, "cannot remove the leftovers of an interrupted save in " + staging + ": " + error.message());
  if (::mkdir(staging.c_str(), 0755) != 0 || step_fails("directory: staging created")) {
    const std::string why = errno_text();
    fs::remove_all(staging, error);
    fail(target, "cannot create the staging directory " + staging + ": " + why);
  }
  const auto abandon = [&] {
    std::error_code ignored;
    fs::remove_all(staging, ignored);
  };
  try {
    fill(staging);
    if (step_fails("directory: staging filled") || !sync_directory(staging)) {
      fail(target, "cannot sync the staging directory " + staging + ": " + errno_text());
    }
    swap_in(staging, target);
  } catch (...) {
    abandon();
    throw;
  }
  sync_directory(parent);
  step_fails("directory: swapped in, old contents not yet removed");
  abandon();  // now the old contents, or nothing
  sync_directory(parent);
}

}  // namespace xgrad::io
