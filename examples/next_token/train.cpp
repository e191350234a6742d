// The training loop (sample, forward, backward, clip, optimiser step), loss evaluation and
// sampling, written once for both models through LanguageModel.
#include "train.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "models/sampling.hpp"
#include "optim/clip.hpp"
#include "optimizer_choice.hpp"

namespace next_token {

using namespace xgrad;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

constexpr std::size_t kEvalPredictions = 4096;  // predicted tokens per forward pass when measuring a loss

// Every `every` steps, and early on at every/8, every/4 and every/2, where the loss falls fastest.
bool is_eval_step(std::size_t done, std::size_t every) {
  if (every == 0) return false;
  if (done % every == 0) return true;
  return every >= 8 && done < every && (done == every / 8 || done == every / 4 || done == every / 2);
}

// The windows ending at ends[first, first + count): inputs (count, C) = tokens[e - C, e) and
// targets (count * P) = tokens[e - P + 1, e + 1), window by window.
void fill_windows(const std::vector<std::int32_t>& tokens, const std::size_t* ends, std::size_t count,
                  std::size_t context, std::size_t predictions, std::vector<std::int64_t>& inputs,
                  std::vector<std::int64_t>& targets) {
  inputs.resize(count * context);
  targets.resize(count * predictions);
  for (std::size_t b = 0; b < count; ++b) {
    const std::size_t end = ends[b];
    std::copy(tokens.begin() + static_cast<std::ptrdiff_t>(end - context),
              tokens.begin() + static_cast<std::ptrdiff_t>(end), inputs.begin() + static_cast<std::ptrdiff_t>(b * context));
    std::copy(tokens.begin() + static_cast<std::ptrdiff_t>(end + 1 - predictions),
              tokens.begin() + static_cast<std::ptrdiff_t>(end + 1),
              targets.begin() + static_cast<std::ptrdiff_t>(b * predictions));
  }
}

// The global norm of every parameter's gradient (a row-sparse one counted by its stored
// rows), as clip_grad_norm measures it, for runs without clipping.
float gradient_norm(const std::vector<Tensor>& parameters) {
  double squared = 0.0;
  for (const Tensor& p : parameters) {
    const double n = p.grad().norm();
    squared += n * n;
  }
  return static_cast<float>(std::sqrt(squared));
}

}  // namespace

TrainOptions default_training(ModelKind kind) {
  TrainOptions t;
  if (kind == ModelKind::mlp) return t;
  t.steps = 6000;
  t.batch = 32;
  t.optimizer = OptimizerKind::adamw;
  t.schedule = ScheduleKind::cosine;
  t.lr = 3e-3f;
  t.lr_final = 3e-4f;
  t.warmup = 100;
  t.weight_decay = 0.3f;
  t.clip = 1.0f;
  t.eval_every = 500;
  t.eval_windows = 512;
  return t;
}

double evaluate(const LanguageModel& model, const std::vector<std::int32_t>& tokens,
                const std::vector<std::size_t>& positions) {
  const std::size_t context = model.context();
  const std::size_t predictions = model.predictions_per_window();
  const std::size_t chunk = std::max<std::size_t>(1, kEvalPredictions / predictions);
  std::vector<std::int64_t> inputs, targets;
  double total = 0.0;
  for (std::size_t first = 0; first < positions.size(); first += chunk) {
    const std::size_t count = std::min(chunk, positions.size() - first);
    fill_windows(tokens, positions.data() + first, count, context, predictions, inputs, targets);
    Tape tape(Tape::Mode::inference);  // evaluation records nothing, allocates no gradients, drops nothing
    const Tensor loss = softmax_cross_entropy(
        tape, model.logits(tape, TokenIds(inputs, {count, context}), random::Key{}), TokenIds(targets));
    total += static_cast<double>(loss.value()()) * static_cast<double>(count);
  }
  return positions.empty() ? 0.0 : total / static_cast<double>(positions.size());
}

namespace {

// The losses at one moment on both splits: on each split's fixed evenly spaced windows, or
// (eval_batches > 0) as nanoGPT's estimate_loss, on eval_batches random batches of B windows
// drawn afresh for each measurement from a stream of their own (kEvalStream, by step), so the
// training batches stay as they were and a resumed run measures as an unbroken one.
class LossMeter {
 public:
  LossMeter(const LanguageModel& model, const Split& split, const TrainOptions& options)
      : model_(model), split_(split), options_(options),
        train_(evaluation_positions(split.train.size(), model.context(), options.eval_windows)),
        validation_(evaluation_positions(split.validation.size(), model.context(), options.eval_windows)) {}

  // `step` counts from this run's first step.
  CurvePoint measure(std::size_t step) const {
    CurvePoint point;
    point.step = options_.first_step + step;
    point.train = evaluate(model_, split_.train, positions(split_.train, train_, 2 * point.step));
    point.validation = evaluate(model_, split_.validation, positions(split_.validation, validation_, 2 * point.step + 1));
    return point;
  }

 private:
  std::vector<std::size_t> positions(const std::vector<std::int32_t>& tokens, const std::vector<std::size_t>& fixed,
                                     std::uint64_t stream) const {
    if (options_.eval_batches == 0) return fixed;
    Rng rng(stream_seed(options_.seed, kEvalStream, stream));
    const std::size_t windows = window_count(tokens.size(), model_.context());
    std::vector<std::size_t> ends(options_.eval_batches * options_.batch);
    for (std::size_t& end : ends) end = model_.context() + static_cast<std::size_t>(rng.below(windows));
    return ends;
  }

  const LanguageModel& model_;
  const Split& split_;
  const TrainOptions& options_;
  std::vector<std::size_t> train_, validation_;
};

// One step's batch: B windows drawn uniformly from the training split.
class BatchSampler {
 public:
  BatchSampler(const LanguageModel& model, const Split& split, const TrainOptions& options)
      : tokens_(split.train), context_(model.context()), predictions_(model.predictions_per_window()),
        windows_(window_count(split.train.size(), context_)), ends_(options.batch),
        rng_(options.sampler_state ? *options.sampler_state : stream_seed(options.seed, kBatchStream, options.first_step)) {}

  // Draws the next batch into inputs (B, C) and targets (B * P), marking each input id in `seen`.
  void next(std::vector<std::int64_t>& inputs, std::vector<std::int64_t>& targets, std::vector<std::uint8_t>& seen) {
    for (std::size_t& end : ends_) end = context_ + static_cast<std::size_t>(rng_.below(windows_));
    fill_windows(tokens_, ends_.data(), ends_.size(), context_, predictions_, inputs, targets);
    for (const std::int64_t id : inputs) seen[static_cast<std::size_t>(id)] = 1;
  }
  std::uint64_t state() const { return rng_.state(); }

 private:
  const std::vector<std::int32_t>& tokens_;
  std::size_t context_, predictions_, windows_;
  std::vector<std::size_t> ends_;
  Rng rng_;
};

// Forward, backward, clipping and the update; returns the batch loss (not finite: diverged,
// and nothing was updated) and sets grad_norm, the norm before clipping.
float train_step(const LanguageModel& model, optim::Optimizer& optimizer, const std::vector<Tensor>& parameters,
                 const TokenIds& inputs, const TokenIds& targets, const random::Key& dropout_key,
                 const TrainOptions& options, TrainObserver& observer, std::size_t done, float& grad_norm) {
  Tape tape;
  const Tensor loss = softmax_cross_entropy(tape, model.logits(tape, inputs, dropout_key), targets);
  const float value = loss.value()();
  if (!std::isfinite(value)) return value;  // stop before a NaN gradient reaches the parameters
  tape.backward(loss);
  observer.on_backward(done, tape);
  grad_norm = options.clip > 0.0f ? optim::clip_grad_norm(parameters, options.clip) : gradient_norm(parameters);
  optimizer.step();
  optimizer.zero_grad();
  return value;
}

}  // namespace

TrainResult train(const LanguageModel& model, optim::Optimizer& optimizer, const Split& split,
                  const TrainOptions& options, TrainObserver& observer) {
  TrainResult result;
  result.seen.assign(model.vocab(), 0);
  result.initial_table = model.token_table().value();
  result.batch_losses.reserve(options.steps);
  result.grad_norms.reserve(options.steps);
  const LossMeter meter(model, split, options);
  const Clock::time_point run_start = Clock::now();
  // Throughput of the training steps alone, and the time left at the pace of the whole run.
  const auto report = [&](std::size_t done, float grad_norm, bool eval) {
    const double rate = result.train_seconds > 0 ? static_cast<double>(result.tokens) / result.train_seconds : 0.0;
    const double eta = seconds_since(run_start) / static_cast<double>(done) * static_cast<double>(options.steps - done);
    if (!eval) observer.on_step(done, options.steps, result.batch_losses.back(), grad_norm, rate, eta);
    else observer.on_eval(result.curve.back(), done, options.steps, grad_norm, rate, eta);
  };
  result.curve.push_back(meter.measure(0));
  observer.on_eval(result.curve.back(), 0, options.steps, 0.0f, 0.0, 0.0);

  const std::vector<Tensor> parameters = model.tensors();
  const std::unique_ptr<optim::Schedule> schedule = make_schedule(options);
  const random::Key dropout_root = random::fold_in(random::prng_key(static_cast<std::int64_t>(options.seed)), kDropoutStream);
  BatchSampler sampler(model, split, options);
  std::vector<std::int64_t> inputs, targets;  // reused by every step
  const Shape input_shape{options.batch, model.context()};
  for (std::size_t step = 0; step < options.steps; ++step) {
    const Clock::time_point step_start = Clock::now();
    const std::size_t global_step = options.first_step + step;
    sampler.next(inputs, targets, result.seen);
    optimizer.set_lr(schedule->lr(global_step));
    const random::Key dropout_key = random::fold_in(dropout_root, static_cast<std::uint32_t>(global_step));
    float grad_norm = result.grad_norms.empty() ? 0.0f : result.grad_norms.back();
    const float value = train_step(model, optimizer, parameters, TokenIds(inputs, input_shape), TokenIds(targets),
                                   dropout_key, options, observer, step + 1, grad_norm);
    result.batch_losses.push_back(value);
    if (!std::isfinite(value)) {
      result.diverged = true;
      break;
    }
    result.train_seconds += seconds_since(step_start);
    result.grad_norms.push_back(grad_norm);
    ++result.steps;
    result.tokens += options.batch * model.predictions_per_window();
    report(step + 1, grad_norm, false);
    if (step + 1 == options.steps || is_eval_step(step + 1, options.eval_every)) {
      result.curve.push_back(meter.measure(step + 1));
      report(step + 1, grad_norm, true);
    }
  }
  if (result.diverged || result.curve.back().step != options.first_step + result.steps) {
    result.curve.push_back(meter.measure(result.steps));
  }
  result.sampler_state = sampler.state();
  return result;
}

std::vector<std::int32_t> generate(const LanguageModel& model, const std::vector<std::int32_t>& prompt,
                                   std::size_t length, double temperature, Rng& rng) {
  const std::size_t context = model.context();
  const std::size_t vocab = model.vocab();
  if (prompt.size() < model.min_context()) {
    throw std::invalid_argument("generate: the prompt has " + std::to_string(prompt.size()) +
                                " tokens, the model needs " + std::to_string(model.min_context()));
  }
  std::vector<std::int32_t> ids = prompt;
  std::vector<std::int64_t> window;
  std::vector<double> weights(vocab);
  for (std::size_t k = 0; k < length; ++k) {
    const std::size_t seen = std::min(context, ids.size());
    window.assign(ids.end() - static_cast<std::ptrdiff_t>(seen), ids.end());
    Tape tape(Tape::Mode::inference);
    const Tensor logits = model.logits(tape, TokenIds(window, {1, seen}), random::Key{});
    const float* z = logits.value().data() + (logits.shape()[0] - 1) * vocab;  // the last position's row
    // The generator advances only when sampling: greedy decoding leaves its state as it was.
    const double u = temperature > 0.0 ? rng.uniform() : 0.0;
    const std::size_t pick = models::sample_token(z, vocab, temperature, u, weights);
    ids.push_back(static_cast<std::int32_t>(pick));
  }
  return ids;
}

}  // namespace next_token
