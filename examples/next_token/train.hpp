// Training, evaluation and sampling for the toy language model: plain mini-batch SGD with a
// linearly decaying learning rate, losses measured on fixed evenly spaced windows, and
// temperature sampling. Not an experiment framework: one run, one model, in memory.
// Shapes: B windows per batch, C context, V vocabulary; losses are mean nats per token.
#pragma once

#include <cstdint>
#include <vector>

#include "corpus.hpp"
#include "model.hpp"

namespace next_token {

struct TrainOptions {
  std::size_t steps = 8000;
  std::size_t batch = 256;           // B windows (= predicted tokens) per step
  float lr = 1.0f;                   // learning rate at the first step...
  float lr_final = 0.05f;            // ...decaying linearly to this at the last one
  float momentum = 0.0f;             // SGD momentum (lazy on the table's sparse rows)
  float weight_decay = 0.0f;         // SGD weight decay (lazy on the table's sparse rows)
  std::size_t eval_every = 1000;     // steps between loss measurements, plus 3 early ones (0: start and end only)
  std::size_t eval_windows = 20000;  // windows of each split a loss is measured on
  std::uint64_t seed = 0;            // batches come from stream_seed(seed, kBatches, first_step)
  std::size_t first_step = 0;        // steps the model has already taken (a resumed checkpoint)
};

// Stream purposes for stream_seed.
constexpr std::uint64_t kBatchStream = 1;
constexpr std::uint64_t kSampleStream = 2;

// Losses at one moment: step counts from the model's first step ever.
struct CurvePoint {
  std::size_t step = 0;
  double train = 0.0;
  double validation = 0.0;
};

struct TrainResult {
  std::vector<float> batch_losses;  // the loss of each step's batch, in order
  std::vector<CurvePoint> curve;    // before the first step, every eval_every steps, after the last
  std::size_t steps = 0;            // steps taken (fewer than asked when training diverged)
  std::size_t tokens = 0;           // tokens predicted in training: steps * batch
  double train_seconds = 0.0;       // wall time of the training steps alone (no evaluation)
  bool diverged = false;            // a batch loss was NaN or infinite; training stopped there
  std::vector<std::uint8_t> seen;   // seen[id] = 1 when id was fed as input in some step
  xgrad::Array initial_table;       // the embedding table before the first step
};

// What a training run reports while it runs (progress lines, logs).
class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  // After each step: steps done in this run, of `total`, the batch loss, and throughput.
  virtual void on_step(std::size_t /*done*/, std::size_t /*total*/, float /*loss*/,
                       double /*tokens_per_second*/, double /*eta_seconds*/) {}
  virtual void on_eval(const CurvePoint& /*point*/, std::size_t /*done*/, std::size_t /*total*/,
                       double /*tokens_per_second*/, double /*eta_seconds*/) {}
  // After backward and before the update, with the step's tape (--graph, --stats).
  virtual void on_backward(std::size_t /*done*/, const xgrad::Tape& /*tape*/) {}
};

// Trains `model` in place on split.train, measuring both splits as TrainOptions says.
TrainResult train(const Model& model, const Split& split, const TrainOptions& options, TrainObserver& observer);

// Mean loss of `model` over the windows ending at `positions` (indices of targets in `tokens`).
double evaluate(const Model& model, const std::vector<std::int32_t>& tokens, const std::vector<std::size_t>& positions);

// `prompt` (at least C ids) followed by `length` sampled ids. temperature 0 picks the most
// likely id; otherwise ids are drawn from softmax(logits / temperature).
std::vector<std::int32_t> generate(const Model& model, const std::vector<std::int32_t>& prompt, std::size_t length,
                                   double temperature, Rng& rng);

}  // namespace next_token
