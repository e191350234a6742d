// The toy GPT: a pre-norm transformer as nanoGPT lays it out (its PyTorch twin is bench/torch_transformer.py).
//   ids (B, T) -> wte (B, T, C) + wpe[0..T) (T, C) -> L x TransformerBlock -> LayerNorm ln_f
//              -> Dense head (C, V), no bias, untied from wte      logits (B, T, V)
// GPT-2's initialisation (embeddings and kernels normal(0.02), residual projections
// normal(0.02 / sqrt(2 L)), biases zeros), every parameter drawn from a key folded out of
// prng_key(seed) by its path ("wte", "h0" then "attn" then "qkv", ...). Dropout (if any) on
// each sublayer's output, as the PyTorch anchor, and (attention_dropout, if any) on the
// attention weights, as nanoGPT's attn_dropout; none on the embeddings.
// Not a general model zoo: it exists to be trained by next_token and compared with PyTorch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xgrad.hpp"

namespace next_token {

struct TransformerConfig {
  std::size_t vocab = 256;      // V
  std::size_t context = 64;     // block size T: the most positions a sequence may have
  std::size_t layers = 2;       // L
  std::size_t heads = 4;        // H, dividing C
  std::size_t embed_dim = 128;  // C
  float dropout = 0.0f;         // on each sublayer's output, in [0, 1)
  float attention_dropout = 0.0f;  // on the attention weights softmax(q k^T), in [0, 1)

  friend bool operator==(const TransformerConfig& a, const TransformerConfig& b) {
    return a.vocab == b.vocab && a.context == b.context && a.layers == b.layers && a.heads == b.heads &&
           a.embed_dim == b.embed_dim && a.dropout == b.dropout && a.attention_dropout == b.attention_dropout;
  }
};

// "GPT: wte(256, 128) + wpe(64, 128) -> 2 x [ln -> attention 4 heads -> ln -> MLP 512] ->
// ln_f -> Dense 256": the layers in one line (with ", dropout 0.2" and ", attention dropout
// 0.1" when there are).
std::string describe(const TransformerConfig& config);

class Transformer {
 public:
  // A trainable parameter and its file-friendly name: "wte", "wpe", "h0.ln1.weight",
  // "h0.attn.qkv.kernel", ..., "ln_f.weight", "ln_f.bias", "head.kernel".
  struct Parameter {
    std::string name;
    xgrad::Tensor tensor;
  };

  // Throws std::invalid_argument for a zero V, T, L, H or C, H not dividing C, or dropout or
  // attention_dropout outside [0, 1).
  Transformer(const TransformerConfig& config, std::int64_t seed);

  const TransformerConfig& config() const { return config_; }

  // ids (B, T) with 1 <= T <= context -> logits (B, T, V), recorded on `tape`. dropout_key is
  // used only when config.dropout or attention_dropout > 0 and the tape is a training tape. Throws ShapeError for
  // ids that are not 2-D or have more positions than the context, and TokenIdOutOfRange (from
  // the lookup) for an id outside [0, V), before anything is recorded.
  xgrad::Tensor logits(xgrad::Tape& tape, const xgrad::TokenIds& ids, const xgrad::random::Key& dropout_key) const;

  // In the order named above; blocks in order, each ln1, attn, ln2, mlp.
  std::vector<Parameter> parameters() const;
  std::vector<xgrad::Tensor> tensors() const;
  std::size_t parameter_count() const;

  // wte: untied, so its gradient stays row-sparse (only the rows of the batch's ids).
  const xgrad::layers::Embed& token_embed() const { return wte_; }
  const xgrad::layers::Embed& position_embed() const { return wpe_; }
  const std::vector<xgrad::layers::TransformerBlock>& blocks() const { return blocks_; }
  const xgrad::layers::LayerNorm& final_norm() const { return ln_f_; }
  const xgrad::layers::Linear& head() const { return head_; }

 private:
  TransformerConfig config_;
  xgrad::layers::Scope scope_;
  xgrad::layers::Embed wte_;
  xgrad::layers::Embed wpe_;
  std::vector<xgrad::layers::TransformerBlock> blocks_;
  xgrad::layers::LayerNorm ln_f_;
  xgrad::layers::Linear head_;
  xgrad::TokenIds positions_;  // 0 .. context-1, the full-length sequence's wpe rows
};

}  // namespace next_token
