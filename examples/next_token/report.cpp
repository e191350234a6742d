// The row check, the learning check, the printed summary and the --json document.
#include "report.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <ostream>
#include <sstream>

#include "common/numbers.hpp"
#include "core/io/message_text.hpp"
#include "core/threads.hpp"
#include "optimizer_choice.hpp"

namespace next_token {

using xgrad::Array;

namespace {

using examples::fixed;
using examples::grouped;
using examples::shortest_double;

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

RowCheck check_rows(const Array& before, const Array& after, const std::vector<std::uint8_t>& seen,
                    bool dense_table_gradient) {
  RowCheck check;
  check.vocab = before.shape()[0];
  const std::size_t width = before.shape()[1];
  check.seen = seen;
  check.movement.assign(check.vocab, 0.0);
  check.dense_table_gradient = dense_table_gradient;
  for (std::size_t r = 0; r < check.vocab; ++r) {
    const float* a = before.data() + r * width;
    const float* b = after.data() + r * width;
    const bool changed = std::memcmp(a, b, width * sizeof(float)) != 0;
    double squared = 0.0;
    for (std::size_t j = 0; j < width; ++j) squared += (double{b[j]} - a[j]) * (double{b[j]} - a[j]);
    check.movement[r] = std::sqrt(squared);
    check.rows_changed += changed;
    if (seen[r]) {
      ++check.rows_seen;
      check.seen_unchanged += !changed;
    } else {
      ++check.rows_never_seen;
      check.unseen_changed += changed;
    }
  }
  check.unseen_rows_identical = check.unseen_changed == 0;
  check.passed = dense_table_gradient || check.unseen_rows_identical;
  return check;
}

std::vector<std::string> explain_rows(const RowCheck& rows, const TrainOptions& options) {
  std::vector<std::string> lines;
  if (rows.dense_table_gradient) {
    lines.push_back("With --tie the table is also the output layer: Embed.attend gives every row a gradient in "
                    "every step (each row scores a candidate next token), so rows never fed as input move too (" +
                    std::to_string(rows.unseen_changed) + " of " + std::to_string(rows.rows_never_seen) +
                    " did). The row-sparse promise is about the input side; this check has nothing to hold it to.");
    return lines;
  }
  if (options.optimizer == OptimizerKind::adamw) {
    lines.push_back("AdamW is lazy on the token table's row-sparse gradient (as torch.optim.SparseAdam): a row's two "
                    "moments, its update and its decoupled weight decay are applied only in steps whose batch feeds "
                    "that row, so the rows never fed were never written. Only the " +
                    std::to_string(rows.rows_seen) + " fed rows moved; the dense weights take AdamW in every step.");
  } else if (options.momentum > 0.0f || options.weight_decay > 0.0f) {
    std::string what = options.momentum > 0.0f ? "momentum " + fixed(options.momentum, 3) : "";
    if (options.weight_decay > 0.0f) what += (what.empty() ? "" : " and ") + std::string("weight decay ") + fixed(options.weight_decay, 6);
    lines.push_back("With " + what + " the table's updates stay lazy: a row's velocity and decay are applied only "
                    "in steps whose batch feeds that row, so the rows never fed were never written. Only the " +
                    std::to_string(rows.rows_seen) + " fed rows moved, by gradient" +
                    (options.momentum > 0.0f ? " plus momentum" : "") +
                    (options.weight_decay > 0.0f ? " plus decay" : "") +
                    "; the dense layers take momentum and decay in every step.");
  } else {
    lines.push_back("Plain SGD writes only the rows each step's row-sparse gradient names: the ids fed in that step.");
  }
  if (rows.seen_unchanged > 0) {
    lines.push_back(plural(rows.seen_unchanged, "fed row is", "fed rows are") +
                    " still bit-identical: the updates were below float resolution.");
  }
  if (!rows.unseen_rows_identical) {
    std::string ids;
    std::size_t listed = 0;
    for (std::size_t r = 0; r < rows.vocab && listed < 10; ++r) {
      if (!rows.seen[r] && rows.movement[r] != 0.0) ids += (listed++ ? ", " : "") + std::to_string(r);
    }
    lines.push_back("FAILED: " + plural(rows.unseen_changed, "row that was never fed as input has", "rows that were never fed as input have") +
                    " changed (ids " + ids + (rows.unseen_changed > listed ? ", ..." : "") + ").");
  }
  return lines;
}

bool clearly_below(double loss, double initial) {
  return std::isfinite(loss) && std::isfinite(initial) && loss <= 0.9 * initial;
}

std::string printable(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out += (c < 0x20 && c != '\n' && c != '\t') || c == 0x7F ? '?' : static_cast<char>(c);
      ++i;
      continue;
    }
    // Keep a complete, valid sequence; anything else becomes U+FFFD.
    const std::size_t length = xgrad::io::utf8_sequence_length(text, i);
    if (length > 0) {
      out += text.substr(i, length);
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

namespace {

using nlohmann::json;

json curve_json(const RunSummary& s) {
  json curve = json::array();
  for (const CurvePoint& p : s.result.curve) {
    curve.push_back({{"step", p.step},
                     {"train", p.train},
                     {"validation", p.validation},
                     {"train_bits_per_byte", s.train_bits_per_byte(p.train)},
                     {"validation_bits_per_byte", s.validation_bits_per_byte(p.validation)}});
  }
  return curve;
}

json model_summary_json(const RunSummary& s) {
  json model{{"kind", model_kind_name(s.model.kind)},
             {"tokens", token_kind_name(s.tokens)},
             {"vocab", s.model.vocab()},
             {"context", s.model.context()},
             {"layers", describe(s.model)},
             {"parameters", s.parameter_count},
             {"init", s.init}};
  if (s.model.kind == ModelKind::mlp) {
    model.update({{"embed_dim", s.model.mlp.embed_dim}, {"hidden", s.model.mlp.hidden}, {"tie", s.model.mlp.tie}});
  } else {
    const TransformerConfig& c = s.model.transformer;
    model.update({{"embed_dim", c.embed_dim}, {"blocks", c.layers}, {"heads", c.heads}, {"dropout", shortest_double(c.dropout)},
                  {"attention_dropout", shortest_double(c.attention_dropout)}, {"bias", c.bias}, {"tie", c.tie}});
  }
  return model;
}

json optimizer_json(const TrainOptions& o) {
  return {{"kind", optimizer_kind_name(o.optimizer)},
          {"schedule", schedule_kind_name(o.schedule)},
          {"lr", shortest_double(o.lr)},
          {"lr_final", shortest_double(o.lr_final)},
          {"warmup", o.warmup},
          {"schedule_steps", o.total_schedule_steps()},
          {"momentum", shortest_double(o.momentum)},
          {"weight_decay", shortest_double(o.weight_decay)},
          {"beta1", shortest_double(o.beta1)},
          {"beta2", shortest_double(o.beta2)},
          {"eps", shortest_double(o.eps)},
          {"clip", shortest_double(o.clip)}};
}

}  // namespace

nlohmann::json summary_json(const RunSummary& s) {
  const TrainOptions& o = s.options;
  return json{
      {"steps", s.result.steps},
      {"tokens", s.result.tokens},
      {"initial_loss", s.initial_loss()},
      {"final_loss", s.final_loss()},
      {"val_loss", s.val_loss()},
      {"initial_bits_per_byte", s.validation_bits_per_byte(s.initial_loss())},
      {"final_bits_per_byte", s.train_bits_per_byte(s.final_loss())},
      {"val_bits_per_byte", s.validation_bits_per_byte(s.val_loss())},
      {"vocab", s.model.vocab()},
      {"grad_norm", s.grad_norm()},
      {"rows_seen", s.rows.rows_seen},
      {"rows_changed", s.rows.rows_changed},
      {"rows_never_seen", s.rows.rows_never_seen},
      {"rows_seen_unchanged", s.rows.seen_unchanged},
      {"rows_never_seen_changed", s.rows.unseen_changed},
      {"unseen_rows_identical", s.rows.unseen_rows_identical},
      {"tokens_per_second", s.tokens_per_second()},
      {"seed", o.seed},
      {"blas_core", xgrad::blas_core()},  // results are bit-identical per OpenBLAS kernel family
      {"row_check_passed", s.rows.passed},
      {"row_check_kind", s.rows.dense_table_gradient ? "dense (tied output layer)" : "sparse"},
      {"learning_check", !s.learning_check_applies ? "not applied" : s.learning_passed ? "passed" : "failed"},
      {"passed", s.passed()},
      {"diverged", s.diverged()},
      {"first_step", o.first_step},
      {"last_step", o.first_step + s.result.steps},
      {"train_seconds", s.result.train_seconds},
      {"total_seconds", s.total_seconds},
      {"config", s.config},
      {"corpus", {{"path", s.corpus},
                  {"bytes", s.corpus_bytes},
                  {"train_tokens", s.train_tokens},
                  {"validation_tokens", s.validation_tokens},
                  {"train_bytes", s.train_bytes},
                  {"validation_bytes", s.validation_bytes},
                  {"unknown_tokens", s.unknown_tokens}}},
      {"model", model_summary_json(s)},
      {"optimizer", optimizer_json(o)},
      {"training", {{"batch_size", o.batch},
                    {"lr", shortest_double(o.lr)},
                    {"lr_final", shortest_double(o.lr_final)},
                    {"momentum", shortest_double(o.momentum)},
                    {"weight_decay", shortest_double(o.weight_decay)},
                    {"eval_every", o.eval_every},
                    {"eval_windows", o.eval_windows},
                    {"eval_batches", o.eval_batches}}},
      {"curve", curve_json(s)},
      {"temperature", s.temperature},
      {"samples", s.samples},
  };
}

void print_summary(std::ostream& out, const RunSummary& s, bool with_samples) {
  out << "loss (mean nats per token): initial " << fixed(s.initial_loss(), 3) << " -> train "
      << fixed(s.final_loss(), 3) << ", validation " << fixed(s.val_loss(), 3) << "\n";
  out << "loss (bits per byte of text): initial " << fixed(s.validation_bits_per_byte(s.initial_loss()), 3)
      << " -> train " << fixed(s.train_bits_per_byte(s.final_loss()), 3) << ", validation "
      << fixed(s.validation_bits_per_byte(s.val_loss()), 3) << " ("
      << fixed(static_cast<double>(s.validation_bytes) / static_cast<double>(s.validation_tokens), 2)
      << " bytes per validation token)\n";
  if (s.result.steps > 0) {
    out << "speed: " << grouped(s.tokens_per_second()) << " tokens/s in training steps ("
        << s.result.steps << " steps x " << grouped(static_cast<double>(s.result.tokens / s.result.steps)) << " tokens in " << fixed(s.result.train_seconds, 1)
        << " s; " << fixed(s.total_seconds, 1) << " s in all)\n";
  }
  if (s.result.diverged) {
    out << "training DIVERGED at step " << s.options.first_step + s.result.steps + 1
        << " (the batch loss was not finite): try a smaller --lr\n";
  } else if (s.diverged() && !std::isfinite(s.val_loss())) {
    out << "DIVERGED: the validation loss is not a finite number (the parameters hold NaN or inf)\n";
  } else if (s.diverged()) {
    out << "training DIVERGED: the validation loss rose from " << fixed(s.initial_loss(), 3) << " to "
        << fixed(s.val_loss(), 3) << ": try a smaller --lr\n";
  }
  if (with_samples && !s.samples.empty()) {
    out << "samples (temperature " << fixed(s.temperature, 2) << "):\n";
    for (std::size_t i = 0; i < s.samples.size(); ++i) {
      std::istringstream lines(printable(s.samples[i]));
      std::string line;
      bool first = true;
      while (std::getline(lines, line)) {
        out << (first ? "  " + std::to_string(i + 1) + " | " : std::string("    | ")) << line << "\n";
        first = false;
      }
    }
  }
  const RowCheck& r = s.rows;
  out << "rows: " << r.rows_changed << " of " << r.vocab << " embedding rows changed; " << r.rows_seen
      << " distinct ids were fed as input; " << r.rows_never_seen << " never were\n";
  if (!r.dense_table_gradient) {
    out << "      " << (r.unseen_rows_identical ? "all " : "NOT all: ") << r.rows_never_seen - r.unseen_changed
        << " of " << r.rows_never_seen << " never-fed rows are bit-identical to their initial values\n";
  }
  for (const std::string& line : explain_rows(r, s.options)) out << "      " << line << "\n";
  out << (r.passed ? "row check passed" : "row check FAILED")
      << (r.dense_table_gradient ? " (tied table: reported, not enforced)" : "") << "\n";
  if (!s.learning_check_applies) {
    out << "learning check not applied (" << (s.result.steps == 0 ? "no training steps" : "resumed from a checkpoint")
        << ")\n";
  } else if (s.learning_passed) {
    out << "learning check passed: validation loss " << fixed(s.val_loss(), 3) << " is clearly below the initial "
        << fixed(s.initial_loss(), 3) << "\n";
  } else {
    out << "learning check FAILED: validation loss " << fixed(s.val_loss(), 3)
        << " is not clearly (10%) below the initial " << fixed(s.initial_loss(), 3) << "\n";
  }
}

}  // namespace next_token
