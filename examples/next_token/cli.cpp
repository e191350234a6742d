// The run as four steps: plan (flags, --config, --load: flags.hpp) -> build (corpus,
// vocabulary, model, optimiser) -> train -> report (summary, --save, --plot, --json).
#include "cli.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include "checkpoint.hpp"
#include "common/memory.hpp"
#include "common/numbers.hpp"
#include "config.hpp"
#include "core/io/atomic_file.hpp"
#include "core/io/message_text.hpp"
#include "core/threads.hpp"
#include "corpus.hpp"
#include "flags.hpp"
#include "inspect.hpp"
#include "language_model.hpp"
#include "limits.hpp"
#include "optimizer_choice.hpp"
#include "plot.hpp"
#include "progress.hpp"
#include "report.hpp"
#include "train.hpp"

namespace next_token {
namespace {

using Clock = std::chrono::steady_clock;
using examples::grouped;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Parameters, their gradients and optimiser copies (the initial table, momentum or two
// moments), and a batch's activations and their gradients (a loss is measured on up to
// 4096 predictions at once), in bytes: refused before the model is built when the machine
// cannot hold them.
void check_model_fits(const ModelSpec& spec, std::size_t batch) {
  const long double parameters = parameter_count(spec);
  long double activations = 0;
  if (spec.kind == ModelKind::mlp) {
    const ModelConfig& c = spec.mlp;
    const long double C = c.context, D = c.embed_dim, H = c.hidden, V = c.vocab;
    const long double output = c.tie ? D : V;
    activations = std::max<long double>(batch, 4096) * (C * D + H + output + V);
  } else {
    const TransformerConfig& c = spec.transformer;
    const long double T = c.context, C = c.embed_dim, L = c.layers, H = c.heads, V = c.vocab;
    // Per position and block: layer norms, qkv, attention weights over T, projections, the 4C MLP.
    activations = std::max<long double>(batch * T, 4096) * (L * (20 * C + 2 * H * T) + 3 * V);
  }
  const std::string problem = examples::allocation_problem(
      "the model (" + describe(spec) + ") with a batch of " + std::to_string(batch),
      (parameters * 5 + activations * 3) * sizeof(float));
  if (!problem.empty()) throw UsageError(problem + "; choose a smaller model or --batch-size");
  if (parameters > static_cast<long double>(limits::kMaxParameters)) {
    throw UsageError("the model (" + describe(spec) + ") has more than " + std::to_string(limits::kMaxParameters) +
                     " parameters, the most next_token builds; choose a smaller model");
  }
}


// What a plan builds: the text and its tokens, the model and its optimiser.
struct Built {
  std::string text;
  Vocabulary vocabulary;
  double vocabulary_seconds = 0.0;
  Split split;
  std::unique_ptr<LanguageModel> model;
  std::unique_ptr<xgrad::optim::Optimizer> optimizer;
  std::vector<std::int32_t> prompt;  // --prompt's ids; empty: a line of the training text
};

void set_threads(int threads) {
  try {
    xgrad::set_num_threads(static_cast<std::size_t>(threads));
  } catch (const std::runtime_error& e) {
    throw UsageError("--threads " + std::to_string(threads) + ": " + e.what());
  }
}

Vocabulary make_vocabulary(const RunConfig& c, const std::string& text, const CheckpointInfo* checkpoint) {
  if (checkpoint) return checkpoint->vocabulary;
  if (c.tokens == TokenKind::word) return Vocabulary::words_from_text(text, c.vocab_size);
  if (c.tokens == TokenKind::byte) return Vocabulary::bytes();
  if (c.tokens == TokenKind::character) return Vocabulary::characters_from_text(text);  // all of it, as nanoGPT's
  try {  // only on the training split, so the validation text stays unseen
    return Vocabulary::bpe_from_text(text.substr(0, bpe_training_bytes(text, c.validation_fraction)), c.vocab_size);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--tokens bpe --vocab-size ") + std::to_string(c.vocab_size) + ": " + e.what());
  }
}

template <class Make>
auto refused_as_usage(Make make) {
  try {
    return make();
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

std::vector<std::int32_t> encode_prompt(const RunConfig& c, const Vocabulary& vocabulary, const LanguageModel& model) {
  if (c.prompt.empty()) return {};
  check_text(c.prompt, "--prompt");
  std::vector<std::int32_t> ids;
  try {
    ids = vocabulary.encode(c.prompt);
  } catch (const std::invalid_argument& e) {
    throw UsageError("--prompt: " + std::string(e.what()));
  }
  if (ids.size() < model.min_context()) {
    throw UsageError("--prompt \"" + c.prompt + "\" has " + std::to_string(ids.size()) +
                     " tokens; the model's context needs at least " + std::to_string(model.min_context()));
  }
  return ids;
}

// `c` gains what only the data can tell: V.
Built build(RunConfig& c, const CheckpointInfo* checkpoint) {
  set_threads(c.threads);
  Built b;
  b.text = read_corpus(c.corpus);
  const auto start = Clock::now();
  b.vocabulary = make_vocabulary(c, b.text, checkpoint);
  b.vocabulary_seconds = seconds_since(start);
  c.spec.set_vocab(b.vocabulary.size());
  b.split = split_corpus(b.text, b.vocabulary, c.validation_fraction, c.spec.context(), c.corpus);
  check_model_fits(c.spec, c.train.batch);
  b.model = refused_as_usage([&] { return make_model(c.spec, static_cast<std::int64_t>(c.train.seed)); });
  b.prompt = encode_prompt(c, b.vocabulary, *b.model);
  b.optimizer = refused_as_usage([&] { return make_optimizer(b.model->tensors(), c.train); });
  if (checkpoint) {
    load_checkpoint(c.load, *b.model, *b.optimizer, c.allow_non_finite ? NonFinite::allow : NonFinite::refuse);
  }
  return b;
}

// The summary's fields known before training.
RunSummary start_summary(const RunConfig& c, const Built& b, const CheckpointInfo* checkpoint) {
  RunSummary s;
  s.init = checkpoint ? "loaded from " + c.load + " (step " + std::to_string(checkpoint->step) + ")"
           : c.spec.kind == ModelKind::mlp
               ? "Flax keys (Embed_0, Dense_0, Dense_1) from jax.random.PRNGKey(" + std::to_string(c.train.seed) + ")"
               : "GPT-2 initialisation from jax.random.PRNGKey(" + std::to_string(c.train.seed) + ")";
  s.corpus = c.corpus;
  s.corpus_bytes = b.text.size();
  s.tokens = b.vocabulary.kind();
  s.model = c.spec;
  s.parameter_count = b.model->parameter_count();
  s.options = c.train;
  s.config = config_json(c);
  s.train_tokens = b.split.train.size();
  s.validation_tokens = b.split.validation.size();
  s.train_bytes = b.split.train_bytes;
  s.validation_bytes = b.split.validation_bytes;
  for (const std::vector<std::int32_t>* part : {&b.split.train, &b.split.validation}) {
    for (const std::int32_t id : *part) s.unknown_tokens += b.vocabulary.kind() == TokenKind::word && id == 0;
  }
  s.temperature = c.temperature;
  return s;
}

// "AdamW lr 0.003 -> 0.0003 (warmup 100, cosine over 3000 steps), weight decay 0.1, clip 1"
std::string describe_training(const TrainOptions& t) {
  std::ostringstream text;
  text << (t.optimizer == OptimizerKind::sgd ? "SGD" : "AdamW") << " lr " << t.lr << " -> " << t.lr_final << " (";
  if (t.schedule == ScheduleKind::cosine) text << "warmup " << t.warmup << ", cosine";
  else text << "linear";
  text << " over " << t.total_schedule_steps() << " steps)";
  if (t.optimizer == OptimizerKind::adamw) text << ", betas " << t.beta1 << "/" << t.beta2;
  if (t.momentum > 0) text << ", momentum " << t.momentum;
  if (t.weight_decay > 0) text << ", weight decay " << t.weight_decay;
  if (t.clip > 0) text << ", clip " << t.clip;
  return text.str();
}

// Not an error: the run is right, only slower than it could be (core/threads.hpp).
void print_blas_notes(std::ostream& err) {
  if (*xgrad::blas_core_hint()) err << "next_token: note: " << xgrad::blas_core_hint() << "\n";
  if (const char* chosen = std::getenv("XGRAD_BLAS_CORE_CHOSEN"); chosen && xgrad::blas_core() == std::string(chosen)) {
    err << "next_token: note: restarted with OPENBLAS_CORETYPE=" << chosen
        << " (OpenBLAS did not recognise this CPU and chose its slow SSE3 kernels; set the variable to override)\n";
  }
}

void print_header(std::ostream& out, std::ostream& err, const RunConfig& c, const Built& b, const RunSummary& s,
                  const CheckpointInfo* checkpoint) {
  out << "next_token: " << token_kind_name(s.tokens) << " tokens (V = " << c.spec.vocab() << ") from " << c.corpus
      << " (" << grouped(b.text.size()) << " bytes; " << grouped(s.train_tokens) << " train, "
      << grouped(s.validation_tokens) << " validation tokens"
      << (s.unknown_tokens ? "; " + grouped(s.unknown_tokens) + " <unk>" : std::string()) << ")\n";
  if (s.tokens == TokenKind::bpe && !checkpoint) {
    out << "bpe: " << b.vocabulary.merges().size() << " merges trained on the " << grouped(b.split.train_bytes)
        << " training bytes in " << std::lround(b.vocabulary_seconds * 1000) << " ms\n";
  }
  out << "model: " << describe(c.spec) << "; " << grouped(s.parameter_count) << " parameters, " << s.init << "\n";
  print_blas_notes(err);
  if (checkpoint && !checkpoint->has_optimizer_state && c.train.steps > 0) {
    out << "note: " << c.load << " holds no optimizer state or batch position (manifest version "
        << checkpoint->version << "): training continues from fresh optimizer state\n";
  }
  out << "training: " << c.train.steps << " steps of " << c.train.batch << " windows";
  if (b.model->predictions_per_window() > 1) out << " x " << b.model->predictions_per_window() << " tokens";
  out << ", " << describe_training(c.train) << ", seed " << c.train.seed << ", " << c.threads
      << (c.threads == 1 ? " thread" : " threads") << std::endl;
}

// Default prompts: the first C tokens of a line of the training text (bytes, characters), or
// of a random place in it (words, BPE).
std::vector<std::int32_t> pick_prompt(const std::vector<std::int32_t>& train, std::size_t context,
                                      std::optional<std::int32_t> newline, Rng& rng) {
  std::vector<std::size_t> starts;
  if (newline) {
    for (std::size_t p = 0; p + context <= train.size(); ++p) {
      if (p == 0 || train[p - 1] == *newline) starts.push_back(p);
    }
  }
  const std::size_t start = starts.empty() ? static_cast<std::size_t>(rng.below(train.size() - context + 1))
                                           : starts[static_cast<std::size_t>(rng.below(starts.size()))];
  return std::vector<std::int32_t>(train.begin() + static_cast<std::ptrdiff_t>(start),
                                   train.begin() + static_cast<std::ptrdiff_t>(start + context));
}


std::vector<std::string> draw_samples(const RunConfig& c, const Built& b, std::size_t last_step) {
  Rng rng(stream_seed(c.train.seed, kSampleStream, last_step));
  const TokenKind kind = b.vocabulary.kind();
  const std::size_t length = c.sample_length               ? c.sample_length
                             : kind == TokenKind::byte || kind == TokenKind::character ? 200
                             : kind == TokenKind::bpe  ? 80
                                                       : 40;
  // The MLP needs its whole window; the transformer starts from a short prompt, so most of
  // the sample is its own.
  const std::size_t context = c.spec.context();
  const std::size_t prompt_length = c.spec.kind == ModelKind::mlp ? context : std::min<std::size_t>(context, 16);
  std::vector<std::string> samples;
  for (std::size_t i = 0; i < c.samples; ++i) {
    const std::vector<std::int32_t> prompt =
        b.prompt.empty() ? pick_prompt(b.split.train, prompt_length, b.vocabulary.newline_id(), rng) : b.prompt;
    // Byte-level samples can be invalid UTF-8; keep them printable (and valid in --json).
    samples.push_back(printable(b.vocabulary.decode(generate(*b.model, prompt, length, c.temperature, rng))));
  }
  return samples;
}

ProgressPrinter::Mode progress_mode(const RunConfig& c, bool interactive) {
  return c.quiet ? ProgressPrinter::Mode::quiet : interactive ? ProgressPrinter::Mode::terminal : ProgressPrinter::Mode::log;
}

// --graph and --stats around the progress lines.
StepInspector make_inspector(const RunConfig& c, const Built& b, TrainObserver& progress) {
  std::vector<std::pair<std::string, xgrad::Tensor>> named;
  std::vector<std::string> labels;
  for (const LanguageModel::Parameter& p : b.model->parameters()) named.emplace_back(p.name, p.tensor);
  for (std::size_t id = 0; id < b.vocabulary.size(); ++id) labels.push_back(b.vocabulary.label(static_cast<std::int32_t>(id)));
  return StepInspector(progress, c.inspect, std::move(named), std::move(labels), describe(c.spec),
                       std::max<std::size_t>(1, c.train.steps / 100));
}

// Trains, then checks the rows and the learning and draws the samples.
void train_and_check(const RunConfig& c, const Built& b, RunSummary& s, TrainObserver& observer) {
  const LanguageModel& model = *b.model;
  s.result = train(model, *b.optimizer, b.split, c.train, observer);
  s.rows = check_rows(s.result.initial_table, model.token_table().value(), s.result.seen, model.dense_table_gradient());
  s.learning_check_applies = c.load.empty() && c.train.steps > 0;
  s.learning_passed = clearly_below(s.val_loss(), s.initial_loss()) && !s.diverged();
  s.samples = draw_samples(c, b, c.train.first_step + s.result.steps);
}

// Writes one output; a failure is reported and remembered, so the outputs after it are
// still written (a plot that fails must not cost the trained model or the summary).
void write_output(bool& failed, std::ostream& err, const std::function<void()>& write) {
  try {
    write();
  } catch (const std::exception& e) {
    err << "next_token: " << xgrad::io::printable_bytes(e.what()) << "\n";
    failed = true;
  }
}

void save(const RunConfig& c, const Built& b, const RunSummary& s, std::ostream& out) {
  TrainingState state;
  state.step = c.train.first_step + s.result.steps;
  state.seed = c.train.seed;
  state.sampler_state = s.result.sampler_state;
  state.training = c.train;
  state.optimizer = b.optimizer->state();
  save_checkpoint(c.save, *b.model, b.vocabulary, state,
                  {{"val_loss", s.val_loss()}, {"final_loss", s.final_loss()}, {"corpus", c.corpus}, {"config", s.config}});
  if (!c.quiet) out << "checkpoint: " << c.save << " (step " << state.step << ")\n";
}

// The outputs, the model first (it is what the run made). Returns the exit status.
int write_outputs(const RunConfig& c, const Built& b, const RunSummary& s, StepInspector& inspector,
                  std::ostream& out, std::ostream& err) {
  bool failed = false;
  if (!c.save.empty() && s.diverged()) {
    err << "next_token: training diverged, so the model is not saved; " << xgrad::io::printable_bytes(c.save)
        << " is unchanged\n";
  } else if (!c.save.empty()) {
    write_output(failed, err, [&] { save(c, b, s, out); });
  }
  if (!c.plot.empty()) {
    write_output(failed, err, [&] {
      const std::vector<std::string> files =
          write_plots(c.plot, s, b.vocabulary, s.result.initial_table, b.model->token_table().value());
      if (!c.quiet) out << "plots: " << files[0] << ", " << files[1] << "\n";
    });
  }
  write_output(failed, err, [&] { inspector.write_files(c.plot, out, c.quiet); });
  if (!c.json.empty()) {
    write_output(failed, err, [&] {
      xgrad::io::write_file_atomically(c.json, summary_json(s).dump(2) + "\n");
      if (!c.quiet) out << "summary: " << c.json << "\n";
    });
  }
  out << std::flush;
  if (failed) return kExitError;
  return s.passed() ? kExitOk : kExitCheckFailed;
}

int run_plan(Plan& plan, std::ostream& out, std::ostream& err, bool interactive) {
  const auto start = Clock::now();
  RunConfig& c = plan.config;
  const CheckpointInfo* checkpoint = plan.checkpoint ? &*plan.checkpoint : nullptr;
  const Built built = build(c, checkpoint);
  RunSummary summary = start_summary(c, built, checkpoint);
  if (!c.quiet) print_header(out, err, c, built, summary, checkpoint);
  ProgressPrinter progress(out, progress_mode(c, interactive));
  progress.show_bits_per_byte(built.split);
  StepInspector inspector = make_inspector(c, built, progress);
  train_and_check(c, built, summary, inspector);
  progress.finish();
  summary.total_seconds = seconds_since(start);
  print_summary(out, summary, !c.quiet);
  inspector.print(out);  // --stats only
  out << std::flush;
  return write_outputs(c, built, summary, inspector, out, err);
}

int run_reporting_errors(int argc, const char* const* argv, std::ostream& out, std::ostream& err, bool interactive) {
  try {
    Plan plan = plan_run(argc, argv, out, err);
    return plan.help ? kExitOk : run_plan(plan, out, err, interactive);
  } catch (const CLI::FileError& e) {  // --config FILE
    err << "next_token: --config: " << xgrad::io::printable_bytes(e.what()) << "\n";
    return kExitError;
  } catch (const CLI::ParseError& e) {
    err << "next_token: " << xgrad::io::printable_bytes(e.what(), /*keep_newlines=*/true)
        << "\nRun next_token --help for the flags and their defaults.\n";
    return kExitUsage;
  } catch (const UsageError& e) {
    err << "next_token: " << xgrad::io::printable_bytes(e.what()) << "\n";
    return kExitUsage;
  } catch (const std::bad_alloc&) {
    out << std::flush;
    err << "next_token: out of memory (a smaller model, --batch-size or corpus needs less)\n";
    return kExitError;
  } catch (const std::exception& e) {  // CorpusError, CheckpointError, NpyError, ...
    out << std::flush;
    err << "next_token: " << xgrad::io::printable_bytes(e.what()) << "\n";
    return kExitError;
  }
}

}  // namespace

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err, bool interactive) {
  const int status = run_reporting_errors(argc, argv, out, err, interactive);
  // A full disk or a closed stdout would otherwise pass for a quiet success.
  if (!(out << std::flush)) {
    err << "next_token: cannot write to the standard output\n";
    return kExitError;
  }
  return status;
}

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, bool interactive) {
  std::vector<const char*> argv{"next_token"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  return run(static_cast<int>(argv.size()), argv.data(), out, err, interactive);
}

}  // namespace next_token
