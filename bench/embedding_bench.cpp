// Embedding benchmarks: gather, backward, sparse SGD step, full sparse step and the
// dense-gradient step, xgrad against the hand-written baseline on the same table and ids.
// Shapes: table (V, D), ids (T,), loss mean(Y^2) as PyTorch's out.pow(2).mean().
#include "embedding_bench.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "baseline_embedding.hpp"
#include "xgrad.hpp"

namespace bench {
namespace {

using namespace xgrad;

constexpr float kLearningRate = 0.01f;

// A (V, D) table with values in [-1, 1) from a cheap integer hash: 1 GB fills in ~0.3 s.
Array hashed_table(std::size_t vocab, std::size_t width) {
  Array table = Array::from_shape({vocab, width});
  float* data = table.data();
  for (std::size_t i = 0, n = table.size(); i < n; ++i) {
    std::uint32_t h = static_cast<std::uint32_t>(i) * 2654435761u;
    h ^= h >> 15;
    data[i] = static_cast<float>(h & 0xFFFF) * (2.0f / 65536.0f) - 1.0f;
  }
  return table;
}

std::string case_name(const char* kernel, std::size_t vocab, std::size_t width,
                      std::size_t tokens, Distribution dist, std::size_t threads) {
  return std::string(kernel) + " V=" + std::to_string(vocab) + " D=" + std::to_string(width) +
         " T=" + std::to_string(tokens) + " " + distribution_name(dist) +
         " t=" + std::to_string(threads);
}

// Everything one (V, D, T, distribution) configuration needs, built once.
struct Config {
  Config(const Tensor& t, std::size_t v, std::size_t d, std::size_t tokens_per_batch,
         Distribution dist, std::size_t batch_count)
      : table(t), vocab(v), width(d), tokens(tokens_per_batch),
        sgd({table}, kLearningRate), grad(v, d, tokens_per_batch),
        y(tokens_per_batch * d), square(tokens_per_batch * d), dy(tokens_per_batch * d),
        seed_grad(testing_values({tokens_per_batch, d})) {
    raw_ids = draw_batches(v, tokens_per_batch, dist, batch_count,
                           0x5eed + v * 31 + d * 7 + tokens_per_batch + (dist == Distribution::zipf));
    for (const auto& b : raw_ids) ids.emplace_back(std::vector<std::int64_t>(b.begin(), b.end()));
    for (std::size_t j = 0; j < seed_grad.size(); ++j) dy_seed.push_back(seed_grad.data()[j]);
  }

  static Array testing_values(const Shape& shape) {
    Array a = Array::from_shape(shape);
    for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = 1e-3f * static_cast<float>(i % 17) - 8e-3f;
    return a;
  }

  float* table_data() const { return table.mutable_value().data(); }

  // Mean unique rows per batch: what the sparse gradient and SGD cost.
  double mean_unique() {
    double total = 0;
    for (const auto& b : raw_ids) {
      for (std::int32_t id : b) {
        if (grad.slot_of_row[static_cast<std::size_t>(id)] < 0) {
          grad.slot_of_row[static_cast<std::size_t>(id)] = 0;
          grad.rows.push_back(id);
        }
      }
      total += static_cast<double>(grad.rows.size());
      baseline::clear(grad);
    }
    return total / static_cast<double>(raw_ids.size());
  }

  Tensor table;
  std::size_t vocab, width, tokens;
  optim::SGD sgd;
  baseline::SparseGrad grad;
  std::vector<float> y, square, dy;
  Array seed_grad;
  std::vector<float> dy_seed;
  std::vector<std::vector<std::int32_t>> raw_ids;
  std::vector<TokenIds> ids;
  // State carried from an xgrad setup to its timed run.
  std::unique_ptr<Tape> tape;
  Tensor out;
};

void reset(Config& c) {
  c.sgd.zero_grad();
  c.out = Tensor();
  c.tape.reset();
}

// The xgrad side of one training step: forward, mean(Y^2), backward, SGD, zero_grad.
void xgrad_step(Config& c, std::size_t b) {
  Tape tape;
  const Tensor y = embedding_lookup(tape, c.table, c.ids[b]);
  tape.backward(mean_square(tape, y));
  c.sgd.step();
  c.sgd.zero_grad();
}

Record make_record(const std::string& name, const PairTiming& t, std::size_t threads,
                   const std::string& note, const char* group = "embedding") {
  Record r{name, group, t.xgrad.median_s, t.baseline.median_s, threads, 0.0, note};
  print_record(r);
  return r;
}

void run_config(Config& c, Distribution dist, const BenchOptions& options, ForkJoin& threads,
                std::vector<Record>& records) {
  const std::size_t n = options.threads;
  const std::string note = "U=" + std::to_string(static_cast<long>(c.mean_unique()));
  MeasureOptions m = options.measure;
  auto name = [&](const char* kernel) { return case_name(kernel, c.vocab, c.width, c.tokens, dist, n); };

  // Forward: the gather, recorded on a tape as in training.
  Contender xf, bf;
  xf.run = [&](std::size_t b) {
    Tape tape;
    const Tensor y = embedding_lookup(tape, c.table, c.ids[b]);
  };
  bf.run = [&](std::size_t b) {
    baseline::gather(c.table_data(), c.width, c.raw_ids[b].data(), c.tokens, c.y.data(), threads);
  };
  records.push_back(make_record(name("fwd"), measure_pair(xf, bf, m), n, note));

  // Backward: the gather's backward, from a given dY to the row-sparse table gradient.
  // dY is put into the output's gradient untimed (tape.backward(y, dY) would add that copy).
  Contender xb, bb;
  xb.setup = [&](std::size_t b) {
    c.tape = std::make_unique<Tape>();
    c.out = embedding_lookup(*c.tape, c.table, c.ids[b]);
    Array dy = uninitialized_array(c.out.shape());  // a reused buffer, as a training step has
    std::copy(c.seed_grad.begin(), c.seed_grad.end(), dy.begin());
    c.out.mutable_grad().add(std::move(dy));
  };
  xb.run = [&](std::size_t) {
    const Tape::Record& record = (*c.tape)[0];
    record.backward(record.output.value(), record.output.grad().dense());
  };
  xb.teardown = [&](std::size_t) { reset(c); };
  bb.setup = [&](std::size_t b) {  // like xgrad's setup: gather, then dY freshly written
    bf.run(b);
    std::copy(c.dy_seed.begin(), c.dy_seed.end(), c.dy.begin());
  };
  bb.run = [&](std::size_t b) {
    baseline::scatter(c.grad, c.raw_ids[b].data(), c.tokens, c.dy.data(), threads);
  };
  bb.teardown = [&](std::size_t) { baseline::clear(c.grad); };
  records.push_back(make_record(name("bwd"), measure_pair(xb, bb, m), n, note));

  // SGD step alone, on a gradient built by an untimed backward.
  Contender xs, bs;
  xs.setup = [&](std::size_t b) {
    xb.setup(b);
    xb.run(b);
  };
  xs.run = [&](std::size_t) { c.sgd.step(); };
  xs.teardown = xb.teardown;
  bs.setup = [&](std::size_t b) {
    bb.setup(b);
    bb.run(b);
  };
  bs.run = [&](std::size_t) { baseline::apply_sgd(c.table_data(), c.grad, kLearningRate, threads); };
  bs.teardown = bb.teardown;
  records.push_back(make_record(name("sgd"), measure_pair(xs, bs, m), n, note));

  // The full sparse step, and the control baseline that writes Y^2 out as xgrad's mul does.
  Contender xfull, bfull, bsquare;
  xfull.run = [&](std::size_t b) { xgrad_step(c, b); };
  bfull.run = [&](std::size_t b) {
    baseline::sparse_step(c.table_data(), c.grad, c.raw_ids[b].data(), c.tokens, kLearningRate,
                          c.y.data(), c.dy.data(), threads);
  };
  bsquare.run = [&](std::size_t b) {
    baseline::sparse_step_writing_square(c.table_data(), c.grad, c.raw_ids[b].data(), c.tokens,
                                         kLearningRate, c.y.data(), c.square.data(), c.dy.data(),
                                         threads);
  };
  MeasureOptions three = m;
  three.budget_s = 1.5 * m.budget_s;
  const std::vector<Timing> t = measure({&xfull, &bfull, &bsquare}, three);
  Record full{name("full"), "embedding", t[0].median_s, t[1].median_s, n, 0.0, note, t[2].median_s};
  print_record(full);
  records.push_back(full);
}

// The dense-gradient step: the table's gradient is made dense before backward, so the
// scatter lands in a (V, D) buffer and SGD updates every row, as PyTorch's default does.
void run_dense(Config& c, const BenchOptions& options, ForkJoin& threads,
               std::vector<Record>& records) {
  std::vector<float> dense(c.vocab * c.width);
  Contender xd, bd;
  xd.run = [&](std::size_t b) {
    Tape tape;
    const Tensor y = embedding_lookup(tape, c.table, c.ids[b]);
    const Tensor loss = mean_square(tape, y);
    c.table.mutable_grad().dense_buffer();
    tape.backward(loss);
    c.sgd.step();
    c.sgd.zero_grad();
  };
  bd.run = [&](std::size_t b) {
    baseline::dense_step(c.table_data(), c.vocab, c.width, dense.data(), c.raw_ids[b].data(),
                         c.tokens, kLearningRate, c.y.data(), c.dy.data(), threads);
  };
  MeasureOptions m = options.measure;
  m.min_reps = 6;
  m.rounds = 2;
  m.warmup = 1;
  records.push_back(make_record(case_name("dense", c.vocab, c.width, c.tokens, Distribution::uniform,
                                          options.threads),
                                measure_pair(xd, bd, m), options.threads, "", "dense"));
  c.table.mutable_grad().clear();
}

}  // namespace

void run_embedding_benchmarks(const BenchOptions& options, std::vector<Record>& records) {
  ForkJoin threads(options.threads);
  for (std::size_t vocab : options.vocabs) {
    for (std::size_t width : options.widths) {
      const Tensor table = Tensor::parameter(hashed_table(vocab, width), "table");
      for (std::size_t tokens : options.token_counts) {
        for (Distribution dist : {Distribution::uniform, Distribution::zipf}) {
          Config c(table, vocab, width, tokens, dist, options.measure.batches);
          run_config(c, dist, options, threads, records);
          if (dist == Distribution::uniform && options.dense) run_dense(c, options, threads, records);
        }
      }
    }
  }
}

void run_fixed_overhead(const BenchOptions& options, std::vector<Record>& records) {
  ForkJoin threads(options.threads);
  const Tensor table = Tensor::parameter(hashed_table(50000, 64), "table");
  Config c(table, 50000, 64, 1, Distribution::uniform, options.measure.batches);
  Contender x, b;
  x.run = [&](std::size_t batch) { xgrad_step(c, batch); };
  b.run = [&](std::size_t batch) {
    baseline::sparse_step(c.table_data(), c.grad, c.raw_ids[batch].data(), 1, kLearningRate,
                          c.y.data(), c.dy.data(), threads);
  };
  MeasureOptions m = options.measure;
  m.min_reps = 1000;
  records.push_back(make_record(case_name("full", 50000, 64, 1, Distribution::uniform, options.threads),
                                measure_pair(x, b, m), options.threads, "fixed cost", "overhead"));
}

void check_sparse_step_matches_baseline() {
  // One step from the same table with the same ids must give (nearly) the same table:
  // the baseline does the same work. Differences come only from the loss's sum order.
  ForkJoin threads(1);
  const std::size_t vocab = 1000, width = 64, tokens = 512;
  const Tensor a = Tensor::parameter(hashed_table(vocab, width), "a");
  const Tensor b = Tensor::parameter(hashed_table(vocab, width), "b");
  Config ca(a, vocab, width, tokens, Distribution::zipf, 1);
  Config cb(b, vocab, width, tokens, Distribution::zipf, 1);
  xgrad_step(ca, 0);
  baseline::sparse_step(cb.table_data(), cb.grad, cb.raw_ids[0].data(), tokens, kLearningRate,
                        cb.y.data(), cb.dy.data(), threads);
  std::size_t differ = 0;
  for (std::size_t i = 0; i < vocab * width; ++i) differ += a.value().data()[i] != b.value().data()[i];
  std::printf("check: xgrad and baseline sparse steps differ in %zu of %zu table floats\n", differ,
              vocab * width);
  if (differ) throw std::runtime_error("the baseline does not compute what xgrad computes");
}

}  // namespace bench
