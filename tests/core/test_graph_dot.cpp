// Specification of write_dot: the DOT text's structure, row-sparse labels, a tied table's two
// contributions, the record filter, label escaping, and (when Graphviz is installed) that
// `dot` accepts the output.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <catch2/catch.hpp>

#include "core/graph_dot.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;
using Catch::Matchers::Contains;
using testing::bit_equal;
using testing::hashed_values;

namespace {

// The statements of a DOT text outside quoted strings, read as a tiny DOT parser would:
// node ids with an attribute list, and edges "a -> b" with their label. Braces are counted
// outside quoted strings only, so a brace inside a label cannot balance a missing one.
struct ParsedDot {
  int depth = 0;
  bool balanced = true;
  std::vector<std::string> nodes;
  std::vector<std::pair<std::string, std::string>> edges;
  std::map<std::string, std::string> node_labels;  // unescaped
  std::vector<std::string> edge_labels;            // unescaped, "" when none
};

// Reads a quoted string starting at text[i] == '"'; returns it unescaped (\" and \\ only)
// and moves i past the closing quote. A string that never closes leaves i at the end.
std::string read_quoted(const std::string& text, std::size_t& i) {
  std::string value;
  for (++i; i < text.size() && text[i] != '"'; ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      const char next = text[++i];
      value += (next == 'n') ? '\n' : next;
    } else {
      value += text[i];
    }
  }
  ++i;
  return value;
}

ParsedDot parse_dot(const std::string& text) {
  ParsedDot parsed;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::string bare;  // the line with each quoted string replaced by a placeholder
    std::vector<std::string> strings;
    for (std::size_t i = 0; i < line.size();) {
      if (line[i] == '"') {
        strings.push_back(read_quoted(line, i));
        bare += "$" + std::to_string(strings.size() - 1);
      } else {
        if (line[i] == '{') ++parsed.depth;
        if (line[i] == '}' && --parsed.depth < 0) parsed.balanced = false;
        bare += line[i++];
      }
    }
    std::smatch m;
    static const std::regex edge(R"(^\s*(\w+)\s*->\s*(\w+)\s*(\[label=\$(\d+).*)?;)");
    static const std::regex node(R"(^\s*(\w+)\s*\[.*label=\$(\d+).*\];)");
    if (std::regex_search(bare, m, edge)) {
      parsed.edges.emplace_back(m[1], m[2]);
      parsed.edge_labels.push_back(m[4].matched ? strings[std::stoul(m[4])] : "");
    } else if (std::regex_search(bare, m, node) && m[1] != "node" && m[1] != "edge") {
      parsed.nodes.push_back(m[1]);
      parsed.node_labels[m[1]] = strings[std::stoul(m[2])];
    }
  }
  if (parsed.depth != 0) parsed.balanced = false;
  return parsed;
}

std::size_t count_prefixed(const std::vector<std::string>& ids, char prefix) {
  return static_cast<std::size_t>(
      std::count_if(ids.begin(), ids.end(), [&](const std::string& id) { return id[0] == prefix; }));
}

std::string dot_of(const Tape& tape, const DotOptions& options = {}) {
  std::ostringstream out;
  write_dot(out, tape, options);
  return out.str();
}

// sum(tanh(table[ids] @ w)): a gather, a product, an activation and a reduction.
struct SmallModel {
  Tensor table = Tensor::parameter(hashed_values({10, 3}, 1), "table");
  Tensor w = Tensor::parameter(hashed_values({3, 2}, 2), "w");
  Tape tape;
  SmallModel() {
    const Tensor h = embedding_lookup(tape, table, TokenIds{4, 7, 4});
    tape.backward(sum(tape, tanh(tape, matmul(tape, h, w))));
  }
};

}  // namespace

TEST_CASE("A tape's DOT has one node per record, one per leaf and one edge per input",
          "[core][graph_dot]") {
  SmallModel model;
  const ParsedDot dot = parse_dot(dot_of(model.tape));
  CHECK(dot.balanced);
  CHECK(count_prefixed(dot.nodes, 'r') == 4);  // embedding_lookup, matmul, tanh, sum
  CHECK(count_prefixed(dot.nodes, 'p') == 2);  // table, w
  CHECK(dot.edges.size() == 5);                // table->r0, r0->r1, w->r1, r1->r2, r2->r3
  for (const auto& [from, to] : dot.edges) {
    CHECK(std::find(dot.nodes.begin(), dot.nodes.end(), from) != dot.nodes.end());
    CHECK(std::find(dot.nodes.begin(), dot.nodes.end(), to) != dot.nodes.end());
  }
  CHECK_THAT(dot.node_labels.at("r1"), Contains("matmul") && Contains("(3, 3), (3, 2) -> (3, 2)"));
  CHECK_THAT(dot.node_labels.at("r3"), Contains("|grad| 1"));  // d(loss)/d(loss)
}

TEST_CASE("A row-sparse gradient is labelled with its row count and tokens", "[core][graph_dot]") {
  SmallModel model;
  DotOptions options;
  options.vocabulary = {"a", "b", "c", "d", "the", "f", "g", "end", "i", "j"};
  const ParsedDot dot = parse_dot(dot_of(model.tape, options));
  const std::string& table = dot.node_labels.at("p0");
  CHECK_THAT(table, Contains("table (10, 3)") && Contains("2 of 10 rows"));
  CHECK_THAT(table, Contains("rows 4 'the', 7 'end'"));
  CHECK_THAT(dot.node_labels.at("p1"), Contains("grad: dense"));
}

TEST_CASE("A tied table's gather and attend contributions get one edge each", "[core][graph_dot]") {
  const Tensor table = Tensor::parameter(hashed_values({6, 4}, 3), "tied");
  Tape tape;
  const Tensor h = embedding_lookup(tape, table, TokenIds{1, 5, 1});
  tape.backward(sum(tape, matmul_transposed(tape, tanh(tape, h), table)));
  const ParsedDot dot = parse_dot(dot_of(tape));
  std::vector<std::string> labels;
  for (std::size_t e = 0; e < dot.edges.size(); ++e) {
    if (dot.edges[e].first == "p0") labels.push_back(dot.edge_labels[e]);
  }
  REQUIRE(labels.size() == 2);
  CHECK_THAT(labels[0], Contains("rows: 2 of 6"));
  CHECK_THAT(labels[1], Contains("dense"));
  // The table's own gradient is the sum of both: dense.
  CHECK_THAT(dot.node_labels.at("p0"), Contains("grad: dense"));
}

TEST_CASE("Drawing contributions leaves every gradient bit for bit as it was", "[core][graph_dot]") {
  SmallModel model;
  const Array table_grad = model.table.grad().to_dense();
  const Array w_grad = model.w.grad().to_dense();
  std::vector<Array> outputs;
  for (std::size_t i = 0; i < model.tape.size(); ++i) outputs.push_back(model.tape[i].output.grad().to_dense());
  dot_of(model.tape);
  CHECK(model.table.grad().kind() == Gradient::Kind::row_sparse);
  CHECK(bit_equal(model.table.grad().to_dense(), table_grad));
  CHECK(bit_equal(model.w.grad().to_dense(), w_grad));
  for (std::size_t i = 0; i < model.tape.size(); ++i) {
    CHECK(bit_equal(model.tape[i].output.grad().to_dense(), outputs[i]));
  }
}

TEST_CASE("The record range and the name filter keep only the asked records", "[core][graph_dot]") {
  SmallModel model;
  DotOptions range;
  range.first_record = 1;
  range.last_record = 3;
  const ParsedDot ranged = parse_dot(dot_of(model.tape, range));
  CHECK(ranged.balanced);
  std::vector<std::string> records;
  for (const std::string& id : ranged.nodes) {
    if (id[0] == 'r') records.push_back(id);
  }
  CHECK(records == std::vector<std::string>{"r1", "r2"});
  // The gather that feeds the product is outside the range: a "not shown" stand-in.
  CHECK_THAT(ranged.node_labels.at("h0"), Contains("embedding_lookup (not shown)"));

  DotOptions named;
  named.name_filter = "table";  // the only record reading "table" is the gather
  const ParsedDot filtered = parse_dot(dot_of(model.tape, named));
  CHECK(count_prefixed(filtered.nodes, 'r') == 1);
  CHECK(filtered.node_labels.count("r0") == 1);
  named.name_filter = "tanh";   // op names match too
  CHECK(parse_dot(dot_of(model.tape, named)).node_labels.count("r2") == 1);
}

TEST_CASE("Labels with quotes, backslashes and newlines are escaped", "[core][graph_dot]") {
  CHECK(dot_quoted("plain") == "\"plain\"");
  CHECK(dot_quoted("say \"hi\"") == "\"say \\\"hi\\\"\"");
  CHECK(dot_quoted("a\\b") == "\"a\\\\b\"");
  CHECK(dot_quoted("two\nlines") == "\"two\\nlines\"");
  CHECK(dot_quoted(std::string("bell\a")) == "\"bell\\\\x07\"");

  const Tensor w = Tensor::parameter(hashed_values({2, 2}), "w \"odd\\name\" {");
  Tape tape;
  tape.backward(sum(tape, tanh(tape, w)));
  DotOptions options;
  options.title = "title with \"quotes\"";
  const ParsedDot dot = parse_dot(dot_of(tape, options));
  CHECK(dot.balanced);  // the brace in the name is inside a quoted string
  CHECK_THAT(dot.node_labels.at("p0"), Contains("w \"odd\\name\" {"));
}

TEST_CASE("Graphviz's dot renders a tape's DOT to SVG", "[core][graph_dot]") {
  if (std::system("dot -V > /dev/null 2>&1") != 0) {
    WARN("Graphviz's dot is not installed (Debian package graphviz): rendering not checked");
    return;
  }
  SmallModel model;
  DotOptions options;
  options.vocabulary = {"a", "b\n", "c", "d", "\"q\"", "f", "g", "end\\", "i", "j"};
  const std::string stem = "xgrad_test_graph_dot";
  {
    std::ofstream file(stem + ".dot");
    write_dot(file, model.tape, options);
  }
  const std::string command = "dot -Tsvg " + stem + ".dot -o " + stem + ".svg 2> " + stem + ".err";
  CHECK(std::system(command.c_str()) == 0);
  std::ifstream err(stem + ".err");
  const std::string messages((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  CHECK(messages.empty());  // no syntax warnings either
  std::ifstream svg(stem + ".svg");
  const std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  CHECK_THAT(text, Contains("<svg") && Contains("embedding_lookup") && Contains("2 of 10 rows"));
  for (const char* ext : {".dot", ".svg", ".err"}) std::remove((stem + ext).c_str());
}

TEST_CASE("A tensor read twice by one record keeps its gradient after drawing", "[core][graph_dot]") {
  const Tensor x = Tensor::parameter(Array{1.0f, -2.0f, 3.0f}, "x");
  Tape tape;
  tape.backward(sum(tape, mul(tape, x, x)));  // dx = 2x, both halves from one record
  const Array before = x.grad().to_dense();
  const ParsedDot dot = parse_dot(dot_of(tape));
  CHECK(bit_equal(x.grad().to_dense(), before));
  CHECK(bit_equal(before, Array{2.0f, -4.0f, 6.0f}));
  CHECK(std::count(dot.edges.begin(), dot.edges.end(), std::make_pair(std::string("p0"), std::string("r0"))) == 2);
}

TEST_CASE("A tape drawn before backward shows no gradients and no contribution labels", "[core][graph_dot]") {
  const Tensor w = Tensor::parameter(hashed_values({2, 2}), "w");
  Tape tape;
  sum(tape, tanh(tape, w));
  const ParsedDot dot = parse_dot(dot_of(tape));
  CHECK(dot.balanced);
  CHECK_THAT(dot.node_labels.at("p0"), Contains("grad: none"));
  CHECK(dot.edge_labels.front().empty());
  CHECK(w.grad().empty());
}
