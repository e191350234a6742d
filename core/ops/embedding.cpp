// Embedding gather and its scatter-add backward.
// Shapes: table W (V, D), ids (T,) or (B, T), out Y (..., D).
#include <cstring>

#include "core/ops.hpp"
#include "core/ops/op_support.hpp"

namespace xgrad {

using namespace ops_support;

namespace {
constexpr std::size_t kPrefetchRows = 8;  // rows ahead: measured best for D = 64..256
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
  Shape out_shape;
  out_shape.reserve(ids.shape().size() + 1);
  out_shape.assign(ids.shape().begin(), ids.shape().end());
  out_shape.push_back(width);
  Array out = new_array(out_shape);
  const float* rows = table.value().data();
  const std::int32_t* id = ids.data();
  float* y = out.data();
  const std::size_t row_bytes = width * sizeof(float);
  parallel::for_range(ids.size(), ids.size() * width, [&](std::size_t first, std::size_t last) {
    for (std::size_t t = first; t < last; ++t) {
      if (t + kPrefetchRows < last) {
        prefetch_row(rows + static_cast<std::size_t>(id[t + kPrefetchRows]) * width, row_bytes);
      }
      std::memcpy(y + t * width, rows + static_cast<std::size_t>(id[t]) * width, row_bytes);
    }
  });
  Tensor output = make_output(std::move(out), table.requires_grad());
  if (!table.requires_grad()) return output;

  // dW[ids[t], :] += dY[t, :]: an explicit loop over tokens, so repeated ids accumulate
  // (Gradient::scatter_add_rows keeps the gradient row-sparse).
  auto backward = [table, output, ids = IdsCopy(ids), padding_idx] {
    table.mutable_grad().scatter_add_rows(ids.data(), ids.size(), output_grad(output), padding_idx);
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
