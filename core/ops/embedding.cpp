// Embedding gather and its scatter-add backward.
// Shapes: table W (V, D), ids (T,) or (B, T), out Y (..., D).
#include "core/detail/parallel.hpp"
#include "core/detail/simd.hpp"
#include "core/detail/prefetch.hpp"
#include "core/op.hpp"
#include "core/ops.hpp"

namespace xgrad {
namespace {

using simd::Batch;

// dst[j] = src[j] for j < n, eight vectors at a time: all loads, then all stores, so a
// 256 B row (D=64) moves in one go as in glibc's memcpy. Inlined instead of a memcpy call
// per row: its instructions do not depend on where the row lies (glibc's memcpy picks
// paths by address, which callgrind would see as a dependence on V).
void copy_row(float* __restrict dst, const float* __restrict src, std::size_t n) {
  constexpr std::size_t k = Batch::size;
  std::size_t j = 0;
  for (; j + 8 * k <= n; j += 8 * k) {
    Batch b[8];
    for (std::size_t v = 0; v < 8; ++v) b[v] = Batch::load_unaligned(src + j + v * k);
    for (std::size_t v = 0; v < 8; ++v) b[v].store_unaligned(dst + j + v * k);
  }
  for (; j + k <= n; j += k) Batch::load_unaligned(src + j).store_unaligned(dst + j);
  for (; j < n; ++j) dst[j] = src[j];
}

// Y[t, :] = W[ids[t], :] for t in [first, last). A plain function of values, so the loop
// keeps everything in registers.
void gather_rows(const float* table, std::size_t width, const std::int32_t* ids,
                 std::size_t first, std::size_t last, float* out, bool ahead) {
  for (std::size_t t = first; t < last; ++t) {
    if (ahead && t + prefetch::kDistance < last) {
      const std::size_t next = static_cast<std::size_t>(ids[t + prefetch::kDistance]) * width;
      prefetch::row(table + next, width * sizeof(float));
    }
    copy_row(out + t * width, table + static_cast<std::size_t>(ids[t]) * width, width);
  }
}

}  // namespace

Tensor embedding_lookup(Tape& tape, const Tensor& table, const TokenIds& ids,
                        std::optional<std::int32_t> padding_idx) {
  const Shape& table_shape = table.shape();
  // Guarded: require_shape's message argument is a std::string, built on every call.
  if (table_shape.size() != 2) {
    require_shape(false, "embedding_lookup", "the table must be (V, D)", table_shape);
  }
  const std::size_t vocab = table_shape[0];
  const std::size_t width = table_shape[1];
  if (!ids.in_range(vocab)) {  // the message is built only when it is needed
    ids.check_range(vocab, table.name().empty() ? "embedding_lookup"
                                                : "embedding_lookup of " + table.name());
  }

  // Y[t, :] = W[ids[t], :], one contiguous row copy per token.
  Shape out_shape;
  out_shape.reserve(ids.shape().size() + 1);
  out_shape.assign(ids.shape().begin(), ids.shape().end());
  out_shape.push_back(width);
  Array out = uninitialized_array(out_shape);
  const float* rows = table.value().data();
  const std::int32_t* id = ids.data();
  float* y = out.data();
  const bool ahead = prefetch::pays(ids.size(), width);
  parallel::for_range(ids.size(), ids.size() * width, [=](std::size_t first, std::size_t last) {
    gather_rows(rows, width, id, first, last, y, ahead);
  });

  // dW[ids[t], :] += dY[t, :]: an explicit loop over tokens, so repeated ids sum, into a
  // row-sparse gradient. The closure shares the ids (a TokenIds copy is a pointer copy).
  auto backward = [table, ids, padding_idx](const Array&, const Array& dy) {
    table.mutable_grad().scatter_add_rows(ids.data(), ids.size(), dy.data(), padding_idx);
  };
  auto detail = [table, vocab] {
    const Gradient& g = table.grad();
    if (g.kind() == Gradient::Kind::row_sparse) {
      return "table gradient touches " + std::to_string(g.row_sparse().rows().size()) + " of " +
             std::to_string(vocab) + " rows";
    }
    return std::string(g.kind() == Gradient::Kind::dense ? "table gradient is dense"
                                                         : "table gradient is empty");
  };
  return tape.record("embedding_lookup", {table}, std::move(out), std::move(backward),
                     std::move(detail));
}

}  // namespace xgrad
