// write_dot: a tape's records and leaf inputs as Graphviz DOT.
#include "core/graph_dot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <ostream>
#include <sstream>

namespace xgrad {
namespace {

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", value);
  return buffer;
}

// "min -0.51 mean 0.012 max 0.73", or the one value of a scalar; summed in double.
std::string value_summary(const Array& value) {
  if (value.size() == 0) return "empty";
  if (value.size() == 1) return "value " + number(value.data()[0]);
  const float* v = value.data();
  double low = v[0], high = v[0], total = 0.0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    low = std::min<double>(low, v[i]);
    high = std::max<double>(high, v[i]);
    total += v[i];
  }
  return "min " + number(low) + " mean " + number(total / static_cast<double>(value.size())) +
         " max " + number(high);
}

std::string shapes_line(const Tape::Record& record) {
  std::string line;
  for (std::size_t k = 0; k < record.inputs.size(); ++k) {
    line += (k ? ", " : "") + shape_string(record.inputs[k].shape());
  }
  return line + " -> " + shape_string(record.output.shape());
}

// A token as printable text: control characters spelled out so a newline token does not
// break the label.
std::string token_text(const std::vector<std::string>& vocabulary, std::int32_t row) {
  if (row < 0 || static_cast<std::size_t>(row) >= vocabulary.size()) return "";
  std::string text;
  for (const char c : vocabulary[static_cast<std::size_t>(row)]) {
    if (c == '\n') {
      text += "\\n";
    } else if (c == '\t') {
      text += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char code[8];
      std::snprintf(code, sizeof code, "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      text += code;
    } else {
      text += c;
    }
  }
  return text;
}

// "rows 4 'the', 17 'and', ... (+31 more)": the first rows of a row-sparse gradient.
std::string rows_line(const std::vector<std::int32_t>& rows, const DotOptions& options) {
  std::string line = "rows";
  const std::size_t shown = std::min(rows.size(), options.rows_listed);
  for (std::size_t i = 0; i < shown; ++i) {
    line += (i ? ", " : " ") + std::to_string(rows[i]);
    if (!options.vocabulary.empty()) line += " '" + token_text(options.vocabulary, rows[i]) + "'";
  }
  if (rows.size() > shown) line += ", ... (+" + std::to_string(rows.size() - shown) + " more)";
  return line;
}

// What a gradient holds, in a line or two: "grad: 37 of 5000 rows, |g| 0.21\nrows ...".
std::string gradient_lines(const Gradient& grad, const DotOptions& options) {
  switch (grad.kind()) {
    case Gradient::Kind::none:
      return "grad: none";
    case Gradient::Kind::dense:
      return "grad: dense, |g| " + number(grad.norm());
    case Gradient::Kind::row_sparse: {
      const RowSparseGrad& sparse = grad.row_sparse();
      return "grad: " + std::to_string(sparse.rows().size()) + " of " +
             std::to_string(sparse.num_rows()) + " rows, |g| " + number(grad.norm()) + "\n" +
             rows_line(sparse.rows(), options);
    }
  }
  return "";
}

// An edge label for one record's contribution to one input.
std::string contribution_label(const Gradient& part) {
  switch (part.kind()) {
    case Gradient::Kind::none:
      return "no gradient";
    case Gradient::Kind::dense:
      return "dense |g| " + number(part.norm());
    case Gradient::Kind::row_sparse:
      return "rows: " + std::to_string(part.row_sparse().rows().size()) + " of " +
             std::to_string(part.row_sparse().num_rows()) + ", |g| " + number(part.norm());
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

bool wanted(const Tape::Record& record, const DotOptions& options) {
  if (options.name_filter.empty() || contains(record.op, options.name_filter)) return true;
  return std::any_of(record.inputs.begin(), record.inputs.end(), [&](const Tensor& input) {
    return contains(input.name(), options.name_filter);
  });
}

// The record whose output is `t`, if any (searching records before `before`).
std::optional<std::size_t> producer(const Tape& tape, const Tensor& t, std::size_t before) {
  for (std::size_t j = before; j-- > 0;) {
    if (tape[j].output.same_node(t)) return j;
  }
  return std::nullopt;
}

// What record `record` alone adds to each of its inputs' gradients: its backward replayed on
// emptied gradients, every gradient it touches put back afterwards as it was.
// Empty when nothing flowed into the record (no backward yet): then there is nothing to show.
std::vector<Gradient> replay_contributions(const Tape::Record& record) {
  const Gradient& out_grad = record.output.grad();
  if (out_grad.empty()) return {};
  std::vector<Gradient> parts(record.inputs.size());
  const Array dy = out_grad.to_dense();
  std::vector<Gradient> saved;
  for (const Tensor& input : record.inputs) saved.push_back(input.grad());
  for (const Tensor& input : record.inputs) {
    if (input.requires_grad()) input.mutable_grad().clear();
  }
  record.backward(record.output.value(), dy);
  for (std::size_t k = 0; k < record.inputs.size(); ++k) parts[k] = record.inputs[k].grad();
  // Restored in reverse, so an input passed twice (mul(x, x)) gets its first saved state.
  for (std::size_t k = record.inputs.size(); k-- > 0;) {
    if (record.inputs[k].requires_grad()) record.inputs[k].mutable_grad() = saved[k];
  }
  return parts;
}

struct Leaf {
  Tensor tensor;
  std::string id;
};

}  // namespace

std::string dot_quoted(const std::string& text) {
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (c == '\n') {
      quoted += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char code[8];
      std::snprintf(code, sizeof code, "\\\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      quoted += code;
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
}

void write_dot(std::ostream& out, const Tape& tape, const DotOptions& options) {
  const std::size_t last = std::min(options.last_record, tape.size());
  std::vector<std::size_t> kept;
  for (std::size_t i = options.first_record; i < last; ++i) {
    if (wanted(tape[i], options)) kept.push_back(i);
  }
  auto is_kept = [&](std::size_t j) { return std::binary_search(kept.begin(), kept.end(), j); };

  out << "digraph xgrad {\n";
  out << "  rankdir=TB;\n";
  out << "  graph [fontname=\"Helvetica\"];\n";
  out << "  node [fontname=\"Helvetica\", fontsize=10];\n";
  out << "  edge [fontname=\"Helvetica\", fontsize=9];\n";
  if (!options.title.empty()) out << "  labelloc=t;\n  label=" << dot_quoted(options.title) << ";\n";

  std::vector<Leaf> leaves;
  std::vector<std::size_t> hidden;  // records outside the selection that feed one inside it
  std::ostringstream edges;
  for (const std::size_t i : kept) {
    const Tape::Record& record = tape[i];
    std::string label = "#" + std::to_string(i) + " " + record.op + "\n" + shapes_line(record) +
                        "\n" + value_summary(record.output.value()) + "\n|grad| " +
                        number(record.output.grad().norm());
    if (record.detail) label += "\n" + record.detail();
    out << "  r" << i << " [shape=box, style=rounded, label=" << dot_quoted(label) << "];\n";

    std::vector<Gradient> parts;
    if (options.contributions) parts = replay_contributions(record);
    for (std::size_t k = 0; k < record.inputs.size(); ++k) {
      const Tensor& input = record.inputs[k];
      std::string from;
      bool leaf = false;
      if (const auto j = producer(tape, input, i)) {
        if (!is_kept(*j) && std::find(hidden.begin(), hidden.end(), *j) == hidden.end()) {
          hidden.push_back(*j);
        }
        from = (is_kept(*j) ? "r" : "h") + std::to_string(*j);
      } else {
        leaf = true;
        auto found = std::find_if(leaves.begin(), leaves.end(),
                                  [&](const Leaf& l) { return l.tensor.same_node(input); });
        if (found == leaves.end()) {
          leaves.push_back({input, "p" + std::to_string(leaves.size())});
          found = leaves.end() - 1;
        }
        from = found->id;
      }
      edges << "  " << from << " -> r" << i;
      if (leaf && input.requires_grad() && !parts.empty()) {
        const bool sparse = parts[k].kind() == Gradient::Kind::row_sparse;
        edges << " [label=" << dot_quoted(contribution_label(parts[k]))
              << (sparse ? ", color=\"#1f77b4\", fontcolor=\"#1f77b4\"" : "") << "]";
      }
      edges << ";\n";
    }
  }

  for (const Leaf& leaf : leaves) {
    const Tensor& t = leaf.tensor;
    const std::string name = t.name().empty() ? std::string("input") : t.name();
    std::string label = name + " " + shape_string(t.shape()) + "\n" + value_summary(t.value());
    if (t.requires_grad()) {
      label += "\n" + gradient_lines(t.grad(), options);
      out << "  " << leaf.id << " [shape=ellipse, style=filled, fillcolor=\"#fff2cc\", label="
          << dot_quoted(label) << "];\n";
    } else {
      out << "  " << leaf.id << " [shape=ellipse, color=grey50, fontcolor=grey30, label="
          << dot_quoted(label + "\n(no gradient)") << "];\n";
    }
  }
  for (const std::size_t j : hidden) {
    out << "  h" << j << " [shape=plaintext, fontcolor=grey40, label="
        << dot_quoted("#" + std::to_string(j) + " " + tape[j].op + " (not shown)") << "];\n";
  }
  out << edges.str() << "}\n";
}

}  // namespace xgrad
