// Toy language-model benchmarks in tokens per second: the bigram model of issue 5
// (Embed(V, 64) -> Linear(64, V) -> softmax cross-entropy, V = 5000, T = 4096) and the
// example's default MLP (context 3, Embed(256, 16) -> concat -> Linear 192 -> tanh ->
// Linear 256, batch 128), xgrad against the hand-written cblas baseline, same parameters.
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "baseline_lm.hpp"
#include "embedding_bench.hpp"
#include "xgrad.hpp"

namespace bench {
namespace {

using namespace xgrad;

struct LmData {
  std::vector<std::vector<std::int32_t>> raw_inputs, raw_targets;
  std::vector<TokenIds> inputs, targets;
};

// Ids of shape (tokens,) or (tokens, context), uniform over the vocabulary.
LmData draw_lm_data(std::size_t vocab, std::size_t tokens, std::size_t context, std::size_t count) {
  LmData d;
  d.raw_inputs = draw_batches(vocab, tokens * context, Distribution::uniform, count, 11);
  d.raw_targets = draw_batches(vocab, tokens, Distribution::uniform, count, 12);
  const Shape shape = context == 1 ? Shape{tokens} : Shape{tokens, context};
  for (std::size_t b = 0; b < count; ++b) {
    d.inputs.emplace_back(std::vector<std::int64_t>(d.raw_inputs[b].begin(), d.raw_inputs[b].end()), shape);
    d.targets.emplace_back(std::vector<std::int64_t>(d.raw_targets[b].begin(), d.raw_targets[b].end()));
  }
  return d;
}

layers::LinearOptions linear_options(const char* name) {
  layers::LinearOptions o;
  o.name = name;
  return o;
}

float* data_of(const Tensor& t) { return t.mutable_value().data(); }

struct BigramModel {
  BigramModel(std::size_t v, std::size_t d)
      : embed(v, d, random::fold_in(random::prng_key(0), 0)),
        head(d, v, random::fold_in(random::prng_key(0), 1), linear_options("head")),
        sgd({embed.embedding(), head.kernel(), head.bias()}, 0.1f) {}
  double step(const TokenIds& inputs, const TokenIds& targets) {
    Tape tape;
    const Tensor loss = softmax_cross_entropy(tape, head(tape, embed(tape, inputs)), targets);
    tape.backward(loss);
    sgd.step();
    sgd.zero_grad();
    return loss.value()();
  }
  layers::Embed embed;
  layers::Linear head;
  optim::SGD sgd;
};

struct MlpModel {
  MlpModel(std::size_t v, std::size_t c, std::size_t d, std::size_t h)
      : context(c), width(d),
        embed(v, d, random::fold_in(random::prng_key(0), 0)),
        hidden(c * d, h, random::fold_in(random::prng_key(0), 1), linear_options("hidden")),
        output(h, v, random::fold_in(random::prng_key(0), 2), linear_options("output")),
        sgd({embed.embedding(), hidden.kernel(), hidden.bias(), output.kernel(), output.bias()}, 0.1f) {}
  double step(const TokenIds& contexts, const TokenIds& targets) {
    Tape tape;
    const std::size_t batch = contexts.shape()[0];
    Tensor x = reshape(tape, embed(tape, contexts), {batch, context * width});
    x = tanh(tape, hidden(tape, x));
    const Tensor loss = softmax_cross_entropy(tape, output(tape, x), targets);
    tape.backward(loss);
    sgd.step();
    sgd.zero_grad();
    return loss.value()();
  }
  std::size_t context, width;
  layers::Embed embed;
  layers::Linear hidden, output;
  optim::SGD sgd;
};

Record lm_record(const std::string& name, const PairTiming& t, std::size_t threads, std::size_t tokens) {
  Record r{name, "lm", t.xgrad.median_s, t.baseline.median_s, threads,
           static_cast<double>(tokens), ""};
  char note[64];
  std::snprintf(note, sizeof note, "baseline %.0f tok/s", static_cast<double>(tokens) / t.baseline.median_s);
  r.note = note;
  print_record(r);
  return r;
}

MeasureOptions lm_measure(const BenchOptions& options, double budget) {
  MeasureOptions m = options.measure;
  m.budget_s = budget;
  m.min_reps = 8;
  m.rounds = 4;
  m.warmup = 1;
  return m;
}

}  // namespace

void run_lm_benchmarks(const BenchOptions& options, std::vector<Record>& records) {
  ForkJoin threads(options.threads);
  const std::size_t n = options.threads;
  {
    const std::size_t vocab = 5000, width = 64, tokens = 4096;
    BigramModel model(vocab, width);
    baseline::Bigram base(data_of(model.embed.embedding()), data_of(model.head.kernel()),
                          data_of(model.head.bias()), vocab, width, tokens);
    const LmData data = draw_lm_data(vocab, tokens, 1, 4);
    Contender x, b;
    x.run = [&](std::size_t k) { model.step(data.inputs[k], data.targets[k]); };
    b.run = [&](std::size_t k) {
      base.step(data.raw_inputs[k].data(), data.raw_targets[k].data(), 0.1f, threads);
    };
    MeasureOptions m = lm_measure(options, 3.0);
    m.batches = 4;
    records.push_back(lm_record("lm bigram V=5000 D=64 T=4096 t=" + std::to_string(n),
                                measure_pair(x, b, m), n, tokens));
  }
  {
    const std::size_t vocab = 256, context = 3, width = 16, hidden = 192, tokens = 128;
    MlpModel model(vocab, context, width, hidden);
    baseline::Mlp base(data_of(model.embed.embedding()), data_of(model.hidden.kernel()),
                       data_of(model.hidden.bias()), data_of(model.output.kernel()),
                       data_of(model.output.bias()), vocab, context, width, hidden, tokens);
    const LmData data = draw_lm_data(vocab, tokens, context, 16);
    Contender x, b;
    x.run = [&](std::size_t k) { model.step(data.inputs[k], data.targets[k]); };
    b.run = [&](std::size_t k) {
      base.step(data.raw_inputs[k].data(), data.raw_targets[k].data(), 0.1f, threads);
    };
    MeasureOptions m = lm_measure(options, 1.0);
    m.min_reps = 100;
    records.push_back(lm_record("lm mlp C=3 V=256 D=16 H=192 B=128 t=" + std::to_string(n),
                                measure_pair(x, b, m), n, tokens));
  }
}

void check_lm_step_matches_baseline() {
  // Two identical models; one steps with xgrad, the other with the baseline.
  ForkJoin threads(1);
  const std::size_t vocab = 500, width = 64, tokens = 256;
  BigramModel a(vocab, width), b(vocab, width);
  baseline::Bigram base(data_of(b.embed.embedding()), data_of(b.head.kernel()),
                        data_of(b.head.bias()), vocab, width, tokens);
  const LmData data = draw_lm_data(vocab, tokens, 1, 1);
  const double loss_a = a.step(data.inputs[0], data.targets[0]);
  const double loss_b = base.step(data.raw_inputs[0].data(), data.raw_targets[0].data(), 0.1f, threads);
  double worst = 0.0;
  for (auto [p, q] : {std::pair{a.head.kernel(), b.head.kernel()}, std::pair{a.head.bias(), b.head.bias()},
                      std::pair{a.embed.embedding(), b.embed.embedding()}}) {
    for (std::size_t i = 0; i < p.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::fabs(p.value().data()[i] - q.value().data()[i])));
    }
  }
  std::printf("check: bigram step, loss xgrad %.7f baseline %.7f, largest parameter difference %.2e\n",
              loss_a, loss_b, worst);
  if (std::fabs(loss_a - loss_b) > 1e-5 || worst > 1e-6) {
    throw std::runtime_error("the LM baseline does not compute what xgrad computes");
  }
}

}  // namespace bench
