// Embedding gather and its scatter-add backward.
// Shapes: table W (V, D), ids (T,) or (B, T), out Y (..., D).
#include <cstring>

#include "core/ops.hpp"
#include "core/ops/op_support.hpp"

namespace xgrad {

using namespace ops_support;

Tensor embedding_lookup(Tape& tape, const Tensor& table, const TokenIds& ids,
                        std::optional<std::int32_t> padding_idx) {
  const Shape table_shape = table.shape();
  require_shape(table_shape.size() == 2, "embedding_lookup", "the table must be (V, D)",
                table_shape);
  const std::size_t vocab = table_shape[0];
  const std::size_t width = table_shape[1];
  ids.check_range(vocab, "embedding_lookup");

  // Y[t, :] = W[ids[t], :], one contiguous row copy per token.
  Shape out_shape = ids.shape();
  out_shape.push_back(width);
  Array out = Array::from_shape(out_shape);
  const float* rows = table.value().data();
  for (std::size_t t = 0; t < ids.size(); ++t) {
    std::memcpy(out.data() + t * width, rows + static_cast<std::size_t>(ids[t]) * width,
                width * sizeof(float));
  }
  Tensor output = make_output(std::move(out), table.requires_grad());
  if (!table.requires_grad()) return output;

  // dW[ids[t], :] += dY[t, :]: an explicit loop, so repeated ids accumulate.
  auto backward = [table, output, ids, padding_idx, width] {
    const float* dout = output_grad(output);
    Gradient& dtable = table.mutable_grad();
    for (std::size_t t = 0; t < ids.size(); ++t) {
      if (padding_idx && ids[t] == *padding_idx) continue;
      float* dst = dtable.accumulate_row(ids[t]);
      const float* src = dout + t * width;
      for (std::size_t j = 0; j < width; ++j) dst[j] += src[j];
    }
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
  tape.record({"embedding_lookup", {table}, output, backward, detail});
  return output;
}

}  // namespace xgrad
