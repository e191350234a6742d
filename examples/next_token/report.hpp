// What a run found out, computed from the tables and the losses, never assumed: the row
// check (which embedding rows moved, and whether every row never fed as input is
// bit-identical to its initial value), the learning check, the printed summary and --json.
// Not a logger: progress lines live in progress.hpp.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corpus.hpp"
#include "language_model.hpp"
#include "train.hpp"

namespace next_token {

struct RowCheck {
  std::size_t vocab = 0;
  std::size_t rows_seen = 0;         // distinct ids fed as input in some step
  std::size_t rows_changed = 0;      // rows whose bytes differ from the initial table
  std::size_t rows_never_seen = 0;
  std::size_t seen_unchanged = 0;    // fed, yet bit-identical (an update below float resolution)
  std::size_t unseen_changed = 0;    // never fed, yet changed
  bool unseen_rows_identical = true;
  // With a tied output layer every row receives a gradient in every step, so the check
  // cannot expect never-fed rows to stay put; it reports what happened and passes.
  bool dense_table_gradient = false;
  bool passed = false;
  std::vector<double> movement;      // per row: Euclidean norm of (after - before)
  std::vector<std::uint8_t> seen;
};

// Compares the two (V, D) tables row by row, byte for byte.
RowCheck check_rows(const xgrad::Array& before, const xgrad::Array& after, const std::vector<std::uint8_t>& seen,
                    bool dense_table_gradient);

// Plain sentences saying which rows moved and why (lazy sparse updates with momentum,
// weight decay or AdamW; every row with --tie).
std::vector<std::string> explain_rows(const RowCheck& rows, const TrainOptions& options);

// "Clearly below": at least 10% under the initial loss (and finite).
bool clearly_below(double loss, double initial);

struct RunSummary {
  std::string corpus;                 // path
  std::size_t corpus_bytes = 0;
  TokenKind tokens = TokenKind::byte;
  ModelSpec model;
  std::size_t parameter_count = 0;
  std::string init;                   // how the parameters were initialised or loaded
  TrainOptions options;
  nlohmann::json config;              // the resolved configuration (config.hpp's config_json)
  std::size_t train_tokens = 0, validation_tokens = 0, unknown_tokens = 0;
  std::size_t train_bytes = 0, validation_bytes = 0;  // the text behind each split (Split's counts)
  TrainResult result;
  RowCheck rows;
  bool learning_check_applies = true; // false for a resumed checkpoint or no steps
  bool learning_passed = false;
  std::vector<std::string> samples;
  double temperature = 0.0;
  double total_seconds = 0.0;

  double initial_loss() const { return result.curve.front().validation; }
  double final_loss() const { return result.curve.back().train; }
  double val_loss() const { return result.curve.back().validation; }
  float grad_norm() const { return result.grad_norms.empty() ? 0.0f : result.grad_norms.back(); }
  // Losses in bits per byte of text (corpus.hpp's bits_per_byte), each with the tokens per
  // byte of the split it was measured on.
  double train_bits_per_byte(double nats) const { return bits_per_byte(nats, train_tokens, train_bytes); }
  double validation_bits_per_byte(double nats) const { return bits_per_byte(nats, validation_tokens, validation_bytes); }
  double tokens_per_second() const {
    return result.train_seconds > 0 ? static_cast<double>(result.tokens) / result.train_seconds : 0.0;
  }
  // Training diverged: a batch loss was not finite, or the validation loss ended at more than
  // twice where it started (a learning rate far too large blows the loss up without a NaN).
  bool diverged() const { return result.diverged || !(val_loss() <= 2 * initial_loss()); }
  // A diverged run fails whether or not the learning check applies (a resumed run).
  bool passed() const { return rows.passed && !diverged() && (!learning_check_applies || learning_passed); }
};

// The --json document. Keys that depend on wall time: tokens_per_second, train_seconds, total_seconds.
// Every loss in nats per token has a twin in bits per byte (`*_bits_per_byte`).
nlohmann::json summary_json(const RunSummary& summary);

// The closing block a person reads: losses, speed, samples, the row check and the verdict.
void print_summary(std::ostream& out, const RunSummary& summary, bool with_samples);

// Text safe for a terminal: invalid UTF-8 becomes U+FFFD, control characters other than
// newline and tab become '?'.
std::string printable(const std::string& text);

}  // namespace next_token
