// Training, evaluation and sampling for either toy language model (language_model.hpp):
// mini-batches of windows, an optimiser (SGD or AdamW, optimizer_choice.hpp) on a
// learning-rate schedule, optional global-norm clipping, losses measured on fixed evenly
// spaced windows (or on random batches, as nanoGPT estimates them), and temperature sampling. Not an experiment framework: one run, one
// model, in memory. Shapes: B windows per batch, C ids read per window, P predictions per
// window (1 for the MLP, C for the transformer), V vocabulary; losses are mean nats per
// predicted token.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "corpus.hpp"
#include "language_model.hpp"
#include "optim/optimizer.hpp"

namespace next_token {

enum class OptimizerKind { sgd, adamw };
enum class ScheduleKind { linear, cosine };

struct TrainOptions {
  std::size_t steps = 8000;
  std::size_t batch = 256;           // B windows per step (B * P predicted tokens)
  OptimizerKind optimizer = OptimizerKind::sgd;
  ScheduleKind schedule = ScheduleKind::linear;
  float lr = 1.0f;                   // learning rate at the first step (after warmup)...
  float lr_final = 0.05f;            // ...decaying (linearly, or by a half cosine) to this at the last one
  std::size_t warmup = 0;            // cosine: steps of linear warmup to lr first
  std::size_t schedule_steps = 0;    // steps the schedule spans, counted from the model's first
                                     // step ever; 0: first_step + steps (this run ends it)
  float momentum = 0.0f;             // SGD momentum (lazy on the table's sparse rows)
  float weight_decay = 0.0f;         // SGD: L2 in the gradient; AdamW: decoupled, 2-D weights only
  float beta1 = 0.9f, beta2 = 0.99f, eps = 1e-8f;  // AdamW
  float clip = 0.0f;                 // global gradient norm limit; 0: no clipping
  std::size_t eval_every = 1000;     // steps between loss measurements, plus 3 early ones (0: start and end only)
  std::size_t eval_windows = 20000;  // windows of each split a loss is measured on, evenly spaced...
  std::size_t eval_batches = 0;      // ...or, when not 0, this many random batches of B windows per split
                                     // (nanoGPT's estimate_loss with eval_iters = eval_batches)
  std::uint64_t seed = 0;            // batches come from stream_seed(seed, kBatchStream), dropout from the seed's key
  std::size_t first_step = 0;        // steps the model has already taken (a resumed checkpoint)
  // The batch generator's state where a checkpoint left it; none: a fresh stream for first_step.
  std::optional<std::uint64_t> sampler_state;

  std::size_t total_schedule_steps() const { return schedule_steps ? schedule_steps : first_step + steps; }
};

// The defaults for `kind`: the above for the MLP; for the transformer AdamW 3e-3 -> 3e-4 on a
// cosine with 100 warmup steps, weight decay 0.3, clipping at 1, B = 32, 6000 steps, a loss
// every 500 on 512 windows (README.md, next_token, has the runs behind them).
TrainOptions default_training(ModelKind kind);

// Stream purposes for stream_seed.
constexpr std::uint64_t kBatchStream = 1;
constexpr std::uint64_t kSampleStream = 2;
constexpr std::uint32_t kDropoutStream = 3;
constexpr std::uint64_t kEvalStream = 4;  // --eval-batches: offset 2 * step for train, 2 * step + 1 for validation

// Losses at one moment: step counts from the model's first step ever.
struct CurvePoint {
  std::size_t step = 0;
  double train = 0.0;
  double validation = 0.0;
};

struct TrainResult {
  std::vector<float> batch_losses;  // the loss of each step's batch, in order
  std::vector<float> grad_norms;    // each step's global gradient norm, before clipping
  std::vector<CurvePoint> curve;    // before the first step, every eval_every steps, after the last
  std::size_t steps = 0;            // steps taken (fewer than asked when training diverged)
  std::size_t tokens = 0;           // tokens predicted in training: steps * B * P
  double train_seconds = 0.0;       // wall time of the training steps alone (no evaluation)
  bool diverged = false;            // a batch loss was NaN or infinite; training stopped there
  std::vector<std::uint8_t> seen;   // seen[id] = 1 when id was fed as input in some step
  xgrad::Array initial_table;       // the token table before the first step
  std::uint64_t sampler_state = 0;  // the batch generator after the last step (for a checkpoint)
};

// What a training run reports while it runs (progress lines, logs).
class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  // After each step: steps done in this run, of `total`, the batch loss, the gradient norm
  // before clipping, and throughput.
  virtual void on_step(std::size_t /*done*/, std::size_t /*total*/, float /*loss*/, float /*grad_norm*/,
                       double /*tokens_per_second*/, double /*eta_seconds*/) {}
  virtual void on_eval(const CurvePoint& /*point*/, std::size_t /*done*/, std::size_t /*total*/,
                       float /*grad_norm*/, double /*tokens_per_second*/, double /*eta_seconds*/) {}
  // After backward and before the update, with the step's tape (--graph, --stats).
  virtual void on_backward(std::size_t /*done*/, const xgrad::Tape& /*tape*/) {}
};

// Trains `model` in place on split.train with `optimizer` (built over model.tensors(), its
// state already loaded when resuming), measuring both splits as TrainOptions says.
TrainResult train(const LanguageModel& model, xgrad::optim::Optimizer& optimizer, const Split& split,
                  const TrainOptions& options, TrainObserver& observer);

// Mean loss over every token predicted by the windows whose last token is at `positions`
// (indices into `tokens`, each >= C).
double evaluate(const LanguageModel& model, const std::vector<std::int32_t>& tokens,
                const std::vector<std::size_t>& positions);

// `prompt` (at least min_context() ids) followed by `length` sampled ids, each from the
// last C ids at most. temperature 0 picks the most likely id; otherwise ids are drawn from
// softmax(logits / temperature).
std::vector<std::int32_t> generate(const LanguageModel& model, const std::vector<std::int32_t>& prompt,
                                   std::size_t length, double temperature, Rng& rng);

}  // namespace next_token
