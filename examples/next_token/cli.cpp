// Flags, checks of their combinations, and the run: corpus -> vocabulary -> model -> train
// -> row check -> samples -> summary, --json, --plot, --save.
#include "cli.hpp"

#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <ostream>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include "checkpoint.hpp"
#include "common/memory.hpp"
#include "common/numbers.hpp"
#include "core/io/atomic_file.hpp"
#include "core/io/message_text.hpp"
#include "core/threads.hpp"
#include "corpus.hpp"
#include "inspect.hpp"
#include "limits.hpp"
#include "model.hpp"
#include "output_paths.hpp"
#include "plot.hpp"
#include "progress.hpp"
#include "report.hpp"
#include "train.hpp"

#ifndef XGRAD_DEFAULT_CORPUS
#define XGRAD_DEFAULT_CORPUS "examples/data/genesis_kjv.txt"
#endif

namespace next_token {
namespace {

namespace lim = limits;

struct Options {
  std::string corpus = XGRAD_DEFAULT_CORPUS;
  std::string tokens = "byte";
  std::size_t vocab_size = 2000;
  ModelConfig model;
  TrainOptions train;
  double validation_fraction = 0.1;
  std::int64_t seed = 0;
  std::size_t samples = 3;
  std::size_t sample_length = 0;
  double temperature = 0.8;
  std::string prompt;
  std::string json, plot, save, load;
  bool quiet = false;
  bool allow_non_finite = false;
  int threads = 1;
  InspectOptions inspect;  // --graph, --stats
};

// A usage error found after parsing (a bad combination of flags).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Finite and within [lo, hi]; CLI::Range lets NaN through.
CLI::Validator finite_range(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& input) -> std::string {
        double value = 0.0;
        if (!CLI::detail::lexical_cast(input, value)) return "not a number: " + input;
        if (!std::isfinite(value) || value < lo || value > hi) {
          return "value " + input + " is not in [" + CLI::detail::to_string(lo) + ", " + CLI::detail::to_string(hi) + "]";
        }
        return {};
      },
      "in [" + CLI::detail::to_string(lo) + ", " + CLI::detail::to_string(hi) + "]");
}

// A decimal whole number in [lo, hi], handed on to CLI11 in canonical form: CLI11 itself
// would read "010" as octal and "0x10" as hex.
CLI::Validator whole_number(std::int64_t lo, std::int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& input) -> std::string {
        std::int64_t value = 0;
        const std::string problem = examples::parse_whole_number(input, lo, hi, value);
        if (problem.empty()) input = std::to_string(value);
        return problem;
      },
      "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

void build_parser(CLI::App& app, Options& o) {
  app.option_defaults()->always_capture_default();
  app.get_formatter()->column_width(34);
  app.footer(
      "The run ends with the row check: which embedding rows changed, against the ids fed as input,\n"
      "and whether every row never fed is bit-identical to its initial value (computed from the tables).\n"
      "Exit status: 0 when the row check passes and the validation loss is clearly (10%) below the\n"
      "initial loss (not judged when resuming or with --steps 0); 1 for a file that cannot be read or\n"
      "written; 2 for bad flags; 3 when a check fails or training diverged (then nothing is saved).\n"
      "Examples:\n"
      "  next_token                                   train on the shipped Genesis text (bytes)\n"
      "  next_token --tokens word --steps 3000 --plot plots --save ckpt\n"
      "  next_token --load ckpt --steps 0 --samples 5 --temperature 0.6");

  app.add_option("--corpus", o.corpus, "UTF-8 text file to train on")
      ->default_str("examples/data/genesis_kjv.txt (shipped: Genesis, KJV)");
  app.add_option("--tokens", o.tokens, "byte: V = 256 byte values; word: the corpus's words (whitespace-"
                                       "separated, punctuation split off), id 0 = <unk>; bpe: byte-level BPE "
                                       "(minbpe's merges) trained on the training split")
      ->check(CLI::IsMember({"byte", "word", "bpe"}));
  app.add_option("--vocab-size", o.vocab_size, "with --tokens word: V at most this, <unk> included "
                                               "(the most frequent words; ties in byte order); with --tokens bpe: "
                                               "V exactly, in [256, 65536] (default 512)")
      ->transform(whole_number(lim::kMinVocab, lim::kMaxVocab));
  app.add_option("--context", o.model.context, "C: previous tokens the model sees (1 with --hidden 0 is the bigram model)")
      ->transform(whole_number(1, lim::kMaxContext));
  app.add_option("--embed-dim", o.model.embed_dim, "D: embedding width")->transform(whole_number(1, lim::kMaxEmbedDim));
  app.add_option("--hidden", o.model.hidden, "H: width of the tanh layer; 0 for none")
      ->transform(whole_number(0, lim::kMaxHidden));
  app.add_flag("--tie", o.model.tie, "tie weights: the output layer is Embed.attend (the table scores every next token); default: off");

  app.add_option("--steps", o.train.steps, "training steps; 0 only evaluates and samples (e.g. with --load)")
      ->transform(whole_number(0, lim::kMaxSteps));
  app.add_option("--batch-size", o.train.batch, "B: windows (predicted tokens) per step")
      ->transform(whole_number(1, lim::kMaxBatch));
  app.add_option("--lr", o.train.lr, "learning rate at the first step")->check(finite_range(1e-9, 1e3));
  app.add_option("--lr-final", o.train.lr_final, "learning rate at the last step, linear decay in between (only --lr given: a twentieth of it)")
      ->check(finite_range(0.0, 1e3));
  app.add_option("--momentum", o.train.momentum, "SGD momentum, in [0, 1) (lazy on the table's rows)")
      ->check(finite_range(0.0, 0.999));
  app.add_option("--weight-decay", o.train.weight_decay, "SGD weight decay (lazy on the table's rows)")
      ->check(finite_range(0.0, 1.0));
  app.add_option("--validation-fraction", o.validation_fraction, "share of the corpus (its end) held out for validation")
      ->check(finite_range(0.01, 0.5));
  app.add_option("--eval-every", o.train.eval_every, "steps between loss measurements, plus early ones at 1/8, 1/4 and 1/2 of it (0: only at start and end)")
      ->transform(whole_number(0, lim::kMaxSteps));
  app.add_option("--eval-windows", o.train.eval_windows, "windows of each split a loss is measured on (evenly spaced)")
      ->transform(whole_number(1, 100000000));
  app.add_option("--seed", o.seed, "seed of the whole run: parameters (jax.random.PRNGKey(seed), Flax's keys), "
                                   "batches and samples")
      ->transform(whole_number(0, lim::kMaxSeed));
  app.add_option("--threads", o.threads, "threads for xgrad's own loops (results are bit-identical for any count)")
      ->transform(whole_number(1, 256));

  app.add_option("--samples", o.samples, "texts generated at the end")->transform(whole_number(0, 100));
  app.add_option("--sample-length", o.sample_length, "tokens per sample; 0: 200 bytes, 40 words or 80 BPE tokens")
      ->transform(whole_number(0, 100000));
  app.add_option("--temperature", o.temperature, "sampling temperature; 0 always picks the likeliest token")
      ->check(finite_range(0.0, 100.0));
  app.add_option("--prompt", o.prompt, "text each sample starts from (at least C tokens); default: a line of the "
                                       "training text");

  app.add_option("--json", o.json, "write a machine-readable summary to FILE; default: none")->type_name("FILE");
  app.add_option("--plot", o.plot, "write loss.svg and embedding_rows.svg into DIR; default: none")->type_name("DIR");
  app.add_option("--save", o.save, "save a checkpoint into DIR (.npy per parameter + manifest.json); default: none")->type_name("DIR");
  app.add_option("--load", o.load, "start from the checkpoint in DIR (resume, or sample with --steps 0); default: none")->type_name("DIR");
  app.add_flag("--allow-non-finite", o.allow_non_finite, "with --load: accept a checkpoint whose parameters hold "
                                                         "NaN or inf (to inspect it); default: off");
  add_inspect_flags(app, o.inspect);
  app.add_flag("-q,--quiet", o.quiet, "no progress or samples: only the closing summary; default: off");
}

// Paths are checked before training, so a typo or a clash does not cost a whole run.
void check_paths(const CLI::App& app, const Options& o) {
  const std::pair<const char*, const std::string&> paths[] = {
      {"--corpus", o.corpus}, {"--load", o.load}, {"--json", o.json}, {"--plot", o.plot}, {"--save", o.save}};
  for (const auto& [flag, value] : paths) {
    if (app.get_option(flag)->count() > 0 && value.empty()) throw UsageError(std::string(flag) + " was given an empty path");
  }
  try {
    check_run_paths({o.corpus, o.load, o.json, o.plot, o.save});
  } catch (const OutputPathError& e) {
    throw UsageError(e.what());
  }
}

// Parameters, their gradients and copies (the initial table, momentum), and a batch's
// activations and their gradients (a loss is measured on up to 1024 windows at once), in
// bytes: refused before the model is built when the machine cannot hold them.
void check_model_fits(const ModelConfig& c, std::size_t batch) {
  const long double C = c.context, D = c.embed_dim, H = c.hidden, V = c.vocab;
  const long double dense_in = c.hidden > 0 ? H : C * D;
  const long double output = c.tie ? D : V;
  const long double parameters = V * D + (c.hidden > 0 ? C * D * H + H : 0) + dense_in * output + output;
  const long double windows = std::max<long double>(batch, 1024);
  const long double activations = windows * (C * D + H + output + V);
  const std::string problem = examples::allocation_problem(
      "the model (" + describe(c) + ") with a batch of " + std::to_string(batch),
      (parameters * 4 + activations * 3) * sizeof(float));
  if (!problem.empty()) throw UsageError(problem + "; choose a smaller model or --batch-size");
}

// With --load, model flags given on the command line must agree with the checkpoint.
void check_against_checkpoint(const CLI::App& app, const Options& o, const CheckpointInfo& info) {
  const auto given = [&](const char* flag) { return app.get_option(flag)->count() > 0; };
  const auto conflict = [&](const char* flag, const std::string& ours, const std::string& theirs) {
    throw UsageError(std::string(flag) + (ours.empty() ? "" : " " + ours) + " conflicts with the checkpoint in " + o.load + " (" + theirs +
                     "); leave it out when loading");
  };
  const ModelConfig& c = info.config;
  if (given("--tokens") && o.tokens != token_kind_name(info.vocabulary.kind())) {
    conflict("--tokens", o.tokens, std::string("tokens ") + token_kind_name(info.vocabulary.kind()));
  }
  if (given("--context") && o.model.context != c.context) conflict("--context", std::to_string(o.model.context), "context " + std::to_string(c.context));
  if (given("--embed-dim") && o.model.embed_dim != c.embed_dim) conflict("--embed-dim", std::to_string(o.model.embed_dim), "embed_dim " + std::to_string(c.embed_dim));
  if (given("--hidden") && o.model.hidden != c.hidden) conflict("--hidden", std::to_string(o.model.hidden), "hidden " + std::to_string(c.hidden));
  if (given("--tie") && o.model.tie != c.tie) conflict("--tie", "", c.tie ? "tied" : "not tied");
  if (given("--vocab-size")) throw UsageError("--vocab-size cannot change a loaded checkpoint's vocabulary; leave it out");
}

// Default prompts: the first C tokens of a line of the training text (bytes), or of a
// random place in it (words).
std::vector<std::int32_t> pick_prompt(const std::vector<std::int32_t>& train, std::size_t context, TokenKind kind, Rng& rng) {
  std::vector<std::size_t> starts;
  if (kind == TokenKind::byte) {
    for (std::size_t p = 0; p + context <= train.size(); ++p) {
      if (p == 0 || train[p - 1] == '\n') starts.push_back(p);
    }
  }
  const std::size_t start = starts.empty() ? static_cast<std::size_t>(rng.below(train.size() - context + 1))
                                           : starts[static_cast<std::size_t>(rng.below(starts.size()))];
  return std::vector<std::int32_t>(train.begin() + static_cast<std::ptrdiff_t>(start),
                                   train.begin() + static_cast<std::ptrdiff_t>(start + context));
}

std::string group(std::size_t n) {
  std::string digits = std::to_string(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<std::size_t>(i), ",");
  return digits;
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

int run_parsed(const CLI::App& app, Options o, std::ostream& out, std::ostream& err, bool interactive) {
  const auto start = std::chrono::steady_clock::now();
  const bool word_tokens = o.tokens == "word";
  const bool bpe_tokens = o.tokens == "bpe";
  if (app.get_option("--vocab-size")->count() > 0 && !word_tokens && !bpe_tokens && o.load.empty()) {
    throw UsageError("--vocab-size applies to --tokens word or bpe only (byte tokens always have V = 256)");
  }
  if (bpe_tokens && app.get_option("--vocab-size")->count() == 0) o.vocab_size = 512;
  if (bpe_tokens && !bpe::vocab_size_problem(o.vocab_size).empty()) {
    throw UsageError("--vocab-size " + std::to_string(o.vocab_size) + ": " + bpe::vocab_size_problem(o.vocab_size));
  }
  if (app.get_option("--lr-final")->count() == 0 && app.get_option("--lr")->count() > 0) {
    o.train.lr_final = o.train.lr / 20.0f;  // the default schedule's shape (1 -> 0.05) for any --lr
  }
  check_paths(app, o);
  xgrad::set_num_threads(static_cast<std::size_t>(o.threads));

  // Vocabulary and model: from the checkpoint, or fresh.
  const std::string text = read_corpus(o.corpus);
  std::optional<CheckpointInfo> info;
  if (!o.load.empty()) {
    info = read_checkpoint_info(o.load);
    check_against_checkpoint(app, o, *info);
    o.model = info->config;
    o.train.first_step = info->step;
  }
  const auto bpe_start = std::chrono::steady_clock::now();
  const auto fresh_bpe = [&] {
    try {  // only on the training split, so the validation text stays unseen
      return Vocabulary::bpe_from_text(text.substr(0, bpe_training_bytes(text, o.validation_fraction)), o.vocab_size);
    } catch (const std::invalid_argument& e) {
      throw UsageError(std::string("--tokens bpe --vocab-size ") + std::to_string(o.vocab_size) + ": " + e.what());
    }
  };
  const Vocabulary vocabulary = info          ? info->vocabulary
                                : bpe_tokens  ? fresh_bpe()
                                : word_tokens ? Vocabulary::words_from_text(text, o.vocab_size)
                                              : Vocabulary::bytes();
  const double bpe_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - bpe_start).count();
  o.model.vocab = vocabulary.size();
  o.train.seed = static_cast<std::uint64_t>(o.seed);
  const Split split = split_corpus(text, vocabulary, o.validation_fraction, o.model.context, o.corpus);
  std::vector<std::int32_t> prompt_ids;
  if (!o.prompt.empty()) {
    check_text(o.prompt, "--prompt");
    prompt_ids = vocabulary.encode(o.prompt);
    if (prompt_ids.size() < o.model.context) {
      throw UsageError("--prompt \"" + o.prompt + "\" has " + std::to_string(prompt_ids.size()) +
                       " tokens; the model's context needs at least " + std::to_string(o.model.context));
    }
  }

  check_model_fits(o.model, o.train.batch);
  const Model model(o.model, o.seed);
  RunSummary summary;
  summary.init = "Flax keys (Embed_0, Dense_0, Dense_1) from jax.random.PRNGKey(" + std::to_string(o.seed) + ")";
  if (info) {
    load_parameters(o.load, model, o.allow_non_finite ? NonFinite::allow : NonFinite::refuse);
    summary.init = "loaded from " + o.load + " (step " + std::to_string(info->step) + ")";
  }
  summary.corpus = o.corpus;
  summary.corpus_bytes = text.size();
  summary.tokens = vocabulary.kind();
  summary.model = o.model;
  summary.parameter_count = model.parameter_count();
  summary.options = o.train;
  summary.train_tokens = split.train.size();
  summary.validation_tokens = split.validation.size();
  summary.train_bytes = split.train_bytes;
  summary.validation_bytes = split.validation_bytes;
  for (const std::vector<std::int32_t>* part : {&split.train, &split.validation}) {
    for (const std::int32_t id : *part) summary.unknown_tokens += vocabulary.kind() == TokenKind::word && id == 0;
  }
  summary.temperature = o.temperature;

  if (!o.quiet) {
    out << "next_token: " << token_kind_name(vocabulary.kind()) << " tokens (V = " << o.model.vocab << ") from "
        << o.corpus << " (" << group(text.size()) << " bytes; " << group(split.train.size()) << " train, "
        << group(split.validation.size()) << " validation tokens"
        << (summary.unknown_tokens ? "; " + group(summary.unknown_tokens) + " <unk>" : std::string()) << ")\n";
    if (bpe_tokens && !info) {
      out << "bpe: " << vocabulary.merges().size() << " merges trained on the " << group(split.train_bytes)
          << " training bytes in " << std::lround(bpe_seconds * 1000) << " ms\n";
    }
    out << "model: " << describe(o.model) << "; " << group(summary.parameter_count) << " parameters, " << summary.init
        << "\n";
    out << "training: " << o.train.steps << " steps of " << o.train.batch << " windows, SGD lr " << o.train.lr << " -> "
        << o.train.lr_final;
    if (o.train.momentum > 0) out << ", momentum " << o.train.momentum;
    if (o.train.weight_decay > 0) out << ", weight decay " << o.train.weight_decay;
    out << ", seed " << o.seed << std::endl;
  }

  ProgressPrinter progress(out, o.quiet ? ProgressPrinter::Mode::quiet
                                        : interactive ? ProgressPrinter::Mode::terminal : ProgressPrinter::Mode::log);
  std::vector<std::pair<std::string, xgrad::Tensor>> named;
  std::vector<std::string> labels;
  for (const Model::Parameter& p : model.parameters()) named.emplace_back(p.name, p.tensor);
  for (std::size_t id = 0; id < vocabulary.size(); ++id) labels.push_back(vocabulary.label(static_cast<std::int32_t>(id)));
  progress.show_bits_per_byte(split);
  StepInspector inspector(progress, o.inspect, std::move(named), std::move(labels), describe(o.model),
                          std::max<std::size_t>(1, o.train.steps / 100));
  summary.result = train(model, split, o.train, inspector);
  progress.finish();

  const TrainResult& result = summary.result;
  summary.rows = check_rows(result.initial_table, model.embed().embedding().value(), result.seen, o.model.tie);
  summary.learning_check_applies = !info && o.train.steps > 0;
  summary.learning_passed = clearly_below(summary.val_loss(), summary.initial_loss()) && !summary.diverged();

  const std::size_t last_step = o.train.first_step + result.steps;
  Rng sample_rng(stream_seed(o.train.seed, kSampleStream, last_step));
  const std::size_t length = o.sample_length                           ? o.sample_length
                             : vocabulary.kind() == TokenKind::byte ? 200
                             : vocabulary.kind() == TokenKind::bpe  ? 80
                                                                    : 40;
  for (std::size_t i = 0; i < o.samples; ++i) {
    const std::vector<std::int32_t> prompt =
        prompt_ids.empty() ? pick_prompt(split.train, o.model.context, vocabulary.kind(), sample_rng) : prompt_ids;
    // Byte-level samples can be invalid UTF-8; keep them printable (and valid in --json).
    summary.samples.push_back(printable(vocabulary.decode(generate(model, prompt, length, o.temperature, sample_rng))));
  }
  summary.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  print_summary(out, summary, !o.quiet);
  inspector.print(out);  // --stats only
  out << std::flush;
  bool write_failed = false;
  // The model first: it is what the run made.
  if (!o.save.empty() && summary.diverged()) {
    err << "next_token: training diverged, so the model is not saved; " << xgrad::io::printable_bytes(o.save)
        << " is unchanged\n";
  } else if (!o.save.empty()) {
    write_output(write_failed, err, [&] {
      save_checkpoint(o.save, model, vocabulary, last_step, static_cast<std::uint64_t>(o.seed),
                      {{"val_loss", summary.val_loss()}, {"final_loss", summary.final_loss()}, {"corpus", o.corpus}});
      if (!o.quiet) out << "checkpoint: " << o.save << " (step " << last_step << ")\n";
    });
  }
  if (!o.plot.empty()) {
    write_output(write_failed, err, [&] {
      const std::vector<std::string> files =
          write_plots(o.plot, summary, vocabulary, result.initial_table, model.embed().embedding().value());
      if (!o.quiet) out << "plots: " << files[0] << ", " << files[1] << "\n";
    });
  }
  write_output(write_failed, err, [&] { inspector.write_files(o.plot, out, o.quiet); });
  if (!o.json.empty()) {
    write_output(write_failed, err, [&] {
      xgrad::io::write_file_atomically(o.json, summary_json(summary).dump(2) + "\n");
      if (!o.quiet) out << "summary: " << o.json << "\n";
    });
  }
  out << std::flush;
  if (write_failed) return kExitError;
  return summary.passed() ? kExitOk : kExitCheckFailed;
}

}  // namespace

namespace {

int run_reporting_errors(int argc, const char* const* argv, std::ostream& out, std::ostream& err, bool interactive) {
  CLI::App app("next_token: train a toy language model (a context-window MLP over xgrad) and see that an\n"
               "embedding only moves the rows it was fed.",
               "next_token");
  Options options;
  build_parser(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    app.exit(e, out, err);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    err << "next_token: " << xgrad::io::printable_bytes(e.what(), /*keep_newlines=*/true)
        << "\nRun next_token --help for the flags and their defaults.\n";
    return kExitUsage;
  }
  try {
    return run_parsed(app, options, out, err, interactive);
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
