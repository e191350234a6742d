// Hand-written embedding kernels: what a careful C programmer writes for the same work.
#include "baseline_embedding.hpp"

#include <cstring>

namespace bench::baseline {

SparseGrad::SparseGrad(std::size_t vocab, std::size_t w, std::size_t max_tokens)
    : width(w), slot_of_row(vocab, -1), slot_of_token(max_tokens), values(max_tokens * w) {
  rows.reserve(max_tokens);
}

void gather(const float* table, std::size_t width, const std::int32_t* ids, std::size_t tokens,
            float* out, ForkJoin& threads) {
  threads.run(tokens, [&](std::size_t begin, std::size_t end) {
    for (std::size_t t = begin; t < end; ++t) {
      std::memcpy(out + t * width, table + static_cast<std::size_t>(ids[t]) * width,
                  width * sizeof(float));
    }
  }, tokens * width);
}

void scatter(SparseGrad& g, const std::int32_t* ids, std::size_t tokens, const float* dout,
             ForkJoin& threads) {
  const std::size_t width = g.width;
  // Slots in order of first appearance; a token that opens a slot is marked by ~slot.
  // Branch-free, as xgrad's: whether a row is new is unpredictable.
  const std::size_t before = g.rows.size();
  g.rows.resize(before + tokens);
  std::size_t opened = before;
  for (std::size_t t = 0; t < tokens; ++t) {
    std::int32_t& slot = g.slot_of_row[static_cast<std::size_t>(ids[t])];
    const std::int32_t seen = slot, next = static_cast<std::int32_t>(opened);
    g.rows[opened] = ids[t];
    slot = seen < 0 ? next : seen;
    g.slot_of_token[t] = seen < 0 ? ~next : seen;
    opened += seen < 0 ? 1 : 0;
  }
  g.rows.resize(opened);
  // Each thread owns a range of slots and adds its tokens in token order.
  const std::size_t unique = g.rows.size();
  threads.run(unique, [&](std::size_t first, std::size_t last) {
    for (std::size_t t = 0; t < tokens; ++t) {
      const std::int32_t code = g.slot_of_token[t];
      const std::size_t slot = static_cast<std::size_t>(code < 0 ? ~code : code);
      if (slot < first || slot >= last) continue;
      float* dst = g.values.data() + slot * width;
      const float* src = dout + t * width;
      if (code < 0) {
        std::memcpy(dst, src, width * sizeof(float));
      } else {
        for (std::size_t j = 0; j < width; ++j) dst[j] += src[j];
      }
    }
  }, tokens * width);
}

void apply_sgd(float* table, const SparseGrad& g, float lr, ForkJoin& threads) {
  const std::size_t width = g.width;
  threads.run(g.rows.size(), [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      float* p = table + static_cast<std::size_t>(g.rows[i]) * width;
      const float* v = g.values.data() + i * width;
      for (std::size_t j = 0; j < width; ++j) p[j] -= lr * v[j];
    }
  }, g.rows.size() * width);
}

void clear(SparseGrad& g) {
  for (std::int32_t row : g.rows) g.slot_of_row[static_cast<std::size_t>(row)] = -1;
  g.rows.clear();
}

namespace {

// Sum in double with 16 lanes, as xgrad's sum and mean do.
double sum_in_double(const float* x, std::size_t n) {
  double lane[16] = {};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 16; ++k) lane[k] += static_cast<double>(x[i + k]);
  }
  double total = 0.0;
  for (double l : lane) total += l;
  for (; i < n; ++i) total += static_cast<double>(x[i]);
  return total;
}

}  // namespace

double mean_of_squares(const float* y, std::size_t n) {
  double lane[16] = {};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 16; ++k) lane[k] += static_cast<double>(y[i + k] * y[i + k]);
  }
  double total = 0.0;
  for (; i < n; ++i) total += static_cast<double>(y[i] * y[i]);
  for (double l : lane) total += l;
  return total / static_cast<double>(n);
}

void mean_of_squares_grad(const float* y, std::size_t n, float* dy, ForkJoin& threads) {
  const float scale = 2.0f / static_cast<float>(n);
  threads.run(n, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) dy[i] = scale * y[i];
  }, n);
}

double sparse_step(float* table, SparseGrad& grad, const std::int32_t* ids, std::size_t tokens,
                   float lr, float* y, float* dy, ForkJoin& threads) {
  const std::size_t n = tokens * grad.width;
  gather(table, grad.width, ids, tokens, y, threads);
  const double loss = mean_of_squares(y, n);
  mean_of_squares_grad(y, n, dy, threads);
  scatter(grad, ids, tokens, dy, threads);
  apply_sgd(table, grad, lr, threads);
  clear(grad);
  return loss;
}

double sparse_step_writing_square(float* table, SparseGrad& grad, const std::int32_t* ids,
                                  std::size_t tokens, float lr, float* y, float* square, float* dy,
                                  ForkJoin& threads) {
  const std::size_t n = tokens * grad.width;
  gather(table, grad.width, ids, tokens, y, threads);
  threads.run(n, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) square[i] = y[i] * y[i];
  }, n);
  const double total = sum_in_double(square, n);
  mean_of_squares_grad(y, n, dy, threads);
  scatter(grad, ids, tokens, dy, threads);
  apply_sgd(table, grad, lr, threads);
  clear(grad);
  return total / static_cast<double>(n);
}

double dense_step(float* table, std::size_t vocab, std::size_t width, float* dense_grad,
                  const std::int32_t* ids, std::size_t tokens, float lr, float* y, float* dy,
                  ForkJoin& threads) {
  const std::size_t n = tokens * width;
  const std::size_t size = vocab * width;
  gather(table, width, ids, tokens, y, threads);
  const double loss = mean_of_squares(y, n);
  mean_of_squares_grad(y, n, dy, threads);
  threads.run(size, [&](std::size_t begin, std::size_t end) {
    std::memset(dense_grad + begin, 0, (end - begin) * sizeof(float));
  }, size);
  for (std::size_t t = 0; t < tokens; ++t) {
    float* dst = dense_grad + static_cast<std::size_t>(ids[t]) * width;
    const float* src = dy + t * width;
    for (std::size_t j = 0; j < width; ++j) dst[j] += src[j];
  }
  threads.run(size, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) table[i] -= lr * dense_grad[i];
  }, size);
  return loss;
}

}  // namespace bench::baseline
