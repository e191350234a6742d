// Causal multi-head self-attention, forward and backward (the formulas are in core/ops.hpp).
// Not a general attention: no padding mask, no key/value cache.
// Shapes: B batches, T positions, C channels, H heads of hs = C / H features.
//   qkv (B, T, 3C): q = [..., 0:C], k = [..., C:2C], v = [..., 2C:3C], head h at h*hs;
//   A (B, H, T, T), the softmax kept for the backward; out (B, T, C).
//   With attention dropout, M (B, H, T, T) = uniform(key) < keep: drawn for the whole array,
//   so an element's mask depends on its index only, never on the blocking or the threads.
// Every product is an sgemm on a strided block of qkv (ld 3C) or out (ld C), never a copy.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/detail/parallel.hpp"
#include "core/detail/simd.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"

namespace xgrad {
namespace {

constexpr const char* kOp = "causal_self_attention";

using simd::Batch;
using Kept = simd::Mask;
using simd::kLanes;

// The products are cut into blocks of this many positions: rows [r0, r1) of S = q k^T need
// only the keys [0, r1), so most of the masked upper triangle is never computed.
constexpr std::size_t kBlock = 32;

struct Dims {
  std::size_t batch, time, channels, heads, head_size;
  float scale;  // 1 / sqrt(hs)
  std::size_t pairs() const { return batch * heads; }
  std::size_t ld_qkv() const { return 3 * channels; }
  // Head h of batch b's q block in qkv (k is + C, v is + 2C), and in out / dout.
  std::size_t qkv_offset(std::size_t pair) const {
    return pair / heads * time * ld_qkv() + pair % heads * head_size;
  }
  std::size_t out_offset(std::size_t pair) const {
    return pair / heads * time * channels + pair % heads * head_size;
  }
};

// C (m, n) = alpha op(A) op(B) + beta C on row-major blocks; the shape check keeps every
// size within BLAS's int.
void sgemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
           float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb,
           float beta, float* c, std::size_t ldc) {
  auto i = [](std::size_t x) { return static_cast<blasint>(x); };
  cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
              transpose_b ? CblasTrans : CblasNoTrans, i(m), i(n), i(k), alpha, a, i(lda), b,
              i(ldb), beta, c, i(ldc));
}

float largest_lane(const Batch& v) {
  alignas(64) float lanes[kLanes];
  v.store_aligned(lanes);
  return *std::max_element(lanes, lanes + kLanes);
}

// A row's last, partial batch row[full, n) (full < n < full + kLanes), `pad` in the other
// lanes. A row whose memory reaches a whole batch past `full` (up to `end`) is loaded whole
// and its extra lanes selected away: most rows of a causal mask end mid-batch, and a padded
// copy on each cost more than the row's vector work.
Batch load_tail(const float* row, std::size_t full, std::size_t n, std::size_t end, float pad) {
  if (full + kLanes <= end) {
    const Batch whole = Batch::load_unaligned(row + full);
    return xsimd::select(simd::first_lanes(n - full), whole, Batch(pad));
  }
  return simd::load_padded(row + full, n - full, pad);
}

// v's first n - full lanes into row[full, n) and zeros into row[n, end): the mask stays
// exactly 0 whatever v holds past n (-0 or NaN from an all -inf row).
void store_tail(const Batch& v, float* row, std::size_t full, std::size_t n, std::size_t end) {
  if (full + kLanes <= end) {
    xsimd::select(simd::first_lanes(n - full), v, Batch(0.0f)).store_unaligned(row + full);
    std::fill(row + full + kLanes, row + end, 0.0f);
  } else {
    simd::store_partial(v, row + full, n - full);
    std::fill(row + n, row + end, 0.0f);
  }
}

// row[0, n) = softmax(row[0, n)) with the row maximum subtracted; row[n, end) = 0, the mask.
// Every element goes through xsimd's exp, the tail's too: a scalar std::exp per row's tail
// cost more than the vector work, and the two differ in the last bit.
void causal_softmax_row(float* row, std::size_t n, std::size_t end) {
  const std::size_t full = n / kLanes * kLanes;
  const float lowest = -std::numeric_limits<float>::infinity();
  const Batch tail = full < n ? load_tail(row, full, n, end, lowest) : Batch(lowest);
  Batch top = tail;
  for (std::size_t s = 0; s < full; s += kLanes) top = xsimd::max(top, Batch::load_unaligned(row + s));
  const Batch shift(largest_lane(top));
  Batch lanes(0.0f);
  for (std::size_t s = 0; s < full; s += kLanes) {
    const Batch e = xsimd::exp(Batch::load_unaligned(row + s) - shift);
    e.store_unaligned(row + s);
    lanes += e;
  }
  const Batch tail_e = full < n ? xsimd::exp(tail - shift) : Batch(0.0f);  // exp(-inf) = 0
  lanes += tail_e;
  const Batch inverse(1.0f / xsimd::hadd(lanes));  // sum >= 1: the maximum gives exp(0)
  for (std::size_t s = 0; s < full; s += kLanes) (Batch::load_unaligned(row + s) * inverse).store_unaligned(row + s);
  if (full < n) {
    store_tail(tail_e * inverse, row, full, n, end);
  } else {
    std::fill(row + n, row + end, 0.0f);
  }
}

// The softmax's backward on one row: d[0, n) = a * (d - sum(d * a)) (the scale is applied
// in the products that use it); d[n, end) = 0. a[n, end) is 0, the forward's mask; d beyond
// n is whatever the product or an earlier pair left there, so its tail is selected, never
// multiplied by a's zeros (an inf there would give NaN).
void softmax_backward_row(const float* a, float* d, std::size_t n, std::size_t end) {
  const std::size_t full = n / kLanes * kLanes;
  const Batch a_tail = full < n ? load_tail(a, full, n, end, 0.0f) : Batch(0.0f);
  const Batch d_tail = full < n ? load_tail(d, full, n, end, 0.0f) : Batch(0.0f);
  Batch lanes(0.0f);
  for (std::size_t s = 0; s < full; s += kLanes) lanes += Batch::load_unaligned(d + s) * Batch::load_unaligned(a + s);
  if (full < n) lanes += d_tail * a_tail;
  const Batch dot(xsimd::hadd(lanes));
  for (std::size_t s = 0; s < full; s += kLanes) {
    const Batch as = Batch::load_unaligned(a + s);
    (as * (Batch::load_unaligned(d + s) - dot)).store_unaligned(d + s);
  }
  if (full < n) {
    store_tail(a_tail * (d_tail - dot), d, full, n, end);
  } else {
    std::fill(d + n, d + end, 0.0f);
  }
}

// Attention dropout of one (b, h) pair: u (T, T) its uniform draws, keep = 1 - rate; mask
// (T, T), when the backward needs it, receives u < keep. u null: no dropout.
struct PairDropout {
  const float* u = nullptr;
  float keep = 1.0f;
  bool* mask = nullptr;
};

// Attention dropout's selects, as the dropout op writes them (a dropped inf or NaN gives 0).
// Division and comparison round the same in a vector as alone, so a row's bits do not depend
// on where its vector loop ends.
// y[0, n) = u < keep ? x / keep : 0; mask[0, n), when non-null, = u < keep.
void drop_by_draws(const float* u, const float* x, float keep, float* y, bool* mask, std::size_t n) {
  const Batch keep_b(keep), zero(0.0f);
  std::size_t s = 0;
  for (; s + kLanes <= n; s += kLanes) {
    const Kept kept = Batch::load_unaligned(u + s) < keep_b;
    xsimd::select(kept, Batch::load_unaligned(x + s) / keep_b, zero).store_unaligned(y + s);
    if (mask) kept.store_unaligned(mask + s);
  }
  for (; s < n; ++s) {
    const bool kept = u[s] < keep;
    y[s] = kept ? x[s] / keep : 0.0f;
    if (mask) mask[s] = kept;
  }
}

// y[0, n) = mask ? x / keep : 0 (y may be x).
void drop_by_mask(const bool* mask, const float* x, float keep, float* y, std::size_t n) {
  const Batch keep_b(keep), zero(0.0f);
  std::size_t s = 0;
  for (; s + kLanes <= n; s += kLanes) {
    xsimd::select(Kept::load_unaligned(mask + s), Batch::load_unaligned(x + s) / keep_b, zero)
        .store_unaligned(y + s);
  }
  for (; s < n; ++s) y[s] = mask[s] ? x[s] / keep : 0.0f;
}

// One (b, h) pair: att (T, T) = A, out_h (T, hs) = (A * M / keep) v, or A v without dropout.
// rows is scratch of kBlock x T floats, used with dropout only.
void attend(const Dims& d, const float* q, float* att, float* out, const PairDropout& drop,
            float* rows_scratch) {
  const std::size_t T = d.time, hs = d.head_size, ld = d.ld_qkv();
  const float* k = q + d.channels;
  const float* v = k + d.channels;
  for (std::size_t r0 = 0; r0 < T; r0 += kBlock) {
    const std::size_t r1 = std::min(r0 + kBlock, T);
    float* rows = att + r0 * T;
    // S[r0:r1, 0:r1] = scale q[r0:r1] k[0:r1]^T, then its rows' causal softmax.
    sgemm(false, true, r1 - r0, r1, hs, d.scale, q + r0 * ld, ld, k, ld, 0.0f, rows, T);
    for (std::size_t t = r0; t < r1; ++t) causal_softmax_row(att + t * T, t + 1, T);
    const float* weights = rows;
    if (drop.u) {
      // The undropped A stays in att for the softmax's backward; the product uses a copy.
      // The backward's mask is the whole row's, the product needs the columns [0, r1).
      for (std::size_t t = r0; t < r1; ++t) {
        drop_by_draws(drop.u + t * T, att + t * T, drop.keep, rows_scratch + (t - r0) * T,
                      drop.mask ? drop.mask + t * T : nullptr, drop.mask ? T : r1);
      }
      weights = rows_scratch;
    }
    // out[r0:r1] = A[r0:r1, 0:r1] v[0:r1]: A is zero beyond r1 in these rows.
    sgemm(false, false, r1 - r0, hs, r1, 1.0f, weights, T, v, ld, 0.0f, out + r0 * d.channels,
          d.channels);
  }
}

// One (b, h) pair's backward into its q, k, v blocks of dqkv (beta 0: written, 1: added).
// ds (T, T) is scratch. With dropout (mask non-null), dropped (T, T) is scratch for
// A * M / keep, the weights the forward multiplied v by.
void attend_backward(const Dims& d, const float* q, const float* att, const float* dout,
                     float* dq, float beta, float* ds, const bool* mask, float keep,
                     float* dropped) {
  const std::size_t T = d.time, hs = d.head_size, ld = d.ld_qkv(), C = d.channels;
  const float* k = q + C;
  const float* v = k + C;
  float* dk = dq + C;
  float* dv = dk + C;
  const float* weights = att;
  if (mask) {
    drop_by_mask(mask, att, keep, dropped, T * T);
    weights = dropped;
  }
  for (std::size_t r0 = 0; r0 < T; r0 += kBlock) {
    const std::size_t r1 = std::min(r0 + kBlock, T);
    float* rows = ds + r0 * T;
    // dA[r0:r1, 0:r1] = dout[r0:r1] v[0:r1]^T (times M / keep with dropout), then
    // dS = A * (dA - rowsum(dA * A)) in place, with the undropped A.
    sgemm(false, true, r1 - r0, r1, hs, 1.0f, dout + r0 * C, C, v, ld, 0.0f, rows, T);
    for (std::size_t t = r0; t < r1; ++t) {
      float* row = ds + t * T;
      if (mask) drop_by_mask(mask + t * T, row, keep, row, t + 1);
      softmax_backward_row(att + t * T, row, t + 1, r1);
    }
    // dq[r0:r1] = scale dS[r0:r1, 0:r1] k[0:r1].
    sgemm(false, false, r1 - r0, hs, r1, d.scale, rows, T, k, ld, beta, dq + r0 * ld, ld);
  }
  // Keys and values s in [c0, c1) are used by the queries t in [c0, T) only.
  for (std::size_t c0 = 0; c0 < T; c0 += kBlock) {
    const std::size_t c1 = std::min(c0 + kBlock, T);
    const std::size_t corner = c0 * T + c0;
    // dk[c0:c1] = scale dS[c0:T, c0:c1]^T q[c0:T]; dv[c0:c1] = W[c0:T, c0:c1]^T dout[c0:T],
    // W = A, or A * M / keep with dropout.
    sgemm(true, false, c1 - c0, hs, T - c0, d.scale, ds + corner, T, q + c0 * ld, ld, beta,
          dk + c0 * ld, ld);
    sgemm(true, false, c1 - c0, hs, T - c0, 1.0f, weights + corner, T, dout + c0 * C, C, beta,
          dv + c0 * ld, ld);
  }
}

Dims checked_dims(const Tensor& qkv, std::size_t heads) {
  const Shape s = qkv.shape();
  require_shape(s.size() == 3, kOp, "qkv must be (B, T, 3C)", s);
  require_shape(s[0] > 0 && s[1] > 0 && s[2] > 0, kOp, "qkv must not be empty", s);
  require_shape(s[2] % 3 == 0, kOp, "qkv's last axis must be 3C (q, k, v)", s);
  require_shape(heads > 0, kOp, "heads must be at least 1", s);
  const std::size_t channels = s[2] / 3;
  require_shape(channels % heads == 0, kOp,
                "C = " + std::to_string(channels) + " is not divisible by " +
                    std::to_string(heads) + " heads",
                s);
  const auto int_max = static_cast<std::size_t>(std::numeric_limits<int>::max());
  require_shape(s[1] <= int_max && s[2] <= int_max, kOp, "T or 3C exceeds BLAS's int", s);
  const std::size_t head_size = channels / heads;
  return {s[0], s[1], channels, heads, head_size,
          1.0f / std::sqrt(static_cast<float>(head_size))};
}

// The op with dropout at keep = 1 - rate drawn from key (rate > 0), or without (rate 0).
Tensor attention(Tape& tape, const Tensor& qkv, std::size_t heads, float rate,
                 const random::Key& key) {
  const Dims d = checked_dims(qkv, heads);
  const std::size_t T = d.time;
  const bool keep_att = tape.needs_gradient(qkv);
  const bool dropping = rate > 0.0f;
  const float keep = 1.0f - rate;
  Array att = keep_att ? uninitialized_array({d.batch, d.heads, T, T})
                       : Array::from_shape(Array::shape_type{0});
  // Drawn whole, (B, H, T, T), so that pair p's draws are u[p * T * T, (p + 1) * T * T).
  const Array u = dropping ? random::uniform(key, {d.batch, d.heads, T, T})
                           : Array::from_shape(Array::shape_type{0});
  // One bool per element for the backward, as the dropout op keeps.
  std::shared_ptr<bool[]> mask(dropping && keep_att ? new bool[d.pairs() * T * T] : nullptr);
  Array out = uninitialized_array({d.batch, T, d.channels});
  // About one unit per 16 multiply-adds (as in matmul) plus the softmax's pass over A.
  const std::size_t work = d.pairs() * T * T * (d.head_size / 16 + 1);
  parallel::keep_blas_single_threaded();
  const float* x = qkv.value().data();
  parallel::for_range(d.pairs(), work, [&](std::size_t first, std::size_t last) {
    std::vector<float> scratch(keep_att ? 0 : T * T);  // A of one pair, when nothing keeps it
    std::vector<float> rows(dropping ? kBlock * T : 0);
    for (std::size_t p = first; p < last; ++p) {
      float* a = keep_att ? att.data() + p * T * T : scratch.data();
      PairDropout drop;
      if (dropping) drop = {u.data() + p * T * T, keep, mask ? mask.get() + p * T * T : nullptr};
      attend(d, x + d.qkv_offset(p), a, out.data() + d.out_offset(p), drop, rows.data());
    }
  });

  auto backward = [qkv, att = std::move(att), mask = std::move(mask), keep, d,
                   work](const Array&, const Array& dy) {
    // A first gradient is written block by block into a fresh array (beta 0, each block
    // exactly once); an existing one is added to in place (beta 1).
    GradientTarget target(qkv);
    float* dqkv = target.data();
    if (!dqkv) return;
    const bool add = target.add();
    const float* x = qkv.value().data();
    const std::size_t TT = d.time * d.time;
    parallel::keep_blas_single_threaded();
    parallel::for_range(d.pairs(), 2 * work, [&](std::size_t first, std::size_t last) {
      std::vector<float> ds(TT);
      std::vector<float> dropped(mask ? TT : 0);
      for (std::size_t p = first; p < last; ++p) {
        attend_backward(d, x + d.qkv_offset(p), att.data() + p * TT, dy.data() + d.out_offset(p),
                        dqkv + d.qkv_offset(p), add ? 1.0f : 0.0f, ds.data(),
                        mask ? mask.get() + p * TT : nullptr, keep, dropped.data());
      }
    });
    target.commit();
  };
  return tape.record(kOp, {qkv}, std::move(out), std::move(backward));
}

}  // namespace

Tensor causal_self_attention(Tape& tape, const Tensor& qkv, std::size_t heads) {
  return attention(tape, qkv, heads, 0.0f, random::Key{});
}

Tensor causal_self_attention(Tape& tape, const Tensor& qkv, std::size_t heads,
                             float attention_dropout, const random::Key& key) {
  if (!(attention_dropout >= 0.0f && attention_dropout < 1.0f)) {
    throw std::invalid_argument(std::string(kOp) + ": attention_dropout must be in [0, 1) (got " +
                                std::to_string(attention_dropout) + ")");
  }
  const bool off = attention_dropout == 0.0f || tape.mode() == Tape::Mode::inference;
  return attention(tape, qkv, heads, off ? 0.0f : attention_dropout, key);
}

}  // namespace xgrad
