// A walk-through for a class: one training step of a tiny character MLP
// (Embed -> reshape -> Linear -> tanh -> Linear -> softmax cross-entropy) on one sentence,
// printing how the gradient flows back record by record, the embedding's row-sparse
// gradient row by row with its character, and the SGD update of exactly those rows. It
// writes the step's graph (gradient_flow.dot, and .svg when Graphviz's dot is installed).
// Then the exercise, as in makemore's "backprop ninja": the same backward written by hand,
// record by record, checked against the tape with compare(). Exits 1 if any manual
// gradient disagrees with the tape's.
// Usage: gradient_flow [output_directory]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "core/graph_dot.hpp"
#include "testing/testing.hpp"
#include "xgrad.hpp"

using namespace xgrad;

namespace {

const std::string kSentence = "the cat sat on the mat.";
constexpr std::size_t kContext = 3, kEmbed = 3, kHidden = 6;
constexpr float kLearningRate = 0.5f;

// Characters of the sentence, sorted: the vocabulary.
std::vector<std::string> vocabulary_of(const std::string& text) {
  std::vector<std::string> vocabulary;
  for (int c = 0; c < 256; ++c) {
    if (text.find(static_cast<char>(c)) != std::string::npos) vocabulary.push_back(std::string(1, static_cast<char>(c)));
  }
  return vocabulary;
}

std::int64_t id_of(const std::vector<std::string>& vocabulary, char c) {
  for (std::size_t i = 0; i < vocabulary.size(); ++i) {
    if (vocabulary[i][0] == c) return static_cast<std::int64_t>(i);
  }
  return -1;
}

constexpr std::size_t kRowsShown = 3;

// An array with a heading: its first kRowsShown rows (all of a scalar).
void show(const std::string& heading, const Array& a) {
  std::cout << heading << ' ' << shape_string(shape_of(a));
  if (a.dimension() == 0 || a.shape()[0] <= kRowsShown) {
    std::cout << ":\n" << a << "\n";
    return;
  }
  const Array head = xt::view(a, xt::range(0, kRowsShown));
  std::cout << ", first " << kRowsShown << " of " << a.shape()[0] << " rows:\n" << head << "\n";
}

// How each op of this model sends its output's gradient dy back (core/ops.hpp's index).
const char* backward_rule(const std::string& op) {
  if (op == "softmax_cross_entropy") return "dlogits = (softmax(logits) - one_hot(targets)) / B";
  if (op == "linear") return "dx = dy @ W^T, dW = x^T @ dy, dbias = dy summed over rows";
  if (op == "matmul") return "dx = dy @ W^T, dW = x^T @ dy";
  if (op == "tanh") return "dx = dy * (1 - tanh(x)^2)";
  if (op == "reshape") return "dx = dy, reshaped back";
  if (op == "embedding_lookup") return "dW[ids[t], :] += dy[t, :]  (row-sparse)";
  return "";
}

std::string row_text(const float* values, std::size_t n) {
  std::string text = "[";
  char buffer[32];
  for (std::size_t j = 0; j < n; ++j) {
    std::snprintf(buffer, sizeof buffer, "%s%+.5f", j ? ", " : "", static_cast<double>(values[j]));
    text += buffer;
  }
  return text + "]";
}

// a (n, k) @ b (k, m), or with a transposed (k, n) / b transposed (m, k): plain loops in
// float, the order a student would write, so the comparison with BLAS is approximate.
Array product(const Array& a, bool a_t, const Array& b, bool b_t) {
  const std::size_t n = a_t ? a.shape()[1] : a.shape()[0];
  const std::size_t k = a_t ? a.shape()[0] : a.shape()[1];
  const std::size_t m = b_t ? b.shape()[0] : b.shape()[1];
  Array out = zeros_array({n, m});
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < m; ++j) {
      float s = 0.0f;
      for (std::size_t p = 0; p < k; ++p) s += (a_t ? a(p, i) : a(i, p)) * (b_t ? b(j, p) : b(p, j));
      out(i, j) = s;
    }
  }
  return out;
}

Array column_sums(const Array& a) {
  Array out = zeros_array({a.shape()[1]});
  for (std::size_t i = 0; i < a.shape()[0]; ++i) {
    for (std::size_t j = 0; j < a.shape()[1]; ++j) out(j) += a(i, j);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string out_dir = argc > 1 ? argv[1] : ".";
  xt::print_options::set_precision(4);
  xt::print_options::set_line_width(120);

  // ---- The data: every window of kContext characters and the character after it ----
  const std::vector<std::string> vocabulary = vocabulary_of(kSentence);
  const std::size_t V = vocabulary.size();
  std::vector<std::int64_t> contexts, next;
  for (std::size_t s = 0; s + kContext < kSentence.size(); ++s) {
    for (std::size_t c = 0; c < kContext; ++c) contexts.push_back(id_of(vocabulary, kSentence[s + c]));
    next.push_back(id_of(vocabulary, kSentence[s + kContext]));
  }
  const std::size_t B = next.size();
  const TokenIds X(contexts, {B, kContext}), Y(next);
  std::cout << "sentence: \"" << kSentence << "\"\nvocabulary (" << V << "):";
  for (std::size_t v = 0; v < V; ++v) std::cout << ' ' << v << "='" << vocabulary[v] << "'";
  std::cout << "\n" << B << " windows of " << kContext << " characters -> the next one, e.g. \""
            << kSentence.substr(0, kContext) << "\" -> '" << kSentence[kContext] << "'\n\n";

  // ---- The model and one forward pass on a tape ----
  const layers::Embed embed(V, kEmbed, random::prng_key(1));
  layers::LinearOptions hidden_options, output_options;
  hidden_options.name = "hidden";
  output_options.name = "output";
  const layers::Linear hidden(kContext * kEmbed, kHidden, random::prng_key(2), hidden_options);
  const layers::Linear output(kHidden, V, random::prng_key(3), output_options);
  std::vector<Tensor> parameters = embed.parameters();
  for (const Tensor& p : hidden.parameters()) parameters.push_back(p);
  for (const Tensor& p : output.parameters()) parameters.push_back(p);

  Tape tape;
  const Tensor emb = embed(tape, X);                                  // (B, C, D)
  const Tensor x = reshape(tape, emb, {B, kContext * kEmbed});        // (B, C*D)
  const Tensor h = tanh(tape, hidden(tape, x));                       // (B, H)
  const Tensor logits = output(tape, h);                              // (B, V)
  const Tensor loss = softmax_cross_entropy(tape, logits, Y);
  std::cout << "forward: loss = " << loss.value()() << " (uniform guessing: log " << V << " = "
            << std::log(static_cast<double>(V)) << ")\n\n";

  // ---- Backward, then each record's output gradient, last record first ----
  tape.backward(loss);
  std::cout << "the tape after backward (one line per record):\n" << tape << "\n";
  std::cout << "each record's output gradient d(loss)/d(output), in the order backward made them:\n";
  for (std::size_t i = tape.size(); i-- > 0;) {
    const Tape::Record& r = tape[i];
    std::cout << "#" << i << " " << r.op << ", backward: " << backward_rule(r.op) << "\n";
    show("  d(loss)/d(output)", r.output.grad().to_dense());
  }

  // ---- The embedding's gradient: row-sparse, row by row with its character ----
  const Tensor& table = embed.embedding();
  const RowSparseGrad& sparse = table.grad().row_sparse();
  const testing::RowTouches touches = testing::row_touches(table, X);
  std::cout << "\nembed.embedding's gradient is row-sparse: " << sparse.rows().size() << " of " << V
            << " rows (every character that appears in a context; "
            << touches.total() << " context positions in all):\n";
  for (std::size_t i = 0; i < sparse.rows().size(); ++i) {
    const std::int32_t row = sparse.rows()[i];
    std::printf("  row %d '%s' (read %zu times): dW = %s\n", row, vocabulary[static_cast<std::size_t>(row)].c_str(),
                touches.count(row), row_text(sparse.row_values(i), kEmbed).c_str());
  }
  for (std::size_t v = 0; v < V; ++v) {
    if (touches.count(static_cast<std::int32_t>(v)) == 0) {
      std::printf("  row %zu '%s': no gradient (it is never in a context, only a target)\n", v,
                  vocabulary[v].c_str());
    }
  }

  // ---- The graph of the step ----
  {
    DotOptions options;
    options.vocabulary = vocabulary;
    options.title = "one step of a character MLP on \"" + kSentence + "\"";
    const std::string dot_path = out_dir + "/gradient_flow.dot";
    std::ofstream file(dot_path);
    write_dot(file, tape, options);
    if (!file) {
      std::fprintf(stderr, "gradient_flow: cannot write %s\n", dot_path.c_str());
      return 1;
    }
    file.close();
    std::cout << "\nwrote " << dot_path;
    if (std::system("dot -V > /dev/null 2>&1") == 0) {
      const std::string svg = out_dir + "/gradient_flow.svg";
      const std::string command = "dot -Tsvg '" + dot_path + "' -o '" + svg + "'";
      if (std::system(command.c_str()) == 0) std::cout << " and " << svg;
    } else {
      std::cout << " (install Graphviz's dot for an SVG)";
    }
    std::cout << "\n";
  }

  // ---- The exercise: the same backward by hand, record by record ----
  std::cout << "\nthe exercise: the backward by hand, compared with the tape\n";
  const Array& Wx = hidden.kernel().value();
  const Array& Wo = output.kernel().value();
  const Array& xv = x.value();
  const Array& hv = h.value();
  // softmax_cross_entropy: dlogits = (softmax(logits) - one_hot(Y)) / B
  Array dlogits = zeros_array({B, V});
  for (std::size_t b = 0; b < B; ++b) {
    double top = logits.value()(b, 0), total = 0.0;
    for (std::size_t v = 0; v < V; ++v) top = std::max<double>(top, logits.value()(b, v));
    for (std::size_t v = 0; v < V; ++v) total += std::exp(logits.value()(b, v) - top);
    for (std::size_t v = 0; v < V; ++v) {
      const double p = std::exp(logits.value()(b, v) - top) / total;
      dlogits(b, v) = static_cast<float>((p - (static_cast<std::int64_t>(v) == next[b] ? 1.0 : 0.0)) / static_cast<double>(B));
    }
  }
  // linear h @ Wo + bo: dbo = column sums, dh = dlogits @ Wo^T, dWo = h^T @ dlogits
  const Array dbo = column_sums(dlogits);
  const Array dh = product(dlogits, false, Wo, true);
  const Array dWo = product(hv, true, dlogits, false);
  // tanh: dpre = dh * (1 - h^2)
  Array dpre = dh;
  for (std::size_t i = 0; i < dpre.size(); ++i) dpre.data()[i] *= 1.0f - hv.data()[i] * hv.data()[i];
  // linear x @ Wx + bx
  const Array dbx = column_sums(dpre);
  const Array dx = product(dpre, false, Wx, true);
  const Array dWx = product(xv, true, dpre, false);
  // reshape: the same numbers as (B, C, D); embedding_lookup: dC[X[b, c]] += demb[b, c]
  Array demb = dx;
  demb.reshape({B, kContext, kEmbed});
  Array dC = zeros_array({V, kEmbed});
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t c = 0; c < kContext; ++c) {
      for (std::size_t d = 0; d < kEmbed; ++d) dC(static_cast<std::size_t>(X[b * kContext + c]), d) += demb(b, c, d);
    }
  }
  // The tape's records, in order: 0 embedding_lookup, 1 reshape, 2 linear, 3 tanh,
  // 4 linear, 5 softmax_cross_entropy.
  bool all_agree = true;
  auto check = [&](const std::string& name, const Array& manual, const Tensor& t) {
    all_agree = static_cast<bool>(testing::compare(name, manual, t)) && all_agree;
  };
  check("logits", dlogits, logits);
  check("output.bias", dbo, output.bias());
  check("h", dh, h);
  check("output.kernel", dWo, output.kernel());
  check("hidden pre-act", dpre, tape[2].output);
  check("hidden.bias", dbx, hidden.bias());
  check("x", dx, x);
  check("hidden.kernel", dWx, hidden.kernel());
  check("emb", demb, emb);
  check("embed.table", dC, table);

  // ---- One SGD step: it writes exactly the rows of the gradient ----
  const Array before = table.value();
  optim::SGD sgd(parameters, kLearningRate);
  sgd.step();
  std::cout << "\nSGD step, lr " << kLearningRate << ": W[row] -= lr * dW[row], only for the "
            << sparse.rows().size() << " rows with gradient:\n";
  for (std::size_t i = 0; i < sparse.rows().size(); ++i) {
    const auto row = static_cast<std::size_t>(sparse.rows()[i]);
    std::printf("  row %zu '%s': %s -> %s\n", row, vocabulary[row].c_str(),
                row_text(before.data() + row * kEmbed, kEmbed).c_str(),
                row_text(table.value().data() + row * kEmbed, kEmbed).c_str());
  }
  const testing::RowsChangedResult rows = testing::check_only_rows_changed(before, table.value(), sparse.rows());
  std::cout << (rows.ok ? "every other row is bit-identical to before the step\n" : rows.message + "\n");
  Tape after(Tape::Mode::inference);
  const double new_loss = softmax_cross_entropy(after, output(after, tanh(after, hidden(after,
      reshape(after, embed(after, X), {B, kContext * kEmbed})))), Y).value()();
  std::cout << "loss after the step: " << new_loss << "\n";

  if (!all_agree || !rows.ok || !(new_loss < loss.value()())) {
    std::cout << "FAILED: " << (!all_agree ? "a manual gradient disagrees with the tape" :
                                !rows.ok ? "a row without gradient changed" : "the loss did not fall") << "\n";
    return 1;
  }
  std::cout << "all manual gradients agree with the tape\n";
  return 0;
}
