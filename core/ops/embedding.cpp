// Embedding gather and its scatter-add backward.
// Shapes: table W (V, D), ids (T,) or (B, T), out Y (..., D).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <xsimd/xsimd.hpp>
#pragma GCC diagnostic pop

#include "core/ops.hpp"
#include "core/ops/op_support.hpp"
#include "core/detail/prefetch.hpp"

namespace xgrad {

using namespace ops_support;

namespace {

using Batch = xsimd::batch<float>;

// dst[j] = src[j] for j < n, eight vectors at a time: all loads, then all stores, so a
// 256 B row (D=64) moves in one go as in glibc's memcpy (four at a time was ~30% slower
// there). Inlined instead of a memcpy call per row: as fast for 256 B - 1 KB rows here,
// and its instructions do not depend on where the row lies (glibc's memcpy picks paths by
// address, which callgrind sees as V).
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
  const auto& table_shape = table.value().shape();
  if (table_shape.size() != 2) {
    require_shape(false, "embedding_lookup", "the table must be (V, D)", table.shape());
  }
  const std::size_t vocab = table_shape[0];
  const std::size_t width = table_shape[1];
  ids.check_range(vocab, "embedding_lookup");

  // Y[t, :] = W[ids[t], :], one contiguous row copy per token.
  Array::shape_type out_shape(ids.shape().begin(), ids.shape().end());  // inline, no malloc
  out_shape.push_back(width);
  Array out = new_array(out_shape);
  const float* rows = table.value().data();
  const std::int32_t* id = ids.data();
  float* y = out.data();
  const bool ahead = prefetch::pays(ids.size(), width);
  parallel::for_range(ids.size(), ids.size() * width, [=](std::size_t first, std::size_t last) {
    gather_rows(rows, width, id, first, last, y, ahead);
  });
  Tensor output = make_output(std::move(out), table.requires_grad());
  if (!table.requires_grad()) return output;

  // dW[ids[t], :] += dY[t, :]: an explicit loop over tokens, so repeated ids accumulate
  // (Gradient::scatter_add_rows keeps the gradient row-sparse).
  // A pending scaled dY (from mean_square) is read as factor * Y: no (T, D) buffer.
  auto backward = [table, output, ids = IdsCopy(ids), padding_idx] {
    Gradient& grad = table.mutable_grad();
    if (auto scaled = output.grad().scaled_value()) {
      grad.scatter_add_rows(ids.data(), ids.size(), scaled->source, padding_idx, scaled->factor);
    } else {
      grad.scatter_add_rows(ids.data(), ids.size(), output_grad(output), padding_idx);
    }
  };
  // The record keeps `table` alive, so its gradient's address is stable; capturing the
  // pointer keeps this closure small enough for std::function to store it inline.
  auto detail = [grad = &table.grad(), vocab] {
    const Gradient& g = *grad;
    if (g.kind() == Gradient::Kind::row_sparse) {
      return "table gradient touches " + std::to_string(g.row_sparse().rows().size()) + " of " +
             std::to_string(vocab) + " rows";
    }
    return std::string(g.kind() == Gradient::Kind::dense ? "table gradient is dense"
                                                         : "table gradient is empty");
  };
  tape.record({"embedding_lookup", {table}, output, std::move(backward), std::move(detail)});
  return output;
}

}  // namespace xgrad
