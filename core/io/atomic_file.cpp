// Atomic file writes (temp file + fsync + rename) and directory commits (staging directory
// + fsync + rename exchange), with a fault hook for tests (atomic_file.hpp).
#include "core/io/atomic_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace xgrad::io {
namespace {

namespace fs = std::filesystem;

std::atomic<FaultHook> fault_hook{nullptr};
std::atomic<unsigned> temp_counter{0};

// "PID-COUNTER-RANDOM": unique to one write among the processes and threads that share a
// directory (the random part covers pids reused, or repeated in other pid namespaces).
std::string unique_suffix() {
  std::uint64_t random = 0;
  if (::getentropy(&random, sizeof random) != 0) {
    random = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  char text[80];
  std::snprintf(text, sizeof text, "%ld-%u-%016llx", static_cast<long>(::getpid()), temp_counter.fetch_add(1),
                static_cast<unsigned long long>(random));
  return text;
}

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

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

// The exclusive flock on lock_path_for(target), held from construction to destruction.
class TargetLock {
 public:
  explicit TargetLock(const std::string& target) : path_(lock_path_for(target)) {
    // A holder that finishes unlinks the file: a lock taken on the unlinked file is no lock
    // (the next writer creates a new one), so it is checked to be the file still named so.
    for (int attempt = 0; attempt < 16; ++attempt) {
      fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
      if (fd_ < 0) fail(target, "cannot write: cannot create its lock file " + path_ + ": " + errno_text());
      int locked;
      do {
        locked = ::flock(fd_, LOCK_EX | LOCK_NB);
      } while (locked != 0 && errno == EINTR);
      if (locked != 0) {
        const int why = errno;
        ::close(fd_);
        if (why == EWOULDBLOCK) {
          fail(target, "another save into it is in progress (" + path_ +
                           " is locked by this or another process); this save was abandoned and the existing "
                           "version is unchanged");
        }
        errno = why;
        fail(target, "cannot lock " + path_ + ": " + errno_text());
      }
      struct stat held {}, named {};
      if (::fstat(fd_, &held) == 0 && ::lstat(path_.c_str(), &named) == 0 && same_file(held, named)) return;
      ::close(fd_);
    }
    fail(target, "cannot lock " + path_ + ": it keeps being replaced");
  }
  ~TargetLock() {
    ::unlink(path_.c_str());  // before the lock goes, so nobody locks a file about to vanish
    ::close(fd_);
  }
  TargetLock(const TargetLock&) = delete;
  TargetLock& operator=(const TargetLock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

// Removes the entries of `dir` named `prefix` or `prefix` + "-" + a unique_suffix: what
// killed writes left. Only called with the target's lock held, so none is in use.
void remove_leftovers(const std::string& dir, const std::string& prefix) {
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    const bool ours = rest.empty() || (rest[0] == '-' && rest.find_first_not_of("0123456789abcdef-") == std::string::npos);
    if (!ours) continue;
    std::error_code ignored;
    fs::remove_all(entry.path(), ignored);
  }
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
  const TargetLock lock(path);
  const std::string temp_prefix = fs::path(path).filename().string() + ".tmp";
  remove_leftovers(parent_of(path), temp_prefix);
  const std::string temp = path + ".tmp-" + unique_suffix();
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "cannot write: " + errno_text());
  struct stat made {};
  const bool opened = ::fstat(fd, &made) == 0;
  const bool written = opened && !step_fails("file: temporary created") && write_all(fd, head, head_size) &&
                       write_all(fd, body, body_size) && !step_fails("file: data written") && ::fsync(fd) == 0 &&
                       !step_fails("file: synced");
  std::string why = written ? "" : errno_text();
  // What is renamed over the target must be this write's file, whole.
  struct stat held {}, named {};
  if (why.empty() && (::fstat(fd, &held) != 0 || ::lstat(temp.c_str(), &named) != 0 || !same_file(held, named) ||
                      static_cast<std::size_t>(held.st_size) != head_size + body_size)) {
    why = "the temporary file " + temp + " was changed or replaced while it was written";
  }
  if (::close(fd) != 0 && why.empty()) why = errno_text();
  if (!why.empty()) {
    if (::lstat(temp.c_str(), &named) == 0 && same_file(made, named)) ::unlink(temp.c_str());
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

std::string staging_prefix_for(const std::string& target) {
  const fs::path path(without_trailing_slashes(target));
  return (path.parent_path() / ("." + path.filename().string() + ".saving")).string();
}

std::string lock_path_for(const std::string& target) {
  const fs::path path(without_trailing_slashes(target));
  return (path.parent_path() / ("." + path.filename().string() + ".lock")).string();
}

void replace_directory_atomically(const std::string& target_path, const DirectoryWriter& fill,
                                  const DirectoryWriter& verify) {
  const std::string target = without_trailing_slashes(target_path);
  const std::string parent = parent_of(target);
  std::error_code error;
  fs::create_directories(parent, error);
  if (error) fail(target, "cannot create its parent directory: " + error.message());
  const TargetLock lock(target);
  recover_two_step_swap(target);
  if (exists(target) && !fs::is_directory(target)) fail(target, "exists and is not a directory");

  // The staging directories of interrupted commits hold either a partial new version or,
  // after the swap, the complete old one: neither is wanted now.
  const std::string prefix = staging_prefix_for(target);
  remove_leftovers(parent, fs::path(prefix).filename().string());
  const std::string staging = prefix + "-" + unique_suffix();
  struct stat made {};
  if (::mkdir(staging.c_str(), 0755) != 0 || step_fails("directory: staging created") ||
      ::lstat(staging.c_str(), &made) != 0) {
    const std::string why = errno_text();
    fs::remove_all(staging, error);
    fail(target, "cannot create the staging directory " + staging + ": " + why);
  }
  const auto abandon = [&] {
    struct stat now {};
    if (::lstat(staging.c_str(), &now) != 0 || !same_file(now, made)) return;  // not ours to remove
    std::error_code ignored;
    fs::remove_all(staging, ignored);
  };
  try {
    fill(staging);
    if (step_fails("directory: staging filled") || !sync_directory(staging)) {
      fail(target, "cannot sync the staging directory " + staging + ": " + errno_text());
    }
    struct stat now {};
    if (::lstat(staging.c_str(), &now) != 0 || !same_file(now, made)) {
      fail(target, "the staging directory " + staging + " was removed or replaced while this save filled it");
    }
    if (verify) verify(staging);
    swap_in(staging, target);
  } catch (...) {
    abandon();
    throw;
  }
  sync_directory(parent);
  step_fails("directory: swapped in, old contents not yet removed");
  fs::remove_all(staging, error);  // now the old contents, or nothing
  sync_directory(parent);
}

}  // namespace xgrad::io
