// The GPT and its training loop on one screen, as nanoGPT's train.py: byte tokens from the
// shipped text, models::GPT, AdamW with nanoGPT's two parameter groups, warmup then cosine
// decay, clipping at 1.0, then a sample from generate. examples/next_token/ is the full tool.
// Usage: gpt_minimal [corpus.txt] [steps]. Exits 1 unless the validation loss fell clearly.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "models/gpt.hpp"
#include "xgrad.hpp"

using namespace xgrad;

namespace {

constexpr std::size_t kBatch = 8;

struct Batch {
  TokenIds inputs, targets;  // (B, T) each: targets are the inputs shifted by one byte
};

// The windows of T + 1 bytes starting at `starts`.
Batch batch_at(const std::string& text, const std::vector<std::size_t>& starts, std::size_t T) {
  std::vector<std::int64_t> x, y;
  for (const std::size_t s : starts) {
    for (std::size_t t = 0; t < T; ++t) {
      x.push_back(static_cast<unsigned char>(text[s + t]));
      y.push_back(static_cast<unsigned char>(text[s + t + 1]));
    }
  }
  return {TokenIds(x, {starts.size(), T}), TokenIds(y, {starts.size(), T})};
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : XGRAD_DEFAULT_CORPUS;
  const std::size_t steps = argc > 2 ? std::stoul(argv[2]) : 1000;
  std::ifstream file(path, std::ios::binary);
  const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (!file || text.size() < 10000 || steps < 20) {
    std::fprintf(stderr, "gpt_minimal: cannot read a corpus of 10000 bytes from %s, or fewer than 20 steps\n",
                 path.c_str());
    return 1;
  }
  const std::size_t split = text.size() / 10 * 9;  // the last 10% validates
  const std::string train = text.substr(0, split), validation = text.substr(split);

  models::GPTConfig config;  // bytes: V = 256
  config.context = 32;
  config.layers = 2;
  config.heads = 4;
  config.embed_dim = 64;
  const models::GPT model(config, /*seed=*/0);
  optim::AdamWOptions adamw;
  adamw.beta2 = 0.99f;
  optim::AdamW optimizer(model.parameter_groups(/*weight_decay=*/0.1f), 1e-3f, adamw);
  const optim::WarmupCosineSchedule schedule(/*lr_max=*/3e-3f, /*warmup=*/steps / 10, /*total=*/steps,
                                             /*lr_min=*/3e-4f);
  const std::vector<Tensor> parameters = model.tensors();
  std::printf("%s: %zu parameters\n", models::describe(config).c_str(), model.parameter_count());

  // Evenly spaced validation windows on an inference tape: no record, no gradient.
  std::vector<std::size_t> eval_starts;
  for (std::size_t s = 0; s + config.context < validation.size() && eval_starts.size() < 64; s += 997) {
    eval_starts.push_back(s);
  }
  const Batch eval = batch_at(validation, eval_starts, config.context);
  const auto validation_loss = [&] {
    Tape tape(Tape::Mode::inference);
    return softmax_cross_entropy(tape, model.logits(tape, eval.inputs, Key{}), eval.targets).value()();
  };

  std::mt19937_64 rng(0);  // rng() % n: the same batches with every standard library
  std::vector<std::size_t> starts(kBatch);
  const float initial_loss = validation_loss();
  std::printf("step %4d  validation loss %.3f\n", 0, initial_loss);
  for (std::size_t step = 0; step < steps; ++step) {
    for (std::size_t& s : starts) s = rng() % (train.size() - config.context - 1);
    const Batch batch = batch_at(train, starts, config.context);
    optimizer.set_lr(schedule.lr(step));
    Tape tape;
    const Tensor loss = softmax_cross_entropy(tape, model.logits(tape, batch.inputs, random::prng_key(step)),
                                              batch.targets);
    tape.backward(loss);
    const float norm = optim::clip_grad_norm(parameters, 1.0f);
    optimizer.step();
    optimizer.zero_grad();
    if ((step + 1) % 100 == 0 || step + 1 == steps) {
      std::printf("step %4zu  loss %.3f  grad norm %.2f  lr %.2e  validation loss %.3f\n", step + 1,
                  loss.value()(), norm, schedule.lr(step), validation_loss());
    }
  }

  const float final_loss = validation_loss();
  const std::string prompt = "And God said";
  const std::vector<std::int64_t> ids =
      model.generate(std::vector<std::int64_t>(prompt.begin(), prompt.end()), 80, 0.8f, random::prng_key(1));
  std::string sample;
  for (const std::int64_t id : ids) sample += static_cast<char>(id);
  std::printf("sample: %s\n", sample.c_str());
  const bool ok = final_loss < 0.75f * initial_loss;
  std::printf("validation loss %.3f -> %.3f: %s\n", initial_loss, final_loss, ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
