// Training step time of a GPT as next_token trains it (forward, backward, gradient clipping,
// AdamW, zero_grad, as bench/torch_transformer.py does), in two configurations: the issue's
// default GPT (L=2, C=128, T=64, B=32, V=256, biases, untied) and nanoGPT's Shakespeare-char
// CPU recipe (L=4, H=4, C=128, T=64, B=12, V=65, no biases, head tied to wte). The model is
// the library's (models/gpt.hpp), as next_token trains it, without dropout. Reported: the step, and
// the model FLOP/s that speed means against OpenBLAS sgemm's peak on this machine at the same
// thread count. The record's "baseline" is the time the model's products would take at that
// peak, so x/base says how far the step is from pure-sgemm speed.
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

struct GptConfig {
  std::size_t layers, heads, embed_dim, context, batch, vocab;
  bool bias, tie;
  // As bench/torch_bench.py's transformer_name: V, tie and nobias only when they differ
  // from the default GPT's.
  std::string name(std::size_t threads) const {
    std::string n = "transformer L=" + std::to_string(layers) + " H=" + std::to_string(heads) +
                    " C=" + std::to_string(embed_dim) + " T=" + std::to_string(context) +
                    " B=" + std::to_string(batch);
    if (vocab != 256) n += " V=" + std::to_string(vocab);
    if (tie) n += " tie";
    if (!bias) n += " nobias";
    return n + " t=" + std::to_string(threads);
  }
};

// FLOPs of one training token (forward + backward = 3x forward), as
// bench/torch_transformer.py's flops_per_token counts them.
double flops_per_token(const GptConfig& c) {
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

Record run_one(const GptConfig& config, const BenchOptions& options, double peak) {
  models::GPTConfig gpt;
  gpt.vocab = config.vocab;
  gpt.context = config.context;
  gpt.layers = config.layers;
  gpt.heads = config.heads;
  gpt.embed_dim = config.embed_dim;
  gpt.bias = config.bias;
  gpt.tie = config.tie;
  const models::GPT model(gpt, 0);
  optim::AdamWOptions adamw;
  adamw.beta2 = 0.99f;
  optim::AdamW optimizer(model.parameter_groups(0.1f), 3e-3f, adamw);
  const std::vector<Tensor> parameters = model.tensors();
  const std::size_t batch = config.batch, time = config.context;

  // Random token windows of T + 1 tokens: inputs are the first T, targets the last T.
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
  Contender x;
  x.run = [&](std::size_t k) {
    Tape tape;
    const Tensor loss = softmax_cross_entropy(tape, model.logits(tape, inputs[k], Key{}), targets[k]);
    tape.backward(loss);
    optim::clip_grad_norm(parameters, 1.0f);
    optimizer.step();
    optimizer.zero_grad();
  };
  MeasureOptions m = options.measure;
  m.budget_s = 0.0;
  m.min_reps = options.transformer_steps;
  m.rounds = 3;
  m.warmup = 3;
  m.batches = inputs.size();
  const Timing step = measure({&x}, m).front();

  const double tokens = static_cast<double>(batch * time);
  const double model_flops = flops_per_token(config) * tokens;
  Record r{config.name(options.threads), "transformer", step.median_s, model_flops / peak, options.threads, tokens, ""};
  char note[160];
  std::snprintf(note, sizeof note, "%.2f GFLOP/s = %.0f%% of sgemm peak %.2f GFLOP/s (%zu thread(s))",
                model_flops / step.median_s / 1e9, 100.0 * model_flops / step.median_s / peak, peak / 1e9,
                options.threads);
  r.note = note;
  return r;
}

}  // namespace

void run_transformer_benchmarks(const BenchOptions& options, std::vector<Record>& records) {
  const GptConfig configs[] = {{2, 4, 128, 64, 32, 256, true, false},   // the default GPT
                               {4, 4, 128, 64, 12, 65, false, true}};  // nanoGPT's Shakespeare-char CPU recipe
  const double peak = sgemm_peak(options.threads);
  for (const GptConfig& c : configs) {
    if (!options.transformer_case.empty() && c.name(options.threads).find(options.transformer_case) == std::string::npos) {
      continue;
    }
    Record r = run_one(c, options, peak);
    print_record(r);
    records.push_back(r);
  }
}

}  // namespace bench
