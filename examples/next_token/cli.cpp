// Flags, checks of their combinations, and the run: corpus -> vocabulary -> model -> train
// -> row check -> samples -> summary, --json, --plot, --save.
#include "cli.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>

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
#include "language_model.hpp"
#include "optimizer_choice.hpp"
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

// The transformer's default run length: see README.md (next_token) for the runs behind it.
constexpr std::size_t kTransformerSteps = 5000;
constexpr float kTransformerDropout = 0.2f;
constexpr float kTransformerAttentionDropout = 0.2f;
// The transformer's products and attention are large enough to share: two threads ran its
// step faster than one on this 2-core machine (bench/RESULTS.md). The MLP's are not.
constexpr unsigned kTransformerThreads = 2;

struct Options {
  std::string corpus = XGRAD_DEFAULT_CORPUS;
  std::string tokens = "byte";
  std::size_t vocab_size = 2000;
  std::string model_kind = "mlp";
  ModelConfig model;               // the MLP's flags (and the shared --context, --embed-dim)
  TransformerConfig transformer = [] {  // --layers, --heads, --dropout, --attention-dropout
    TransformerConfig c;
    c.dropout = kTransformerDropout;
    c.attention_dropout = kTransformerAttentionDropout;
    return c;
  }();
  ModelSpec spec;                  // what is built, from the flags above and the defaults
  std::string optimizer = "sgd";
  std::string schedule = "linear";
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
      "  next_token --model transformer               a 2-block GPT on the same text (AdamW, cosine)\n"
      "  next_token --tokens word --steps 3000 --plot plots --save ckpt\n"
      "  next_token --load ckpt --steps 0 --samples 5 --temperature 0.6");

  app.add_option("--corpus", o.corpus, "UTF-8 text file to train on, at most 1 GiB (1073741824 bytes); checked as it is read")
      ->default_str("examples/data/genesis_kjv.txt (shipped: Genesis, KJV)");
  app.add_option("--tokens", o.tokens, "byte: V = 256 byte values; word: the corpus's words (whitespace-"
                                       "separated, punctuation split off), id 0 = <unk>; bpe: byte-level BPE "
                                       "(minbpe's merges) trained on the training split")
      ->check(CLI::IsMember({"byte", "word", "bpe"}));
  app.add_option("--vocab-size", o.vocab_size, "with --tokens word: V at most this, <unk> included "
                                               "(the most frequent words; ties in byte order); with --tokens bpe: "
                                               "V exactly, in [256, 65536] (default 512)")
      ->transform(whole_number(lim::kMinVocab, lim::kMaxVocab));
  app.add_option("--model", o.model_kind, "mlp: the context-window MLP; transformer: a pre-norm GPT (GPT-2 layout)")
      ->check(CLI::IsMember({"mlp", "transformer"}));
  app.add_option("--context", o.model.context, "C: previous tokens the MLP sees (1 with --hidden 0 is the bigram model, "
                                               "at most 64); the transformer's block size T")
      ->transform(whole_number(1, lim::kMaxBlock))
      ->default_str("3 (mlp), 64 (transformer)");
  app.add_option("--embed-dim", o.model.embed_dim, "D: embedding width (the transformer's residual width C)")
      ->transform(whole_number(1, lim::kMaxEmbedDim))
      ->default_str("16 (mlp), 128 (transformer)");
  app.add_option("--hidden", o.model.hidden, "mlp: H, width of the tanh layer; 0 for none")
      ->transform(whole_number(0, lim::kMaxHidden));
  app.add_flag("--tie", o.model.tie, "mlp: tie weights: the output layer is Embed.attend (the table scores every next token); default: off");
  app.add_option("--layers", o.transformer.layers, "transformer: L, blocks (attention + MLP, pre-norm)")
      ->transform(whole_number(1, lim::kMaxLayers));
  app.add_option("--heads", o.transformer.heads, "transformer: H, attention heads (must divide --embed-dim)")
      ->transform(whole_number(1, lim::kMaxHeads));
  app.add_option("--dropout", o.transformer.dropout, "transformer: dropout rate after attention and in the residual branches")
      ->check(finite_range(0.0, 0.9));
  app.add_option("--attention-dropout", o.transformer.attention_dropout,
                 "transformer: dropout rate on the attention weights softmax(q k^T / sqrt(hs)), as nanoGPT's attn_dropout")
      ->check(finite_range(0.0, 0.9));

  app.add_option("--steps", o.train.steps, "training steps; 0 only evaluates and samples (e.g. with --load)")
      ->transform(whole_number(0, lim::kMaxSteps))
      ->default_str("8000 (mlp), " + std::to_string(kTransformerSteps) + " (transformer)");
  app.add_option("--batch-size", o.train.batch, "B: windows per step (B predicted tokens for the MLP, B x T for the transformer)")
      ->transform(whole_number(1, lim::kMaxBatch))
      ->default_str("256 (mlp), 32 (transformer)");
  app.add_option("--optimizer", o.optimizer, "sgd (momentum, weight decay) or adamw (betas 0.9/0.99, eps 1e-8, decoupled "
                                             "weight decay on 2-D weights); both lazy on the token table's rows")
      ->check(CLI::IsMember({"sgd", "adamw"}))
      ->default_str("sgd (mlp), adamw (transformer)");
  app.add_option("--schedule", o.schedule, "linear: lr -> lr-final in a straight line; cosine: --warmup steps up to lr, "
                                           "then a half cosine down to lr-final")
      ->check(CLI::IsMember({"linear", "cosine"}))
      ->default_str("linear (mlp), cosine (transformer)");
  app.add_option("--lr", o.train.lr, "learning rate at the first step (after warmup)")
      ->check(finite_range(1e-9, 1e3))
      ->default_str("1 (mlp), 0.003 (transformer)");
  app.add_option("--lr-final", o.train.lr_final, "learning rate at the last step (only --lr given: a twentieth of it "
                                                 "(mlp), a tenth (transformer))")
      ->check(finite_range(0.0, 1e3))
      ->default_str("0.05 (mlp), 0.0003 (transformer)");
  app.add_option("--warmup", o.train.warmup, "cosine schedule: steps of linear warmup from lr/warmup to lr")
      ->transform(whole_number(0, lim::kMaxSteps))
      ->default_str("0 (mlp), 100 (transformer)");
  app.add_option("--schedule-steps", o.train.schedule_steps, "steps the schedule spans, counted from the model's first "
                                                              "step: give the planned total to train it in parts with "
                                                              "--save/--load (0: this run's last step, or the loaded one's plan)")
      ->transform(whole_number(0, lim::kMaxTotalSteps));
  app.add_option("--momentum", o.train.momentum, "SGD momentum, in [0, 1) (lazy on the table's rows)")
      ->check(finite_range(0.0, 0.999));
  app.add_option("--weight-decay", o.train.weight_decay, "SGD: weight decay in the gradient; AdamW: decoupled, on 2-D "
                                                         "weights only (both lazy on the table's rows)")
      ->check(finite_range(0.0, 1.0))
      ->default_str("0 (mlp), 0.1 (transformer)");
  app.add_option("--clip", o.train.clip, "clip the global gradient norm to this (0: no clipping; the norm is shown either way)")
      ->check(finite_range(0.0, 1e6))
      ->default_str("0 (mlp), 1 (transformer)");
  app.add_option("--validation-fraction", o.validation_fraction, "share of the corpus (its end) held out for validation")
      ->check(finite_range(0.01, 0.5));
  app.add_option("--eval-every", o.train.eval_every, "steps between loss measurements, plus early ones at 1/8, 1/4 and 1/2 of it (0: only at start and end)")
      ->transform(whole_number(0, lim::kMaxSteps))
      ->default_str("1000 (mlp), 500 (transformer)");
  app.add_option("--eval-windows", o.train.eval_windows, "windows of each split a loss is measured on (evenly spaced; "
                                                         "the transformer's predict T tokens each)")
      ->transform(whole_number(1, 100000000))
      ->default_str("20000 (mlp), 512 (transformer)");
  app.add_option("--seed", o.seed, "seed of the whole run: parameters (jax.random.PRNGKey(seed), Flax's keys), "
                                   "batches and samples")
      ->transform(whole_number(0, lim::kMaxSeed));
  app.add_option("--threads", o.threads, "threads for xgrad's own loops (results are bit-identical for any count; more than "
                                         "the system lets start is an error)")
      ->transform(whole_number(1, 256))
      ->default_str("1 (mlp), " + std::to_string(kTransformerThreads) + " or the CPUs there are (transformer)");

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
  app.add_option("--load", o.load, "start from the checkpoint in DIR (resume, or sample with --steps 0); model-size "
                 "flags given must match it, training and dropout flags given override it; a manifest asking for "
                 "more than 2^31 parameters is refused; default: none")->type_name("DIR");
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

// Parameters, their gradients and optimiser copies (the initial table, momentum or two
// moments), and a batch's activations and their gradients (a loss is measured on up to
// 4096 predictions at once), in bytes: refused before the model is built when the machine
// cannot hold them.
void check_model_fits(const ModelSpec& spec, std::size_t batch) {
  long double parameters = 0, activations = 0;
  if (spec.kind == ModelKind::mlp) {
    const ModelConfig& c = spec.mlp;
    const long double C = c.context, D = c.embed_dim, H = c.hidden, V = c.vocab;
    const long double dense_in = c.hidden > 0 ? H : C * D;
    const long double output = c.tie ? D : V;
    parameters = V * D + (c.hidden > 0 ? C * D * H + H : 0) + dense_in * output + output;
    activations = std::max<long double>(batch, 4096) * (C * D + H + output + V);
  } else {
    const TransformerConfig& c = spec.transformer;
    const long double T = c.context, C = c.embed_dim, L = c.layers, H = c.heads, V = c.vocab;
    parameters = 2 * V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C;
    // Per position and block: layer norms, qkv, attention weights over T, projections, the 4C MLP.
    activations = std::max<long double>(batch * T, 4096) * (L * (20 * C + 2 * H * T) + 3 * V);
  }
  const std::string problem = examples::allocation_problem(
      "the model (" + describe(spec) + ") with a batch of " + std::to_string(batch),
      (parameters * 5 + activations * 3) * sizeof(float));
  if (!problem.empty()) throw UsageError(problem + "; choose a smaller model or --batch-size");
  if (parameter_count(spec) > static_cast<long double>(limits::kMaxParameters)) {
    throw UsageError("the model (" + describe(spec) + ") has more than " + std::to_string(limits::kMaxParameters) +
                     " parameters, the most next_token builds; choose a smaller model");
  }
}

bool given(const CLI::App& app, const char* flag) { return app.get_option(flag)->count() > 0; }

// With --load, model flags given on the command line must agree with the checkpoint.
void check_against_checkpoint(const CLI::App& app, const Options& o, const CheckpointInfo& info) {
  const auto conflict = [&](const char* flag, const std::string& ours, const std::string& theirs) {
    throw UsageError(std::string(flag) + (ours.empty() ? "" : " " + ours) + " conflicts with the checkpoint in " + o.load + " (" + theirs +
                     "); leave it out when loading");
  };
  const auto check_size = [&](const char* flag, std::size_t ours, std::size_t theirs, const char* name) {
    if (given(app, flag) && ours != theirs) conflict(flag, std::to_string(ours), std::string(name) + " " + std::to_string(theirs));
  };
  const ModelSpec& spec = info.spec;
  if (given(app, "--tokens") && o.tokens != token_kind_name(info.vocabulary.kind())) {
    conflict("--tokens", o.tokens, std::string("tokens ") + token_kind_name(info.vocabulary.kind()));
  }
  if (given(app, "--model") && o.model_kind != model_kind_name(spec.kind)) {
    conflict("--model", o.model_kind, std::string("model ") + model_kind_name(spec.kind));
  }
  check_size("--context", o.model.context, spec.context(), "context");
  if (spec.kind == ModelKind::mlp) {
    const ModelConfig& c = spec.mlp;
    check_size("--embed-dim", o.model.embed_dim, c.embed_dim, "embed_dim");
    check_size("--hidden", o.model.hidden, c.hidden, "hidden");
    if (given(app, "--tie") && o.model.tie != c.tie) conflict("--tie", "", c.tie ? "tied" : "not tied");
  } else {
    const TransformerConfig& c = spec.transformer;
    check_size("--embed-dim", o.model.embed_dim, c.embed_dim, "embed_dim");
    check_size("--layers", o.transformer.layers, c.layers, "layers");
    check_size("--heads", o.transformer.heads, c.heads, "heads");
  }
  if (given(app, "--vocab-size")) throw UsageError("--vocab-size cannot change a loaded checkpoint's vocabulary; leave it out");
  if (info.training && info.has_optimizer_state && given(app, "--optimizer") &&
      o.optimizer != optimizer_kind_name(info.training->optimizer)) {
    conflict("--optimizer", o.optimizer,
             std::string("its optimizer state is ") + optimizer_kind_name(info.training->optimizer) + "'s");
  }
}

// Fills in every flag not given: the loaded checkpoint's model and training settings, else
// the model kind's defaults. Then checks the combinations.
void resolve_options(const CLI::App& app, Options& o, const CheckpointInfo* info) {
  const bool transformer = info ? info->spec.kind == ModelKind::transformer : o.model_kind == "transformer";
  o.model_kind = transformer ? "transformer" : "mlp";
  const auto flag = [&](const char* name) { return given(app, name); };
  const std::vector<const char*> mlp_only{"--hidden", "--tie"};
  const std::vector<const char*> transformer_only{"--layers", "--heads", "--dropout", "--attention-dropout"};
  for (const char* name : transformer ? mlp_only : transformer_only) {
    if (flag(name)) throw UsageError(std::string(name) + " applies to --model " + (transformer ? "mlp" : "transformer") + " only");
  }

  // Training settings: the checkpoint's where it has them, else the model's defaults.
  TrainOptions defaults;
  if (transformer) {
    defaults.steps = kTransformerSteps;
    defaults.batch = 32;
    defaults.optimizer = OptimizerKind::adamw;
    defaults.schedule = ScheduleKind::cosine;
    defaults.lr = 3e-3f;
    defaults.lr_final = 3e-4f;
    defaults.warmup = 100;
    defaults.weight_decay = 0.1f;
    defaults.clip = 1.0f;
    defaults.eval_every = 500;
    defaults.eval_windows = 512;
  }
  if (info && info->training) {
    const TrainOptions& t = *info->training;
    defaults.batch = t.batch;
    defaults.optimizer = t.optimizer;
    defaults.schedule = t.schedule;
    defaults.lr = t.lr;
    defaults.lr_final = t.lr_final;
    defaults.warmup = t.warmup;
    defaults.momentum = t.momentum;
    defaults.weight_decay = t.weight_decay;
    defaults.beta1 = t.beta1;
    defaults.beta2 = t.beta2;
    defaults.eps = t.eps;
    defaults.clip = t.clip;
  }
  TrainOptions& t = o.train;
  if (!flag("--steps")) t.steps = defaults.steps;
  if (!flag("--batch-size")) t.batch = defaults.batch;
  t.optimizer = flag("--optimizer") ? (o.optimizer == "sgd" ? OptimizerKind::sgd : OptimizerKind::adamw) : defaults.optimizer;
  t.schedule = flag("--schedule") ? (o.schedule == "linear" ? ScheduleKind::linear : ScheduleKind::cosine) : defaults.schedule;
  if (!flag("--lr")) t.lr = defaults.lr;
  if (!flag("--lr-final")) {
    // The default schedule's shape (1 -> 0.05, or 3e-3 -> 3e-4) for any --lr.
    t.lr_final = flag("--lr") ? t.lr * (defaults.lr_final / defaults.lr) : defaults.lr_final;
  }
  if (!flag("--warmup")) t.warmup = t.schedule == ScheduleKind::cosine ? defaults.warmup : 0;
  if (!flag("--momentum")) t.momentum = defaults.momentum;
  if (!flag("--weight-decay")) t.weight_decay = defaults.weight_decay;
  t.beta1 = defaults.beta1;
  t.beta2 = defaults.beta2;
  t.eps = defaults.eps;
  if (!flag("--clip")) t.clip = defaults.clip;
  if (!flag("--eval-every")) t.eval_every = defaults.eval_every;
  if (!flag("--eval-windows")) t.eval_windows = defaults.eval_windows;
  if (!flag("--threads")) {
    o.threads = transformer ? static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, kTransformerThreads)) : 1;
  }
  if (t.optimizer == OptimizerKind::adamw && t.momentum > 0.0f) {
    throw UsageError("--momentum applies to --optimizer sgd only (AdamW's betas are 0.9 and 0.99)");
  }
  if (t.schedule == ScheduleKind::linear && t.warmup > 0) throw UsageError("--warmup applies to --schedule cosine only");

  // The model.
  if (info) {
    o.spec = info->spec;
    // Dropout rates shape no parameter: given with --load, they apply to this run (and a
    // --save records them); the checkpoint's are only the defaults.
    if (transformer && flag("--dropout")) o.spec.transformer.dropout = o.transformer.dropout;
    if (transformer && flag("--attention-dropout")) o.spec.transformer.attention_dropout = o.transformer.attention_dropout;
  } else if (transformer) {
    o.spec.kind = ModelKind::transformer;
    o.spec.transformer = o.transformer;
    o.spec.transformer.context = flag("--context") ? o.model.context : 64;
    o.spec.transformer.embed_dim = flag("--embed-dim") ? o.model.embed_dim : 128;
    if (o.spec.transformer.embed_dim % o.spec.transformer.heads != 0) {
      throw UsageError("--heads " + std::to_string(o.spec.transformer.heads) + " does not divide --embed-dim " +
                       std::to_string(o.spec.transformer.embed_dim));
    }
  } else {
    if (o.model.context > static_cast<std::size_t>(lim::kMaxContext)) {
      throw UsageError("--context " + std::to_string(o.model.context) + " is more than the MLP's largest window (" +
                       std::to_string(lim::kMaxContext) + ")");
    }
    o.spec.kind = ModelKind::mlp;
    o.spec.mlp = o.model;
  }
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

int run_parsed(const CLI::App& app, Options o, std::ostream& out, std::ostream& err, bool interactive) {
  const auto start = std::chrono::steady_clock::now();
  const bool word_tokens = o.tokens == "word";
  const bool bpe_tokens = o.tokens == "bpe";
  if (given(app, "--vocab-size") && !word_tokens && !bpe_tokens && o.load.empty()) {
    throw UsageError("--vocab-size applies to --tokens word or bpe only (byte tokens always have V = 256)");
  }
  if (bpe_tokens && !given(app, "--vocab-size")) o.vocab_size = 512;
  if (bpe_tokens && !bpe::vocab_size_problem(o.vocab_size).empty()) {
    throw UsageError("--vocab-size " + std::to_string(o.vocab_size) + ": " + bpe::vocab_size_problem(o.vocab_size));
  }
  check_paths(app, o);

  // Vocabulary and model: from the checkpoint, or fresh.
  const std::string text = read_corpus(o.corpus);
  std::optional<CheckpointInfo> info;
  if (!o.load.empty()) {
    info = read_checkpoint_info(o.load);
    check_against_checkpoint(app, o, *info);
    o.train.first_step = info->step;
    o.train.sampler_state = info->sampler_state;
  }
  resolve_options(app, o, info ? &*info : nullptr);  // also the model's default --threads
  try {
    xgrad::set_num_threads(static_cast<std::size_t>(o.threads));
  } catch (const std::runtime_error& e) {
    throw UsageError("--threads " + std::to_string(o.threads) + ": " + e.what());
  }
  // A resumed run continues the saved schedule, stretched to this run's end if it goes further.
  if (!given(app, "--schedule-steps")) {
    const std::size_t planned = info && info->training ? info->training->schedule_steps : 0;
    o.train.schedule_steps = std::max(planned, o.train.first_step + o.train.steps);
  }
  if (o.train.steps > 0 && o.train.warmup >= o.train.total_schedule_steps()) {
    throw UsageError("--warmup " + std::to_string(o.train.warmup) + " leaves nothing of the schedule's " +
                     std::to_string(o.train.total_schedule_steps()) + " steps; give fewer warmup steps");
  }
  if (o.train.schedule == ScheduleKind::cosine && o.train.lr_final > o.train.lr) {
    throw UsageError("--lr-final " + std::to_string(o.train.lr_final) + " is above --lr " + std::to_string(o.train.lr) +
                     " (the cosine schedule decays)");
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
  o.spec.set_vocab(vocabulary.size());
  o.train.seed = static_cast<std::uint64_t>(o.seed);
  const std::size_t context = o.spec.context();
  const Split split = split_corpus(text, vocabulary, o.validation_fraction, context, o.corpus);

  check_model_fits(o.spec, o.train.batch);
  std::unique_ptr<LanguageModel> model_owner;
  try {
    model_owner = make_model(o.spec, o.seed);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  const LanguageModel& model = *model_owner;
  std::vector<std::int32_t> prompt_ids;
  if (!o.prompt.empty()) {
    check_text(o.prompt, "--prompt");
    prompt_ids = vocabulary.encode(o.prompt);
    if (prompt_ids.size() < model.min_context()) {
      throw UsageError("--prompt \"" + o.prompt + "\" has " + std::to_string(prompt_ids.size()) +
                       " tokens; the model's context needs at least " + std::to_string(model.min_context()));
    }
  }
  std::unique_ptr<xgrad::optim::Optimizer> optimizer;
  try {
    optimizer = make_optimizer(model.tensors(), o.train);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  RunSummary summary;
  summary.init = o.spec.kind == ModelKind::mlp
                     ? "Flax keys (Embed_0, Dense_0, Dense_1) from jax.random.PRNGKey(" + std::to_string(o.seed) + ")"
                     : "GPT-2 initialisation from jax.random.PRNGKey(" + std::to_string(o.seed) + ")";
  if (info) {
    load_checkpoint(o.load, model, *optimizer, o.allow_non_finite ? NonFinite::allow : NonFinite::refuse);
    summary.init = "loaded from " + o.load + " (step " + std::to_string(info->step) + ")";
    if (!info->has_optimizer_state && o.train.steps > 0 && !o.quiet) {
      out << "note: " << o.load << " holds no optimizer state or batch position (manifest version " << info->version
          << "): training continues from fresh optimizer state\n";
    }
  }
  summary.corpus = o.corpus;
  summary.corpus_bytes = text.size();
  summary.tokens = vocabulary.kind();
  summary.model = o.spec;
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
    out << "next_token: " << token_kind_name(vocabulary.kind()) << " tokens (V = " << o.spec.vocab() << ") from "
        << o.corpus << " (" << group(text.size()) << " bytes; " << group(split.train.size()) << " train, "
        << group(split.validation.size()) << " validation tokens"
        << (summary.unknown_tokens ? "; " + group(summary.unknown_tokens) + " <unk>" : std::string()) << ")\n";
    if (bpe_tokens && !info) {
      out << "bpe: " << vocabulary.merges().size() << " merges trained on the " << group(split.train_bytes)
          << " training bytes in " << std::lround(bpe_seconds * 1000) << " ms\n";
    }
    out << "model: " << describe(o.spec) << "; " << group(summary.parameter_count) << " parameters, " << summary.init
        << "\n";
    // Not an error: the run is right, only slower than it could be (core/threads.hpp).
    if (*xgrad::blas_core_hint()) err << "next_token: note: " << xgrad::blas_core_hint() << "\n";
    if (const char* chosen = std::getenv("XGRAD_BLAS_CORE_CHOSEN"); chosen && xgrad::blas_core() == std::string(chosen)) {
      err << "next_token: note: restarted with OPENBLAS_CORETYPE=" << chosen
          << " (OpenBLAS did not recognise this CPU and chose its slow SSE3 kernels; set the variable to override)\n";
    }
    out << "training: " << o.train.steps << " steps of " << o.train.batch << " windows";
    if (model.predictions_per_window() > 1) out << " x " << model.predictions_per_window() << " tokens";
    out << ", " << describe_training(o.train) << ", seed " << o.seed << ", " << o.threads
        << (o.threads == 1 ? " thread" : " threads") << std::endl;
  }

  ProgressPrinter progress(out, o.quiet ? ProgressPrinter::Mode::quiet
                                        : interactive ? ProgressPrinter::Mode::terminal : ProgressPrinter::Mode::log);
  std::vector<std::pair<std::string, xgrad::Tensor>> named;
  std::vector<std::string> labels;
  for (const LanguageModel::Parameter& p : model.parameters()) named.emplace_back(p.name, p.tensor);
  for (std::size_t id = 0; id < vocabulary.size(); ++id) labels.push_back(vocabulary.label(static_cast<std::int32_t>(id)));
  progress.show_bits_per_byte(split);
  StepInspector inspector(progress, o.inspect, std::move(named), std::move(labels), describe(o.spec),
                          std::max<std::size_t>(1, o.train.steps / 100));
  summary.result = train(model, *optimizer, split, o.train, inspector);
  progress.finish();

  const TrainResult& result = summary.result;
  summary.rows = check_rows(result.initial_table, model.token_table().value(), result.seen, model.dense_table_gradient());
  summary.learning_check_applies = !info && o.train.steps > 0;
  summary.learning_passed = clearly_below(summary.val_loss(), summary.initial_loss()) && !summary.diverged();

  const std::size_t last_step = o.train.first_step + result.steps;
  Rng sample_rng(stream_seed(o.train.seed, kSampleStream, last_step));
  const std::size_t length = o.sample_length                           ? o.sample_length
                             : vocabulary.kind() == TokenKind::byte ? 200
                             : vocabulary.kind() == TokenKind::bpe  ? 80
                                                                    : 40;
  // The MLP needs its whole window; the transformer starts from a short prompt, so most of
  // the sample is its own.
  const std::size_t prompt_length = model.kind() == ModelKind::mlp ? context : std::min<std::size_t>(context, 16);
  for (std::size_t i = 0; i < o.samples; ++i) {
    const std::vector<std::int32_t> prompt =
        prompt_ids.empty() ? pick_prompt(split.train, prompt_length, vocabulary.kind(), sample_rng) : prompt_ids;
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
      TrainingState state;
      state.step = last_step;
      state.seed = static_cast<std::uint64_t>(o.seed);
      state.sampler_state = result.sampler_state;
      state.training = o.train;
      state.optimizer = optimizer->state();
      save_checkpoint(o.save, model, vocabulary, state,
                      {{"val_loss", summary.val_loss()}, {"final_loss", summary.final_loss()}, {"corpus", o.corpus}});
      if (!o.quiet) out << "checkpoint: " << o.save << " (step " << last_step << ")\n";
    });
  }
  if (!o.plot.empty()) {
    write_output(write_failed, err, [&] {
      const std::vector<std::string> files =
          write_plots(o.plot, summary, vocabulary, result.initial_table, model.token_table().value());
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
  CLI::App app("next_token: train a toy language model (a context-window MLP or a small GPT over xgrad) and\n"
               "see that an embedding only moves the rows it was fed.",
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
