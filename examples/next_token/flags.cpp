// Flags, --config FILE and --load DIR into one RunConfig, and the checks of their
// combinations (flags.hpp).
#include "flags.hpp"

#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include "bpe.hpp"
#include "common/numbers.hpp"
#include "limits.hpp"
#include "optimizer_choice.hpp"
#include "output_paths.hpp"

namespace next_token {
namespace {

namespace lim = limits;

// Finite and within [lo, hi]; CLI::Range lets NaN through.
CLI::Validator finite_range(double lo, double hi) {
  const std::string range = "[" + CLI::detail::to_string(lo) + ", " + CLI::detail::to_string(hi) + "]";
  return CLI::Validator(
      [lo, hi, range](std::string& input) -> std::string {
        double value = 0.0;
        if (!CLI::detail::lexical_cast(input, value)) return "not a number: " + input;
        if (!std::isfinite(value) || value < lo || value > hi) return "value " + input + " is not in " + range;
        return {};
      },
      "in " + range);
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

// One of `names`, handed on as its index: the enum's value (the names are in enum order).
CLI::Validator one_of(const std::vector<std::string>& names) {
  std::string set;
  for (const std::string& name : names) set += (set.empty() ? "{" : ",") + name;
  set += "}";
  return CLI::Validator(
      [names, set](std::string& input) -> std::string {
        for (std::size_t i = 0; i < names.size(); ++i) {
          if (input == names[i]) return input = std::to_string(i), std::string();
        }
        return input + " not in " + set;
      },
      set);
}

bool given(const CLI::App& app, const char* flag) { return app.get_option(flag)->count() > 0; }

void add_data_flags(CLI::App& app, RunConfig& c) {
  app.add_option("--corpus", c.corpus, "UTF-8 text file to train on, at most 1 GiB (1073741824 bytes); checked as it is read")
      ->default_str("examples/data/genesis_kjv.txt (shipped: Genesis, KJV)");
  app.add_option("--tokens", c.tokens, "byte: V = 256 byte values; word: the corpus's words (whitespace-"
                                       "separated, punctuation split off), id 0 = <unk>; bpe: byte-level BPE "
                                       "(minbpe's merges) trained on the training split; char: the corpus's "
                                       "characters (code points) in order, as nanoGPT's shakespeare_char")
      ->type_name("TEXT")->transform(one_of({"byte", "word", "bpe", "char"}))->default_str("byte");
  app.add_option("--vocab-size", c.vocab_size, "with --tokens word: V at most this, <unk> included "
                                               "(the most frequent words; ties in byte order); with --tokens bpe: "
                                               "V exactly, in [256, 65536] (default 512)")
      ->transform(whole_number(lim::kMinVocab, lim::kMaxVocab));
  app.add_option("--validation-fraction", c.validation_fraction, "share of the corpus (its end) held out for validation")
      ->check(finite_range(0.01, 0.5));
}

// --context, --embed-dim and --tie are shared: they fill the fields of the kind being planned.
void add_model_flags(CLI::App& app, RunConfig& c) {
  const bool mlp = c.spec.kind == ModelKind::mlp;
  TransformerConfig& gpt = c.spec.transformer;
  app.add_option("--model", c.spec.kind, "mlp: the context-window MLP; transformer: a pre-norm GPT (GPT-2 layout)")
      ->type_name("TEXT")->transform(one_of({"mlp", "transformer"}))->default_str("mlp");
  app.add_option("--context", mlp ? c.spec.mlp.context : gpt.context,
                 "C: previous tokens the MLP sees (1 with --hidden 0 is the bigram model, at most 64); the "
                 "transformer's block size T")
      ->transform(whole_number(1, lim::kMaxBlock))->default_str("3 (mlp), 64 (transformer)");
  app.add_option("--embed-dim", mlp ? c.spec.mlp.embed_dim : gpt.embed_dim,
                 "D: embedding width (the transformer's residual width C)")
      ->transform(whole_number(1, lim::kMaxEmbedDim))->default_str("16 (mlp), 128 (transformer)");
  app.add_option("--hidden", c.spec.mlp.hidden, "mlp: H, width of the tanh layer; 0 for none")
      ->transform(whole_number(0, lim::kMaxHidden));
  app.add_flag("--tie", mlp ? c.spec.mlp.tie : c.spec.transformer.tie,
               "tie weights: the output layer is the token table (mlp: Embed.attend, the table scores every next "
               "token; transformer: the head is wte, as nanoGPT's); default: off");
  app.add_flag_callback("--no-bias", [&c] { c.spec.transformer.bias = false; },
                        "transformer: Linear and LayerNorm without biases, as nanoGPT's bias = False; default: off");
  app.add_option("--layers", gpt.layers, "transformer: L, blocks (attention + MLP, pre-norm)")
      ->transform(whole_number(1, lim::kMaxLayers));
  app.add_option("--heads", gpt.heads, "transformer: H, attention heads (must divide --embed-dim)")
      ->transform(whole_number(1, lim::kMaxHeads));
  app.add_option("--dropout", gpt.dropout, "transformer: dropout rate after attention and in the residual branches")
      ->check(finite_range(0.0, 0.9));
  app.add_option("--attention-dropout", gpt.attention_dropout,
                 "transformer: dropout rate on the attention weights softmax(q k^T / sqrt(hs)), as nanoGPT's attn_dropout")
      ->check(finite_range(0.0, 0.9));
}

void add_schedule_flags(CLI::App& app, TrainOptions& t) {
  app.add_option("--optimizer", t.optimizer, "sgd (momentum, weight decay) or adamw (betas 0.9/0.99, eps 1e-8, decoupled "
                                             "weight decay on 2-D weights); both lazy on the token table's rows")
      ->type_name("TEXT")->transform(one_of({"sgd", "adamw"}))->default_str("sgd (mlp), adamw (transformer)");
  app.add_option("--schedule", t.schedule, "linear: lr -> lr-final in a straight line; cosine: --warmup steps up to lr, "
                                           "then a half cosine down to lr-final")
      ->type_name("TEXT")->transform(one_of({"linear", "cosine"}))->default_str("linear (mlp), cosine (transformer)");
  app.add_option("--lr", t.lr, "learning rate at the first step (after warmup)")
      ->check(finite_range(1e-9, 1e3))->default_str("1 (mlp), 0.003 (transformer)");
  app.add_option("--lr-final", t.lr_final, "learning rate at the last step (only --lr given: a twentieth of it "
                                           "(mlp), a tenth (transformer))")
      ->check(finite_range(0.0, 1e3))->default_str("0.05 (mlp), 0.0003 (transformer)");
  app.add_option("--warmup", t.warmup, "cosine schedule: steps of linear warmup from lr/warmup to lr")
      ->transform(whole_number(0, lim::kMaxSteps))->default_str("0 (mlp), 100 (transformer)");
  app.add_option("--schedule-steps", t.schedule_steps, "steps the schedule spans, counted from the model's first "
                                                       "step: give the planned total to train it in parts with "
                                                       "--save/--load (0: this run's last step, or the loaded one's plan)")
      ->transform(whole_number(0, lim::kMaxTotalSteps))->default_str("0");
  app.add_option("--momentum", t.momentum, "SGD momentum, in [0, 1) (lazy on the table's rows)")
      ->check(finite_range(0.0, 0.999));
  app.add_option("--weight-decay", t.weight_decay, "SGD: weight decay in the gradient; AdamW: decoupled, on 2-D "
                                                   "weights only (both lazy on the table's rows)")
      ->check(finite_range(0.0, 1.0))->default_str("0 (mlp), 0.3 (transformer)");
  app.add_option("--clip", t.clip, "clip the global gradient norm to this (0: no clipping; the norm is shown either way)")
      ->check(finite_range(0.0, 1e6))->default_str("0 (mlp), 1 (transformer)");
}

void add_training_flags(CLI::App& app, RunConfig& c) {
  TrainOptions& t = c.train;
  app.add_option("--steps", t.steps, "training steps; 0 only evaluates and samples (e.g. with --load)")
      ->transform(whole_number(0, lim::kMaxSteps))->default_str("8000 (mlp), 6000 (transformer)");
  app.add_option("--batch-size", t.batch, "B: windows per step (B predicted tokens for the MLP, B x T for the transformer)")
      ->transform(whole_number(1, lim::kMaxBatch))->default_str("256 (mlp), 32 (transformer)");
  add_schedule_flags(app, t);
  app.add_option("--eval-every", t.eval_every, "steps between loss measurements, plus early ones at 1/8, 1/4 and 1/2 "
                                               "of it (0: only at start and end)")
      ->transform(whole_number(0, lim::kMaxSteps))->default_str("1000 (mlp), 500 (transformer)");
  app.add_option("--eval-windows", t.eval_windows, "windows of each split a loss is measured on (evenly spaced; "
                                                   "the transformer's predict T tokens each)")
      ->transform(whole_number(1, 100000000))->default_str("20000 (mlp), 512 (transformer)");
  app.add_option("--eval-batches", t.eval_batches, "measure a loss as nanoGPT estimates it instead: on this many "
                                                   "random batches of --batch-size windows per split, drawn afresh "
                                                   "each time (0: the evenly spaced --eval-windows)")
      ->transform(whole_number(0, 100000))->default_str("0");
  app.add_option("--seed", t.seed, "seed of the whole run: parameters (jax.random.PRNGKey(seed), Flax's keys), "
                                   "batches and samples")
      ->transform(whole_number(0, lim::kMaxSeed))->default_str("0");
  app.add_option("--threads", c.threads, "threads for xgrad's own loops (results are bit-identical for any count; more "
                                         "than the system lets start is an error)")
      ->transform(whole_number(1, 256))->default_str("1 (mlp), 2 or the CPUs there are (transformer)");
}

void add_output_flags(CLI::App& app, RunConfig& c) {
  app.add_option("--samples", c.samples, "texts generated at the end")->transform(whole_number(0, 100));
  app.add_option("--sample-length", c.sample_length, "tokens per sample; 0: 200 bytes or characters, 40 words or "
                                                     "80 BPE tokens")
      ->transform(whole_number(0, 100000));
  app.add_option("--temperature", c.temperature, "sampling temperature; 0 always picks the likeliest token")
      ->check(finite_range(0.0, 100.0));
  app.add_option("--prompt", c.prompt, "text each sample starts from (at least C tokens); default: a line of the "
                                       "training text");
  app.add_option("--json", c.json, "write a machine-readable summary to FILE; default: none")->type_name("FILE");
  app.add_option("--plot", c.plot, "write loss.svg and embedding_rows.svg into DIR; default: none")->type_name("DIR");
  app.add_option("--save", c.save, "save a checkpoint into DIR (.npy per parameter + manifest.json); default: none")
      ->type_name("DIR");
  app.add_option("--load", c.load, "start from the checkpoint in DIR (resume, or sample with --steps 0); model-size "
                 "flags given must match it, training and dropout flags given override it; a manifest asking for "
                 "more than 2^31 parameters is refused; default: none")->type_name("DIR");
  app.add_flag("--allow-non-finite", c.allow_non_finite, "with --load: accept a checkpoint whose parameters hold "
                                                         "NaN or inf (to inspect it); default: off");
  add_inspect_flags(app, c.inspect);
  app.add_flag("-q,--quiet", c.quiet, "no progress or samples: only the closing summary; default: off");
}

void build_parser(CLI::App& app, RunConfig& c) {
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
      "  next_token --model transformer               a 4-block GPT on the same text (AdamW, cosine)\n"
      "  next_token --tokens word --steps 3000 --plot plots --save ckpt\n"
      "  next_token --load ckpt --steps 0 --samples 5 --temperature 0.6");
  app.set_config("--config", "", "read flags from FILE, TOML: one `flag = value` a line, the long flag without its "
                                 "dashes (lr = 0.001, no-bias = true); flags on the command line win; default: none")
      ->type_name("FILE");
  app.allow_config_extras(CLI::config_extras_mode::error);
  add_data_flags(app, c);
  add_model_flags(app, c);
  add_training_flags(app, c);
  add_output_flags(app, c);
}

// CLI11 says "INI was not able to parse lr_typo" for a key that names no flag.
void parse(CLI::App& app, int argc, const char* const* argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ConfigError& e) {
    const std::string prefix = "INI was not able to parse ";
    const std::string what = e.what();
    if (what.rfind(prefix, 0) != 0) throw;
    throw UsageError("--config " + app.get_option("--config")->as<std::string>() + ": \"" + what.substr(prefix.size()) +
                     "\" is not a flag (a key is a long flag without its dashes, e.g. lr = 0.001)");
  }
}

// Paths are checked before training, so a typo or a clash does not cost a whole run.
void check_paths(const CLI::App& app, const RunConfig& c) {
  const std::pair<const char*, const std::string&> paths[] = {
      {"--corpus", c.corpus}, {"--load", c.load}, {"--json", c.json}, {"--plot", c.plot}, {"--save", c.save}};
  for (const auto& [flag, value] : paths) {
    if (given(app, flag) && value.empty()) throw UsageError(std::string(flag) + " was given an empty path");
  }
  try {
    check_run_paths({c.corpus, c.load, c.json, c.plot, c.save});
  } catch (const OutputPathError& e) {
    throw UsageError(e.what());
  }
}

// With --load, model flags given must agree with the checkpoint: the plan started from its
// settings, so a field that differs now is a flag that asked for something else.
void check_against_checkpoint(const CLI::App& app, const RunConfig& c, const CheckpointInfo& info) {
  const auto conflict = [&](const char* flag, const std::string& ours, const std::string& theirs) {
    throw UsageError(std::string(flag) + (ours.empty() ? "" : " " + ours) + " conflicts with the checkpoint in " +
                     c.load + " (" + theirs + "); leave it out when loading");
  };
  const auto same_size = [&](const char* flag, std::size_t ours, std::size_t theirs, const char* name) {
    if (ours != theirs) conflict(flag, std::to_string(ours), std::string(name) + " " + std::to_string(theirs));
  };
  if (c.tokens != info.vocabulary.kind()) {
    conflict("--tokens", token_kind_name(c.tokens), std::string("tokens ") + token_kind_name(info.vocabulary.kind()));
  }
  if (c.spec.kind != info.spec.kind) {
    conflict("--model", model_kind_name(c.spec.kind), std::string("model ") + model_kind_name(info.spec.kind));
  }
  const bool mlp = info.spec.kind == ModelKind::mlp;
  same_size("--context", c.spec.context(), info.spec.context(), "context");
  same_size("--embed-dim", mlp ? c.spec.mlp.embed_dim : c.spec.transformer.embed_dim,
            mlp ? info.spec.mlp.embed_dim : info.spec.transformer.embed_dim, "embed_dim");
  same_size("--hidden", c.spec.mlp.hidden, info.spec.mlp.hidden, "hidden");
  same_size("--layers", c.spec.transformer.layers, info.spec.transformer.layers, "layers");
  same_size("--heads", c.spec.transformer.heads, info.spec.transformer.heads, "heads");
  const bool tied = mlp ? info.spec.mlp.tie : info.spec.transformer.tie;
  if ((mlp ? c.spec.mlp.tie : c.spec.transformer.tie) != tied) conflict("--tie", "", tied ? "tied" : "not tied");
  if (c.spec.transformer.bias != info.spec.transformer.bias) conflict("--no-bias", "", "with biases");
  if (given(app, "--vocab-size")) throw UsageError("--vocab-size cannot change a loaded checkpoint's vocabulary; leave it out");
  if (info.training && info.has_optimizer_state && c.train.optimizer != info.training->optimizer) {
    conflict("--optimizer", optimizer_kind_name(c.train.optimizer),
             std::string("its optimizer state is ") + optimizer_kind_name(info.training->optimizer) + "'s");
  }
}

// Defaults that follow from other flags given.
void derive_defaults(const CLI::App& app, RunConfig& c, const RunConfig& base) {
  TrainOptions& t = c.train;
  // The default schedule's shape (1 -> 0.05, or 3e-3 -> 3e-4) for any --lr.
  if (given(app, "--lr") && !given(app, "--lr-final")) t.lr_final = t.lr * (base.train.lr_final / base.train.lr);
  if (!given(app, "--warmup") && t.schedule == ScheduleKind::linear) t.warmup = 0;
  if (c.tokens == TokenKind::bpe && !given(app, "--vocab-size")) c.vocab_size = 512;
  // A resumed run continues the saved schedule, stretched to this run's end if it goes further.
  if (!given(app, "--schedule-steps")) t.schedule_steps = std::max(t.schedule_steps, t.first_step + t.steps);
}

void check_kind_flags(const CLI::App& app, const RunConfig& c) {
  const bool transformer = c.spec.kind == ModelKind::transformer;
  const std::vector<const char*> mlp_only{"--hidden"};
  const std::vector<const char*> transformer_only{"--layers", "--heads", "--dropout", "--attention-dropout", "--no-bias"};
  for (const char* name : transformer ? mlp_only : transformer_only) {
    if (given(app, name)) {
      throw UsageError(std::string(name) + " applies to --model " + (transformer ? "mlp" : "transformer") + " only");
    }
  }
  if (transformer && c.spec.transformer.embed_dim % c.spec.transformer.heads != 0) {
    throw UsageError("--heads " + std::to_string(c.spec.transformer.heads) + " does not divide --embed-dim " +
                     std::to_string(c.spec.transformer.embed_dim));
  }
  if (!transformer && c.spec.mlp.context > static_cast<std::size_t>(lim::kMaxContext)) {
    throw UsageError("--context " + std::to_string(c.spec.mlp.context) + " is more than the MLP's largest window (" +
                     std::to_string(lim::kMaxContext) + ")");
  }
}

void check_training(const CLI::App& app, const RunConfig& c) {
  const TrainOptions& t = c.train;
  if (given(app, "--eval-windows") && t.eval_batches > 0) {
    throw UsageError("--eval-windows and --eval-batches are two ways to measure a loss; give one");
  }
  if (t.optimizer == OptimizerKind::adamw && t.momentum > 0.0f) {
    throw UsageError("--momentum applies to --optimizer sgd only (AdamW's betas are 0.9 and 0.99)");
  }
  if (t.schedule == ScheduleKind::linear && t.warmup > 0) throw UsageError("--warmup applies to --schedule cosine only");
  if (t.steps > 0 && t.warmup >= t.total_schedule_steps()) {
    throw UsageError("--warmup " + std::to_string(t.warmup) + " leaves nothing of the schedule's " +
                     std::to_string(t.total_schedule_steps()) + " steps; give fewer warmup steps");
  }
  if (t.schedule == ScheduleKind::cosine && t.lr_final > t.lr) {
    throw UsageError("--lr-final " + std::to_string(t.lr_final) + " is above --lr " + std::to_string(t.lr) +
                     " (the cosine schedule decays)");
  }
}

void check_vocab_size(const CLI::App& app, const RunConfig& c) {
  const bool sized = c.tokens == TokenKind::word || c.tokens == TokenKind::bpe;
  if (given(app, "--vocab-size") && !sized && c.load.empty()) {
    throw UsageError("--vocab-size applies to --tokens word or bpe only (byte tokens always have V = 256, "
                     "char tokens the corpus's characters)");
  }
  if (c.tokens == TokenKind::bpe && c.load.empty() && !bpe::vocab_size_problem(c.vocab_size).empty()) {
    throw UsageError("--vocab-size " + std::to_string(c.vocab_size) + ": " + bpe::vocab_size_problem(c.vocab_size));
  }
}

}  // namespace

Plan plan_run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App first("next_token: train a toy language model (a context-window MLP or a small GPT over xgrad) and\n"
                 "see that an embedding only moves the rows it was fed.",
                 "next_token");
  RunConfig scratch = default_config(ModelKind::mlp);
  build_parser(first, scratch);
  Plan plan;
  try {
    parse(first, argc, argv);
  } catch (const CLI::CallForHelp& e) {
    first.exit(e, out, err);
    plan.help = true;
    return plan;
  }
  check_paths(first, scratch);
  if (!scratch.load.empty()) plan.checkpoint = read_checkpoint_info(scratch.load);
  const RunConfig base = plan.checkpoint ? checkpoint_config(*plan.checkpoint) : default_config(scratch.spec.kind);

  CLI::App app;
  plan.config = base;
  build_parser(app, plan.config);
  parse(app, argc, argv);
  if (plan.checkpoint) check_against_checkpoint(app, plan.config, *plan.checkpoint);
  check_kind_flags(app, plan.config);
  derive_defaults(app, plan.config, base);
  check_vocab_size(app, plan.config);
  check_training(app, plan.config);
  return plan;
}

}  // namespace next_token
