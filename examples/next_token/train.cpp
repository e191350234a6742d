// The training loop (sample, forward, backward, SGD step), loss evaluation and sampling.
#include "train.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

namespace next_token {

using namespace xgrad;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

constexpr std::size_t kEvalChunk = 1024;  // windows per forward pass when measuring a loss

// Every `every` steps, and early on at every/8, every/4 and every/2, where the loss falls fastest.
bool is_eval_step(std::size_t done, std::size_t every) {
  if (every == 0) return false;
  if (done % every == 0) return true;
  return every >= 8 && done < every && (done == every / 8 || done == every / 4 || done == every / 2);
}

}  // namespace

double evaluate(const Model& model, const std::vector<std::int32_t>& tokens, const std::vector<std::size_t>& positions) {
  const std::size_t context = model.config().context;
  std::vector<std::int64_t> contexts, targets;
  double total = 0.0;
  for (std::size_t first = 0; first < positions.size(); first += kEvalChunk) {
    const std::size_t count = std::min(kEvalChunk, positions.size() - first);
    contexts.resize(count * context);
    targets.resize(count);
    for (std::size_t b = 0; b < count; ++b) {
      const std::size_t target = positions[first + b];
      for (std::size_t c = 0; c < context; ++c) contexts[b * context + c] = tokens[target - context + c];
      targets[b] = tokens[target];
    }
    Tape tape(Tape::Mode::inference);  // evaluation records nothing and allocates no gradients
    const Tensor loss = softmax_cross_entropy(tape, model.logits(tape, TokenIds(contexts, {count, context})),
                                              TokenIds(targets));
    total += static_cast<double>(loss.value()()) * static_cast<double>(count);
  }
  return positions.empty() ? 0.0 : total / static_cast<double>(positions.size());
}

TrainResult train(const Model& model, const Split& split, const TrainOptions& options, TrainObserver& observer) {
  const ModelConfig& config = model.config();
  const std::size_t context = config.context;
  TrainResult result;
  result.seen.assign(config.vocab, 0);
  result.initial_table = model.embed().embedding().value();
  result.batch_losses.reserve(options.steps);

  const std::vector<std::size_t> train_positions =
      evaluation_positions(split.train.size(), context, options.eval_windows);
  const std::vector<std::size_t> validation_positions =
      evaluation_positions(split.validation.size(), context, options.eval_windows);
  const Clock::time_point run_start = Clock::now();
  const auto measure = [&](std::size_t step) {
    CurvePoint point;
    point.step = options.first_step + step;
    point.train = evaluate(model, split.train, train_positions);
    point.validation = evaluate(model, split.validation, validation_positions);
    result.curve.push_back(point);
    return point;
  };
  const auto rates = [&](std::size_t done, double& tokens_per_second, double& eta) {
    tokens_per_second = result.train_seconds > 0 ? static_cast<double>(result.tokens) / result.train_seconds : 0.0;
    eta = done > 0 ? seconds_since(run_start) / static_cast<double>(done) * static_cast<double>(options.steps - done)
                   : 0.0;
  };
  measure(0);
  observer.on_eval(result.curve.back(), 0, options.steps, 0.0, 0.0);

  optim::SGDOptions sgd_options;
  sgd_options.momentum = options.momentum;
  sgd_options.weight_decay = options.weight_decay;
  optim::SGD sgd(model.tensors(), options.lr, sgd_options);
  Rng rng(stream_seed(options.seed, kBatchStream, options.first_step));
  std::vector<std::int64_t> contexts, targets;
  const Shape context_shape{options.batch, context};

  for (std::size_t step = 0; step < options.steps; ++step) {
    const Clock::time_point step_start = Clock::now();
    sample_batch(split.train, context, options.batch, rng, contexts, targets);
    for (const std::int64_t id : contexts) result.seen[static_cast<std::size_t>(id)] = 1;
    // Linear decay from lr at the first step to lr_final at the last.
    const float progress = options.steps > 1 ? static_cast<float>(step) / static_cast<float>(options.steps - 1) : 0.0f;
    sgd.set_lr(options.lr + (options.lr_final - options.lr) * progress);

    Tape tape;
    const Tensor loss = softmax_cross_entropy(tape, model.logits(tape, TokenIds(contexts, context_shape)),
                                              TokenIds(targets));
    const float value = loss.value()();
    if (!std::isfinite(value)) {  // stop before a NaN gradient reaches the parameters
      result.diverged = true;
      result.batch_losses.push_back(value);
      break;
    }
    tape.backward(loss);
    observer.on_backward(step + 1, tape);
    sgd.step();
    sgd.zero_grad();

    result.train_seconds += seconds_since(step_start);
    result.batch_losses.push_back(value);
    ++result.steps;
    result.tokens += options.batch;
    double tokens_per_second = 0.0, eta = 0.0;
    rates(step + 1, tokens_per_second, eta);
    observer.on_step(step + 1, options.steps, value, tokens_per_second, eta);
    if (step + 1 == options.steps || is_eval_step(step + 1, options.eval_every)) {
      measure(step + 1);
      rates(step + 1, tokens_per_second, eta);
      observer.on_eval(result.curve.back(), step + 1, options.steps, tokens_per_second, eta);
    }
  }
  if (result.diverged || result.curve.back().step != options.first_step + result.steps) measure(result.steps);
  return result;
}

std::vector<std::int32_t> generate(const Model& model, const std::vector<std::int32_t>& prompt, std::size_t length,
                                   double temperature, Rng& rng) {
  const std::size_t context = model.config().context;
  const std::size_t vocab = model.config().vocab;
  if (prompt.size() < context) {
    throw std::invalid_argument("generate: the prompt has " + std::to_string(prompt.size()) +
                                " tokens, the model needs " + std::to_string(context));
  }
  std::vector<std::int32_t> ids = prompt;
  std::vector<std::int64_t> window(context);
  std::vector<double> weights(vocab);
  for (std::size_t k = 0; k < length; ++k) {
    std::copy(ids.end() - static_cast<std::ptrdiff_t>(context), ids.end(), window.begin());
    Tape tape(Tape::Mode::inference);
    const Tensor logits = model.logits(tape, TokenIds(window, {1, context}));
    const float* z = logits.value().data();
    const std::size_t best = static_cast<std::size_t>(std::max_element(z, z + vocab) - z);
    std::size_t pick = best;
    if (temperature > 0.0) {
      double total = 0.0;
      for (std::size_t v = 0; v < vocab; ++v) {
        weights[v] = std::exp((static_cast<double>(z[v]) - z[best]) / temperature);
        total += weights[v];
      }
      double u = rng.uniform() * total;
      pick = best;  // only reached through rounding in the running subtraction
      for (std::size_t v = 0; v < vocab; ++v) {
        if (u < weights[v]) {
          pick = v;
          break;
        }
        u -= weights[v];
      }
    }
    ids.push_back(static_cast<std::int32_t>(pick));
  }
  return ids;
}

}  // namespace next_token
