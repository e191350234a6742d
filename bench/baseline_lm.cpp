// Hand-written toy-LM training steps with raw cblas_sgemm. Built with -O3 -ffast-math
// (bench/CMakeLists.txt) so expf, tanhf and the row sums vectorise, as a C programmer's
// tuned loop would; its own translation unit so those flags stay here.
#include "baseline_lm.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <cblas.h>

namespace bench::baseline {
namespace {

// C (m, n) = op(A) @ op(B), row-major, overwriting C.
void sgemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const float* a,
           std::size_t lda, const float* b, std::size_t ldb, float* c) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f, a,
              static_cast<int>(lda), b, static_cast<int>(ldb), 0.0f, c, static_cast<int>(n));
}

// Per row: z += bias, then z becomes d(mean loss)/dz = (softmax(z) - onehot) / T, in place.
// Returns the mean loss over the rows.
double softmax_xent_in_place(float* z, const float* bias, const std::int32_t* targets,
                             std::size_t tokens, std::size_t vocab, ForkJoin& threads) {
  std::vector<double> row_loss(tokens);
  const float inv_tokens = 1.0f / static_cast<float>(tokens);
  threads.run(tokens, [&](std::size_t begin, std::size_t end) {
    for (std::size_t t = begin; t < end; ++t) {
      float* row = z + t * vocab;
      float m = -INFINITY;
      for (std::size_t v = 0; v < vocab; ++v) {
        row[v] += bias[v];
        m = std::max(m, row[v]);
      }
      const float target_logit = row[targets[t]];
      float s = 0.0f;
      for (std::size_t v = 0; v < vocab; ++v) {
        row[v] = std::exp(row[v] - m);
        s += row[v];
      }
      row_loss[t] = static_cast<double>(m + std::log(s) - target_logit);
      const float scale = inv_tokens / s;
      for (std::size_t v = 0; v < vocab; ++v) row[v] *= scale;
      row[targets[t]] -= inv_tokens;
    }
  }, tokens * vocab);
  double total = 0.0;
  for (double l : row_loss) total += l;
  return total / static_cast<double>(tokens);
}

// out[j] = sum over rows of m[r, j], columns split across threads.
void column_sums(const float* m, std::size_t rows, std::size_t cols, float* out, ForkJoin& threads) {
  threads.run(cols, [&](std::size_t begin, std::size_t end) {
    std::fill(out + begin, out + end, 0.0f);
    for (std::size_t r = 0; r < rows; ++r) {
      const float* row = m + r * cols;
      for (std::size_t j = begin; j < end; ++j) out[j] += row[j];
    }
  }, rows * cols);
}

void sgd_dense(float* p, const float* g, std::size_t n, float lr) {
  for (std::size_t i = 0; i < n; ++i) p[i] -= lr * g[i];
}

void sparse_sgd(float* table, SparseGrad& grad, const std::int32_t* ids, std::size_t count,
                const float* dout, float lr, ForkJoin& threads) {
  scatter(grad, ids, count, dout, threads);
  apply_sgd(table, grad, lr, threads);
  clear(grad);
}

}  // namespace

Bigram::Bigram(float* e, float* w, float* b, std::size_t v, std::size_t d, std::size_t t)
    : embedding(e), kernel(w), bias(b), vocab(v), width(d), tokens(t), x(t * d), z(t * v),
      dx(t * d), dkernel(d * v), dbias(v), dembedding(v, d, t) {}

double Bigram::step(const std::int32_t* inputs, const std::int32_t* targets, float lr,
                    ForkJoin& threads) {
  gather(embedding, width, inputs, tokens, x.data(), threads);
  sgemm(false, false, tokens, vocab, width, x.data(), width, kernel, vocab, z.data());
  const double loss = softmax_xent_in_place(z.data(), bias, targets, tokens, vocab, threads);
  column_sums(z.data(), tokens, vocab, dbias.data(), threads);
  sgemm(true, false, width, vocab, tokens, x.data(), width, z.data(), vocab, dkernel.data());
  sgemm(false, true, tokens, width, vocab, z.data(), vocab, kernel, vocab, dx.data());
  sgd_dense(kernel, dkernel.data(), width * vocab, lr);
  sgd_dense(bias, dbias.data(), vocab, lr);
  sparse_sgd(embedding, dembedding, inputs, tokens, dx.data(), lr, threads);
  return loss;
}

Mlp::Mlp(float* e, float* w1_, float* b1_, float* w2_, float* b2_, std::size_t v, std::size_t c,
         std::size_t d, std::size_t hd, std::size_t t)
    : embedding(e), w1(w1_), b1(b1_), w2(w2_), b2(b2_), vocab(v), context(c), width(d),
      hidden(hd), tokens(t), x(t * c * d), h(t * hd), z(t * v), dh(t * hd), dx(t * c * d),
      dw1(c * d * hd), db1(hd), dw2(hd * v), db2(v), dembedding(v, d, t * c) {}

double Mlp::step(const std::int32_t* contexts, const std::int32_t* targets, float lr,
                 ForkJoin& threads) {
  const std::size_t in = context * width;
  gather(embedding, width, contexts, tokens * context, x.data(), threads);  // = concatenation
  sgemm(false, false, tokens, hidden, in, x.data(), in, w1, hidden, h.data());
  for (std::size_t t = 0; t < tokens; ++t) {
    float* row = h.data() + t * hidden;
    for (std::size_t j = 0; j < hidden; ++j) row[j] = std::tanh(row[j] + b1[j]);
  }
  sgemm(false, false, tokens, vocab, hidden, h.data(), hidden, w2, vocab, z.data());
  const double loss = softmax_xent_in_place(z.data(), b2, targets, tokens, vocab, threads);
  column_sums(z.data(), tokens, vocab, db2.data(), threads);
  sgemm(true, false, hidden, vocab, tokens, h.data(), hidden, z.data(), vocab, dw2.data());
  sgemm(false, true, tokens, hidden, vocab, z.data(), vocab, w2, vocab, dh.data());
  for (std::size_t i = 0; i < tokens * hidden; ++i) dh[i] *= 1.0f - h[i] * h[i];
  column_sums(dh.data(), tokens, hidden, db1.data(), threads);
  sgemm(true, false, in, hidden, tokens, x.data(), in, dh.data(), hidden, dw1.data());
  sgemm(false, true, tokens, in, hidden, dh.data(), hidden, w1, hidden, dx.data());
  sgd_dense(w2, dw2.data(), hidden * vocab, lr);
  sgd_dense(b2, db2.data(), vocab, lr);
  sgd_dense(w1, dw1.data(), in * hidden, lr);
  sgd_dense(b1, db1.data(), hidden, lr);
  sparse_sgd(embedding, dembedding, contexts, tokens * context, dx.data(), lr, threads);
  return loss;
}

}  // namespace bench::baseline
