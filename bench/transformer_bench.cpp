// Training step time of a GPT as next_token trains it (forward, backward, gradient clipping,
// AdamW, zero_grad, as bench/torch_transformer.py does), in two configurations: the issue's
// default GPT (L=2, C=128, T=64, B=32, V=256, biases, untied) and nanoGPT's Shakespeare-char
// CPU recipe (L=4, H=4, C=128, T=64, B=12, V=65, no biases, head tied to wte). The model is a
// bench-local copy of next_token's transformer loop written on the ops directly, so that the
// bias and tie options exist here whatever the model library offers. Reported: the step, and
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

// next_token's transformer (pre-norm GPT-2 blocks, tanh gelu, GPT-2's initialisation) on the
// ops: x = wte[ids] + wpe; per block x += proj(attn(qkv(ln1(x)))), x += out(gelu(fc(ln2(x))));
// logits = ln_f(x) @ head, or @ wte^T when tied. Without bias, Linear is matmul and
// LayerNorm's bias a constant zero vector.
class Gpt {
 public:
  explicit Gpt(const GptConfig& c) : c_(c) {
    const std::size_t C = c.embed_dim;
    const Key key = random::prng_key(0);
    std::uint32_t stream = 0;
    std::string prefix;
    auto normal = [&](Shape shape, float stddev, const std::string& name) {
      return Tensor::parameter(initializers::normal(stddev)(random::fold_in(key, stream++), shape), prefix + name);
    };
    auto ones = [&](const std::string& name) {
      return Tensor::parameter(initializers::ones()(Key{}, {C}), prefix + name + ".weight");
    };
    auto bias = [&](std::size_t n, const std::string& name) {
      return c.bias ? Tensor::parameter(initializers::zeros()(Key{}, {n}), prefix + name + ".bias") : Tensor();
    };
    const float std_ = 0.02f, residual = 0.02f / std::sqrt(2.0f * static_cast<float>(c.layers));
    wte_ = normal({c.vocab, C}, std_, "wte");
    wpe_ = normal({c.context, C}, std_, "wpe");
    zeros_ = Tensor(initializers::zeros()(Key{}, {C}));
    for (std::size_t l = 0; l < c.layers; ++l) {
      prefix = "h" + std::to_string(l) + ".";
      blocks_.push_back({ones("ln1"), bias(C, "ln1"), normal({C, 3 * C}, std_, "qkv"), bias(3 * C, "qkv"),
                         normal({C, C}, residual, "proj"), bias(C, "proj"), ones("ln2"), bias(C, "ln2"),
                         normal({C, 4 * C}, std_, "fc"), bias(4 * C, "fc"), normal({4 * C, C}, residual, "out"),
                         bias(C, "out")});
    }
    prefix = "";
    ln_f_ = ones("ln_f");
    ln_f_b_ = bias(C, "ln_f");
    if (!c.tie) head_ = normal({C, c.vocab}, std_, "head");
    std::vector<std::int64_t> ids(c.context);
    for (std::size_t t = 0; t < c.context; ++t) ids[t] = static_cast<std::int64_t>(t);
    positions_ = TokenIds(ids);
  }

  Tensor logits(Tape& tape, const TokenIds& ids) const {
    Tensor x = add_broadcast(tape, embedding_lookup(tape, wte_, ids), embedding_lookup(tape, wpe_, positions_));
    for (const Block& b : blocks_) {
      Tensor qkv = dense(tape, norm(tape, x, b.ln1, b.ln1_b), b.qkv, b.qkv_b);
      x = add(tape, x, dense(tape, causal_self_attention(tape, qkv, c_.heads), b.proj, b.proj_b));
      x = add(tape, x, dense(tape, gelu(tape, dense(tape, norm(tape, x, b.ln2, b.ln2_b), b.fc, b.fc_b)), b.out, b.out_b));
    }
    const Tensor h = norm(tape, x, ln_f_, ln_f_b_);
    return c_.tie ? matmul_transposed(tape, h, wte_) : matmul(tape, h, head_);
  }

  // 2-D weights decay, vectors do not (bench/torch_transformer.py's optimizer groups).
  std::vector<optim::ParameterGroup> groups(float weight_decay) const {
    std::vector<Tensor> decay{wte_, wpe_}, rest;
    for (const Block& b : blocks_) {
      for (const Tensor& t : {b.ln1, b.ln1_b, b.qkv_b, b.proj_b, b.ln2, b.ln2_b, b.fc_b, b.out_b}) {
        if (t.defined()) rest.push_back(t);
      }
      for (const Tensor& t : {b.qkv, b.proj, b.fc, b.out}) decay.push_back(t);
    }
    rest.push_back(ln_f_);
    if (ln_f_b_.defined()) rest.push_back(ln_f_b_);
    if (head_.defined()) decay.push_back(head_);
    return {{decay, weight_decay}, {rest, 0.0f}};
  }

 private:
  struct Block {
    Tensor ln1, ln1_b, qkv, qkv_b, proj, proj_b, ln2, ln2_b, fc, fc_b, out, out_b;
  };
  static Tensor dense(Tape& tape, const Tensor& x, const Tensor& w, const Tensor& b) {
    return b.defined() ? linear(tape, x, w, b) : matmul(tape, x, w);
  }
  Tensor norm(Tape& tape, const Tensor& x, const Tensor& w, const Tensor& b) const {
    return layer_norm(tape, x, w, b.defined() ? b : zeros_);
  }

  GptConfig c_;
  Tensor wte_, wpe_, zeros_, ln_f_, ln_f_b_, head_;
  std::vector<Block> blocks_;
  TokenIds positions_;
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
  const Gpt model(config);
  optim::AdamWOptions adamw;
  adamw.beta2 = 0.99f;
  optim::AdamW optimizer(model.groups(0.1f), 3e-3f, adamw);
  std::vector<Tensor> parameters;
  for (const optim::ParameterGroup& g : model.groups(0.1f)) {
    parameters.insert(parameters.end(), g.parameters.begin(), g.parameters.end());
  }
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
    const Tensor loss = softmax_cross_entropy(tape, model.logits(tape, inputs[k]), targets[k]);
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
