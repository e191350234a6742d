// --graph: the step's DOT text, written, and rendered by Graphviz's dot when it is there.
#include "graph.hpp"

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "core/graph_dot.hpp"
#include "core/io/atomic_file.hpp"

extern char** environ;

namespace next_token {
namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Runs `dot -Tsvg in -o out` without a shell (paths need no quoting). Returns "" on
// success, else why not.
std::string render_svg(const std::string& in, const std::string& out) {
  const char* argv[] = {"dot", "-Tsvg", in.c_str(), "-o", out.c_str(), nullptr};
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, "dot", nullptr, nullptr, const_cast<char* const*>(argv), environ);
  if (spawned != 0) {
    return spawned == ENOENT ? "Graphviz's dot is not installed (Debian package graphviz), so no SVG"
                             : std::string("cannot run dot: ") + std::strerror(spawned);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) < 0) return std::string("waiting for dot: ") + std::strerror(errno);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "dot failed to render " + in;
  return "";
}

}  // namespace

std::string step_graph_dot(const xgrad::Tape& tape, const std::vector<std::string>& token_labels,
                           const std::string& title) {
  xgrad::DotOptions options;
  options.vocabulary = token_labels;
  options.title = title;
  std::ostringstream out;
  xgrad::write_dot(out, tape, options);
  return out.str();
}

std::vector<std::string> write_step_graph(const std::string& file, const std::string& dot_text, std::string& note) {
  std::string stem = file;
  if (ends_with(stem, ".dot") || ends_with(stem, ".svg")) stem.resize(stem.size() - 4);
  const std::string dot_path = stem + ".dot";
  const std::string svg_path = stem + ".svg";
  xgrad::io::write_file_atomically(dot_path, dot_text);
  note = render_svg(dot_path, svg_path);
  if (!note.empty()) return {dot_path};
  return {dot_path, svg_path};
}

}  // namespace next_token
