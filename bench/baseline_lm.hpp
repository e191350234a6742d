// The hand-written baselines for the toy language models: OpenBLAS sgemm into buffers
// allocated once, a fused softmax cross-entropy that turns the logits into their gradient
// in place, and the row-sparse embedding update of baseline_embedding.hpp. They train the
// very parameter arrays xgrad trains (raw pointers into them). Not a library: bench/ only.
// Shapes: T tokens, V vocabulary, D width, C context, H hidden.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "baseline_embedding.hpp"

namespace bench::baseline {

// Bigram: ids (T,) -> E (V, D) -> X (T, D) @ W (D, V) + b -> softmax cross-entropy.
struct Bigram {
  Bigram(float* embedding, float* kernel, float* bias, std::size_t vocab, std::size_t width,
         std::size_t tokens);
  // One SGD step; returns the mean loss.
  double step(const std::int32_t* inputs, const std::int32_t* targets, float lr, ForkJoin& threads);

  float *embedding, *kernel, *bias;
  std::size_t vocab, width, tokens;
  std::vector<float> x, z, dx, dkernel, dbias;
  SparseGrad dembedding;
};

// Context MLP: ids (T, C) -> E rows concatenated (T, C*D) @ W1 + b1 -> tanh -> @ W2 + b2
// -> softmax cross-entropy.
struct Mlp {
  Mlp(float* embedding, float* w1, float* b1, float* w2, float* b2, std::size_t vocab,
      std::size_t context, std::size_t width, std::size_t hidden, std::size_t tokens);
  double step(const std::int32_t* contexts, const std::int32_t* targets, float lr, ForkJoin& threads);

  float *embedding, *w1, *b1, *w2, *b2;
  std::size_t vocab, context, width, hidden, tokens;
  std::vector<float> x, h, z, dh, dx, dw1, db1, dw2, db2;
  SparseGrad dembedding;
};

}  // namespace bench::baseline
