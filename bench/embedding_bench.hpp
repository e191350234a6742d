// The benchmark suites the xgrad_bench program runs, and the options they share.
// Not a test: nothing here asserts a time (bench/README.md explains the method).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "fork_join.hpp"
#include "harness.hpp"

namespace bench {

struct BenchOptions {
  std::size_t threads = 1;
  std::vector<std::size_t> vocabs{1000, 50000, 1000000};
  std::vector<std::size_t> widths{64, 256};
  std::vector<std::size_t> token_counts{512, 8192};
  bool dense = true;  // also the dense-gradient step, at uniform ids
  std::size_t transformer_steps = 30;  // timed steps per round of each transformer case
  std::string transformer_case;       // only the transformer cases whose name contains this
  MeasureOptions measure;
};

// Gather, backward, SGD and full sparse step (and the dense step) for every configuration.
void run_embedding_benchmarks(const BenchOptions& options, std::vector<Record>& records);

// The full sparse step on one token: the fixed cost of tape, ops and optimiser.
void run_fixed_overhead(const BenchOptions& options, std::vector<Record>& records);

// Throws unless one xgrad step and one baseline step give the same table bit for bit.
void check_sparse_step_matches_baseline();

// The toy language models: the bigram (Embed(V, 64) -> Linear(64, V)) and the example's
// default MLP, in tokens per second.
void run_lm_benchmarks(const BenchOptions& options, std::vector<Record>& records);

// Throws unless one xgrad bigram step and one baseline step agree to float round-off.
void check_lm_step_matches_baseline();

// A GPT's training step, the default GPT and nanoGPT's Shakespeare-char recipe, with the
// model's FLOP/s against sgemm's peak at the same thread count (bench/transformer_bench.cpp).
void run_transformer_benchmarks(const BenchOptions& options, std::vector<Record>& records);

}  // namespace bench
