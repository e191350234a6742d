// Training tokens/s of next_token's transformer in the L=2 configuration (forward,
// backward, gradient clipping, AdamW, zero_grad, as bench/torch_transformer.py does), and
// the model FLOP/s that speed means against OpenBLAS sgemm's peak on this machine at the
// same thread count. The record's "baseline" is the time the model's products would take
// at that peak, so x/base says how far the step is from pure-sgemm speed.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/detail/parallel.hpp"
#include "embedding_bench.hpp"
#include "models/gpt.hpp"
#include "xgrad.hpp"

namespace bench {
namespace {

using namespace xgrad;

// FLOPs of one training token (forward + backward = 3x forward), as
// bench/torch_transformer.py's flops_per_token counts them.
double flops_per_token(const models::GPTConfig& c) {
  const double C = static_cast<double>(c.embed_dim), T = static_cast<double>(c.context);
  const double forward = static_cast<double>(c.layers) * (24 * C * C + 4 * T * C) +
                         2 * C * static_cast<double>(c.vocab);
  return 3 * forward;
}

// sgemm FLOP/s on one (n x n) @ (n x n) product per thread, every thread at once, through
// the pool the ops use: the peak the model's products could reach.
double sgemm_peak(std::size_t threads) {
  const int n = 512;
  const std::size_t elements = static_cast<std::size_t>(n) * n;
  std::vector<std::vector<float>> a(threads, std::vector<float>(elements, 0.5f)),
      b(threads, std::vector<float>(elements, 0.25f)), c(threads, std::vector<float>(elements));
  auto once = [&](std::size_t begin, std::size_t end) {
    for (std::size_t t = begin; t < end; ++t) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a[t].data(), n,
                  b[t].data(), n, 0.0f, c[t].data(), n);
    }
  };
  parallel::keep_blas_single_threaded();
  std::vector<double> seconds;
  for (int rep = 0; rep < 15; ++rep) {
    const double t0 = now_seconds();
    parallel::for_range(threads, parallel::kMinWork, once);
    seconds.push_back(now_seconds() - t0);
  }
  std::sort(seconds.begin(), seconds.end());
  return 2.0 * n * n * n * static_cast<double>(threads) / seconds[seconds.size() / 2];
}

}  // namespace

void run_transformer_benchmarks(const BenchOptions& options, std::vector<Record>& records) {
  models::GPTConfig config;  // the L=2 configuration
  config.layers = 2;
  config.heads = 4;
  config.embed_dim = 128;
  config.context = 64;
  const std::size_t batch = 32, time = config.context;
  const models::GPT model(config, 0);
  optim::AdamWOptions adamw;
  adamw.beta2 = 0.99f;
  adamw.weight_decay = 0.1f;
  optim::AdamW optimizer(model.tensors(), 3e-3f, adamw);
  const std::vector<Tensor> parameters = model.tensors();

  // Random byte windows of T + 1 tokens: inputs are the first T, targets the last T.
  const auto raw = draw_batches(config.vocab, batch * (time + 1), Distribution::uniform, 8, 21);
  std::vector<TokenIds> inputs, targets;
  for (const auto& window : raw) {
    std::vector<std::int64_t> in, out;
    for (std::size_t b = 0; b < batch; ++b) {
      const std::int32_t* w = window.data() + b * (time + 1);
      in.insert(in.end(), w, w + time);
      out.insert(out.end(), w + 1, w + time + 1);
    }
    inputs.emplace_back(std::move(in), Shape{batch, time});
    targets.emplace_back(std::move(out), Shape{batch, time});
  }
  const random::Key dropout_key = random::prng_key(7);
  Contender x;
  x.run = [&](std::size_t k) {
    Tape tape;
    const Tensor loss = softmax_cross_entropy(tape, model.logits(tape, inputs[k], dropout_key), targets[k]);
    tape.backward(loss);
    optim::clip_grad_norm(parameters, 1.0f);
    optimizer.step();
    optimizer.zero_grad();
  };
  MeasureOptions m = options.measure;
  m.budget_s = 0.0;
  m.min_reps = 30;
  m.rounds = 3;
  m.warmup = 3;
  m.batches = inputs.size();
  const Timing step = measure({&x}, m).front();

  const double tokens = static_cast<double>(batch * time);
  const double model_flops = flops_per_token(config) * tokens;
  const double peak = sgemm_peak(options.threads);
  const std::string name = "transformer L=2 H=4 C=128 T=64 B=32 t=" + std::to_string(options.threads);
  Record r{name, "transformer", step.median_s, model_flops / peak, options.threads, tokens, ""};
  char note[160];
  std::snprintf(note, sizeof note, "%.2f GFLOP/s = %.0f%% of sgemm peak %.2f GFLOP/s (%zu thread(s))",
                model_flops / step.median_s / 1e9, 100.0 * model_flops / step.median_s / peak, peak / 1e9,
                options.threads);
  r.note = note;
  print_record(r);
  records.push_back(r);
}

}  // namespace bench
