// Command-line front end for xgrad::flax::token_embed_forward: prints the T*D values Flax's
// nn.Embed(V, D) gives for the ids after init with PRNGKey(seed). Not a training tool.
//
//   token_embed_forward --seed 0 --vocab 5 --dim 3 --ids 0,2,1
//   token_embed_forward --seed 0 --vocab 5 --dim 3 --ids=-1,7 --ids-policy flax --format json
//   echo "0 2 1" | token_embed_forward --seed 0 --vocab 5 --dim 3 --ids -
//
// Output: each value with %.9g (reads back as the same float32), one token's D values per
// line. --format json prints {"shape": [T, D], "values": [...]}, with null for NaN (JSON has
// no NaN; Python's json gives None there and numpy.array(values, dtype=float) gives nan).
// Exit status: 0 on success, 2 for bad arguments or ids (one line on stderr), 1 otherwise
// (a read error on stdin, a write error on stdout, a table too large for the machine).
// --ids - reads at most kMaxStdinBytes (16 MiB, a few million ids) from stdin; more is an
// error (exit status 2), so an endless stdin cannot exhaust memory.
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/memory.hpp"
#include "common/numbers.hpp"
#include "core/errors.hpp"
#include "core/flax/flax.hpp"
#include "core/io/message_text.hpp"

namespace {

using xgrad::flax::IdsPolicy;
using xgrad::random::Layout;

constexpr const char* kProgram = "token_embed_forward";

// A command-line mistake: reported on one line, exit status 2.
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// A flag's whole decimal number in [lo, hi] (examples/common/numbers.hpp).
std::int64_t parse_flag(const std::string& flag, const std::string& text, std::int64_t lo, std::int64_t hi) {
  std::int64_t value = 0;
  const std::string problem = examples::parse_whole_number(trim(text), lo, hi, value);
  if (!problem.empty()) throw UsageError(flag + ": " + problem);
  return value;
}

// A read or write error on stdin or stdout: exit status 1 with a message.
class StreamError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr std::size_t kMaxStdinBytes = std::size_t{16} << 20;

// All of stdin, at most kMaxStdinBytes. std::cin would end at a read error (stdin is a
// directory, or closed) just as at the end of the input, and the tool would print nothing
// and succeed.
std::string read_stdin() {
  std::string text;
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (n == 0) return text;
    if (n > 0 && text.size() + static_cast<std::size_t>(n) > kMaxStdinBytes) {
      throw UsageError("--ids -: stdin holds more than " + std::to_string(kMaxStdinBytes) +
                       " bytes, the most this tool reads (pass fewer ids)");
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      throw StreamError(std::string("cannot read the ids from stdin: ") + std::strerror(errno));
    }
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

void write_stdout(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    throw StreamError(std::string("cannot write to stdout: ") + std::strerror(errno));
  }
}

std::string number_text(float value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", static_cast<double>(value));
  return buffer;
}

void print_text(const std::vector<float>& values, std::size_t d_model) {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    out += number_text(values[i]);
    out += (i + 1) % d_model == 0 ? '\n' : ' ';
  }
  write_stdout(out);
}

void print_json(const std::vector<float>& values, std::size_t tokens, std::size_t d_model) {
  std::string out = "{\"shape\": [" + std::to_string(tokens) + ", " + std::to_string(d_model) + "], \"values\": [";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::isnan(values[i]) ? std::string("null") : number_text(values[i]);
  }
  out += "]}\n";
  write_stdout(out);
}

struct Arguments {
  std::string seed, vocab, dim, ids;
  std::string prng = "partitionable";
  std::string ids_policy = "strict";
  std::string format = "text";
};

void add_options(CLI::App& app, Arguments& args) {
  app.add_option("--seed", args.seed, "PRNGKey seed (int64; wraps to its low 32 bits as JAX does)")
      ->required()
      ->type_name("INT");
  app.add_option("--vocab", args.vocab, "vocabulary size V (> 0)")->required()->type_name("INT");
  app.add_option("--dim", args.dim, "embedding width D (> 0)")->required()->type_name("INT");
  app.add_option("--ids", args.ids, "token ids, e.g. \"0,2,1\" (use --ids=-1,3 for negative ids, - for stdin, "
                 "at most 16777216 bytes of it)")
      ->required()
      ->type_name("IDS");
  app.add_option("--prng", args.prng, "threefry layout (default partitionable, JAX >= 0.5)")
      ->check(CLI::IsMember({"partitionable", "legacy"}));
  app.add_option("--ids-policy", args.ids_policy, "strict (ids in [0, V), default) or flax (NaN rows, wrap)")
      ->check(CLI::IsMember({"strict", "flax"}));
  app.add_option("--format", args.format, "text (default) or json")->check(CLI::IsMember({"text", "json"}));
}

int run(const Arguments& args) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  const auto seed = parse_flag("--seed", args.seed, std::numeric_limits<std::int64_t>::min(), kMax);
  const auto vocab = static_cast<std::size_t>(parse_flag("--vocab", args.vocab, 1, kMax));
  const auto dim = static_cast<std::size_t>(parse_flag("--dim", args.dim, 1, kMax));
  std::vector<double> ids;
  try {
    ids = examples::parse_id_list(args.ids == "-" ? read_stdin() : args.ids);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  // The table, the looked-up rows, and their printed text (at most 16 bytes a value).
  const long double table = static_cast<long double>(vocab) * dim * sizeof(float);
  const long double rows = static_cast<long double>(ids.size()) * dim * (sizeof(float) + 16);
  const std::string problem = examples::allocation_problem(
      "a (" + std::to_string(vocab) + ", " + std::to_string(dim) + ") float32 table and its output", table + rows);
  if (!problem.empty()) throw StreamError(problem);
  const Layout layout = args.prng == "legacy" ? Layout::legacy : Layout::partitionable;
  const IdsPolicy policy = args.ids_policy == "flax" ? IdsPolicy::flax : IdsPolicy::strict;

  const std::vector<float> values = xgrad::flax::token_embed_forward(seed, ids, vocab, dim, policy, layout);
  if (args.format == "json") {
    print_json(values, ids.size(), dim);
  } else {
    print_text(values, dim);
  }
  return 0;
}

// The library's messages already start with "token_embed_forward: "; ours get that prefix
// here. Bytes that are not printable (from an argument or stdin) are escaped.
int fail(int status, const std::string& message, bool add_prefix = true) {
  std::cerr << (add_prefix ? std::string(kProgram) + ": " : std::string()) << xgrad::io::printable_bytes(message)
            << '\n';
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Flax nn.Embed lookup after init with PRNGKey(seed), bit-exact with JAX on CPU", kProgram};
  Arguments args;
  add_options(app, args);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    try {
      write_stdout(app.help());
    } catch (const StreamError& e) {
      return fail(1, e.what());
    }
    return 0;
  } catch (const CLI::ParseError& e) {
    return fail(2, e.what());
  }
  try {
    return run(args);
  } catch (const UsageError& e) {
    return fail(2, e.what());
  } catch (const xgrad::InvalidTokenId& e) {
    return fail(2, e.what(), false);
  } catch (const xgrad::TokenIdOutOfRange& e) {
    return fail(2, e.what(), false);
  } catch (const xgrad::ShapeError& e) {
    return fail(2, e.what(), false);
  } catch (const std::bad_alloc&) {
    return fail(1, "out of memory (a smaller --vocab, --dim or fewer ids need less)");
  } catch (const std::exception& e) {
    return fail(1, e.what());
  }
}
