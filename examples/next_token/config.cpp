// A run's defaults, from the model kind or a checkpoint, and its resolved form (config.hpp).
#include "config.hpp"

#include <algorithm>
#include <thread>

#include "common/numbers.hpp"
#include "optimizer_choice.hpp"

namespace next_token {

namespace {

// The transformer's products and attention are large enough to share: two threads ran its
// step faster than one on this 2-core machine (bench/RESULTS.md). The MLP's are not.
constexpr unsigned kTransformerThreads = 2;

}  // namespace

RunConfig default_config(ModelKind kind) {
  RunConfig c;
  c.spec.kind = kind;
  // Four blocks and (train.cpp) 6,000 steps with weight decay 0.3: the best validation on
  // the shipped Genesis of the runs in bench/RESULTS.md that fit in 10 minutes on 2 cores.
  c.spec.transformer.layers = 4;
  c.spec.transformer.dropout = 0.2f;
  c.spec.transformer.attention_dropout = 0.2f;
  c.train = default_training(kind);
  if (kind == ModelKind::transformer) {
    c.threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, kTransformerThreads));
  }
  return c;
}

RunConfig checkpoint_config(const CheckpointInfo& checkpoint) {
  RunConfig c = default_config(checkpoint.spec.kind);
  c.tokens = checkpoint.vocabulary.kind();
  c.spec = checkpoint.spec;
  // The saved hyperparameters, with this kind's run length and evaluation (never saved).
  if (checkpoint.training) c.train = *checkpoint.training;
  c.train.first_step = checkpoint.step;
  c.train.sampler_state = checkpoint.sampler_state;
  return c;
}

nlohmann::json config_json(const RunConfig& c) {
  using examples::shortest_double;
  const TrainOptions& t = c.train;
  const bool mlp = c.spec.kind == ModelKind::mlp;
  nlohmann::json j{
      {"corpus", c.corpus}, {"tokens", token_kind_name(c.tokens)},
      {"validation-fraction", c.validation_fraction}, {"model", model_kind_name(c.spec.kind)},
      {"context", c.spec.context()}, {"embed-dim", mlp ? c.spec.mlp.embed_dim : c.spec.transformer.embed_dim},
      {"tie", mlp ? c.spec.mlp.tie : c.spec.transformer.tie},
      {"steps", t.steps}, {"batch-size", t.batch}, {"optimizer", optimizer_kind_name(t.optimizer)},
      {"schedule", schedule_kind_name(t.schedule)}, {"lr", shortest_double(t.lr)},
      {"lr-final", shortest_double(t.lr_final)}, {"warmup", t.warmup}, {"schedule-steps", t.total_schedule_steps()},
      {"momentum", shortest_double(t.momentum)}, {"weight-decay", shortest_double(t.weight_decay)},
      {"clip", shortest_double(t.clip)}, {"eval-every", t.eval_every}, {"eval-batches", t.eval_batches},
      {"seed", t.seed}, {"threads", c.threads}, {"samples", c.samples}, {"sample-length", c.sample_length},
      {"temperature", c.temperature}, {"prompt", c.prompt}};
  if (mlp) {
    j["hidden"] = c.spec.mlp.hidden;
  } else {
    const TransformerConfig& g = c.spec.transformer;
    j.update({{"layers", g.layers}, {"heads", g.heads}, {"dropout", shortest_double(g.dropout)},
              {"attention-dropout", shortest_double(g.attention_dropout)}, {"no-bias", !c.spec.transformer.bias}});
  }
  if (t.eval_batches == 0) j["eval-windows"] = t.eval_windows;  // else unused (flags.cpp refuses both)
  // Byte and character vocabularies have no size to choose.
  if (c.tokens == TokenKind::word || c.tokens == TokenKind::bpe) j["vocab-size"] = c.vocab_size;
  if (!c.load.empty()) j["load"] = c.load;
  return j;
}

}  // namespace next_token
