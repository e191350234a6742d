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
// Exit status: 0 on success, 2 for bad arguments or ids (one line on stderr), 1 otherwise.
#include <CLI/CLI.hpp>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "core/flax/flax.hpp"

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

// Whole-string base-10 integers only: CLI11's own conversion also reads "010" as octal.
template <typename Int>
Int parse_integer(const std::string& flag, const std::string& text, const char* what) {
  Int value{};
  const std::string t = trim(text);
  const auto result = std::from_chars(t.data(), t.data() + t.size(), value);
  if (result.ec == std::errc::result_out_of_range) {
    throw UsageError(flag + " " + text + " is out of range");
  }
  if (t.empty() || result.ec != std::errc() || result.ptr != t.data() + t.size()) {
    throw UsageError(flag + " expects " + what + ", got '" + text + "'");
  }
  return value;
}

std::size_t parse_extent(const std::string& flag, const std::string& text) {
  const auto value = parse_integer<std::size_t>(flag, text, "a positive whole number");
  if (value == 0) throw UsageError(flag + " expects a positive whole number, got '" + text + "'");
  return value;
}

double parse_id(const std::string& token, std::size_t position) {
  double value = 0;
  const auto result = std::from_chars(token.data(), token.data() + token.size(), value);
  if (token.empty() || result.ec != std::errc() || result.ptr != token.data() + token.size()) {
    throw UsageError("--ids: '" + token + "' at position " + std::to_string(position) + " is not a number");
  }
  return value;
}

// Ids separated by commas and/or whitespace: "0,2,1", "0 2 1", "-1, 3". An empty list is
// allowed (T = 0); an empty item ("1,,2", "1,", ",1") is not.
std::vector<double> parse_ids(const std::string& text) {
  std::vector<std::string> tokens;  // numbers and "," separators; whitespace only separates
  std::string current;
  const auto end_token = [&] {
    if (!current.empty()) tokens.push_back(current);
    current.clear();
  };
  for (char c : text) {
    if (c == ',') {
      end_token();
      tokens.emplace_back(",");
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      end_token();
    } else {
      current += c;
    }
  }
  end_token();

  std::vector<double> ids;
  bool need_id = true;  // an id must come first and after every comma
  for (const std::string& token : tokens) {
    if (token != ",") {
      ids.push_back(parse_id(token, ids.size()));
      need_id = false;
    } else if (need_id) {
      throw UsageError("--ids: empty id at position " + std::to_string(ids.size()));
    } else {
      need_id = true;
    }
  }
  if (!tokens.empty() && need_id) {
    throw UsageError("--ids: empty id at position " + std::to_string(ids.size()));
  }
  return ids;
}

std::string read_all(std::istream& in) {
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
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
  std::fwrite(out.data(), 1, out.size(), stdout);
}

void print_json(const std::vector<float>& values, std::size_t tokens, std::size_t d_model) {
  std::string out = "{\"shape\": [" + std::to_string(tokens) + ", " + std::to_string(d_model) + "], \"values\": [";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::isnan(values[i]) ? std::string("null") : number_text(values[i]);
  }
  out += "]}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
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
  app.add_option("--ids", args.ids, "token ids, e.g. \"0,2,1\" (use --ids=-1,3 for negative ids, - for stdin)")
      ->required()
      ->type_name("IDS");
  app.add_option("--prng", args.prng, "threefry layout (default partitionable, JAX >= 0.5)")
      ->check(CLI::IsMember({"partitionable", "legacy"}));
  app.add_option("--ids-policy", args.ids_policy, "strict (ids in [0, V), default) or flax (NaN rows, wrap)")
      ->check(CLI::IsMember({"strict", "flax"}));
  app.add_option("--format", args.format, "text (default) or json")->check(CLI::IsMember({"text", "json"}));
}

int run(const Arguments& args) {
  const auto seed = parse_integer<std::int64_t>("--seed", args.seed, "a whole number (int64)");
  const auto vocab = parse_extent("--vocab", args.vocab);
  const auto dim = parse_extent("--dim", args.dim);
  if (vocab > std::numeric_limits<std::size_t>::max() / sizeof(float) / dim) {
    throw UsageError("--vocab times --dim is too large for one table");
  }
  const std::vector<double> ids = parse_ids(args.ids == "-" ? read_all(std::cin) : args.ids);
  const Layout layout = args.prng == "legacy" ? Layout::legacy : Layout::partitionable;
  const IdsPolicy policy = args.ids_policy == "flax" ? IdsPolicy::flax : IdsPolicy::strict;

  const std::vector<float> values = xgrad::flax::token_embed_forward(seed, ids, vocab, dim, policy, layout);
  if (args.format == "json") {
    print_json(values, ids.size(), dim);
  } else {
    print_text(values, dim);
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

// The library's messages already start with "token_embed_forward: "; ours get that prefix here.
int fail(int status, const std::string& message, bool add_prefix = true) {
  std::cerr << (add_prefix ? std::string(kProgram) + ": " : std::string()) << message << '\n';
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
    std::cout << app.help();
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
  } catch (const std::exception& e) {
    return fail(1, e.what());
  }
}
