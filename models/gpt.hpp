// GPT: a pre-norm transformer language model as nanoGPT's model.py lays it out.
//   ids (B, T) -> wte (B, T, C) + wpe[0..T) (T, C) -> L x TransformerBlock "h<i>" -> LayerNorm ln_f
//              -> head: Linear (C, V) without bias, or tied: h @ wte^T          logits (B, T, V)
// GPT-2's initialisation (embeddings and kernels normal(0.02), residual projections
// normal(0.02 / sqrt(2 L)), biases zeros, LayerNorm weights ones). Every parameter comes
// from one Scope rooted at prng_key(seed), so its key and name follow its path ("wte",
// "h0.attn.qkv.kernel", ..., "head.kernel"). Dropout (if any) on each sublayer's output,
// and (attention_dropout) on the attention weights, as nanoGPT's; none on the embeddings.
// Its PyTorch twin is bench/torch_transformer.py. Not a model zoo: one model, small and
// readable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/init/random.hpp"
#include "core/ops.hpp"
#include "layers/embed.hpp"
#include "layers/layer_norm.hpp"
#include "layers/linear.hpp"
#include "layers/scope.hpp"
#include "layers/transformer_block.hpp"
#include "optim/adamw.hpp"

namespace xgrad::models {

struct GPTConfig {
  std::size_t vocab = 256;         // V
  std::size_t context = 64;        // block size T: the most positions a sequence may have
  std::size_t layers = 2;          // L
  std::size_t heads = 4;           // H, dividing C
  std::size_t embed_dim = 128;     // C
  float dropout = 0.0f;            // on each sublayer's output, in [0, 1)
  float attention_dropout = 0.0f;  // on the attention weights softmax(q k^T), in [0, 1)
  bool bias = true;                // false: no bias in any Linear or LayerNorm (nanoGPT's bias=False)
  bool tie = false;                // the head is the token table: logits = h @ wte^T

  friend bool operator==(const GPTConfig& a, const GPTConfig& b) {
    return a.vocab == b.vocab && a.context == b.context && a.layers == b.layers && a.heads == b.heads &&
           a.embed_dim == b.embed_dim && a.dropout == b.dropout && a.attention_dropout == b.attention_dropout &&
           a.bias == b.bias && a.tie == b.tie;
  }
  friend bool operator!=(const GPTConfig& a, const GPTConfig& b) { return !(a == b); }
};

// "GPT: wte(256, 128) + wpe(64, 128) -> 2 x [ln -> attention 4 heads -> ln -> MLP 512] ->
// ln_f -> Dense 256": the layers in one line (", dropout 0.2", ", attention dropout 0.1",
// ", no bias" and "-> wte^T 256 (tied)" when so configured).
std::string describe(const GPTConfig& config);

class GPT {
 public:
  // Throws std::invalid_argument for a zero V, T, L, H or C, H not dividing C, or dropout or
  // attention_dropout outside [0, 1), before anything is drawn.
  GPT(const GPTConfig& config, std::int64_t seed);

  const GPTConfig& config() const { return config_; }

  // ids (B, T) with 1 <= T <= context -> logits (B, T, V), recorded on `tape`. Dropout
  // applies only when `training` is true, a rate is positive and the tape is a training tape.
  // Throws ShapeError for ids that are not (B, T) with B >= 1 and 1 <= T <= context, and
  // TokenIdOutOfRange for an id outside [0, V), before anything is recorded.
  Tensor logits(Tape& tape, const TokenIds& ids, const Key& dropout_key, bool training = true) const;

  // ids (B, T) -> the logits of the last position only, (B, V), without dropout: the head
  // runs on one row per sequence (slice(h, {all, index(-1)}) before ln_f and the head), as
  // nanoGPT's forward without targets. Throws as logits().
  Tensor next_logits(Tape& tape, const TokenIds& ids) const;

  // `prompt` followed by `new_tokens` ids, each predicted from the last `context` ids at most
  // (a longer prompt is cropped, as nanoGPT's generate). temperature 0 takes the most likely
  // id; otherwise an id is drawn from softmax(logits / temperature) with the k-th new token's
  // uniform number from fold_in(key, k), so a key repeats its text. Throws
  // std::invalid_argument for an empty prompt or a negative or non-finite temperature, and
  // TokenIdOutOfRange for a prompt id outside [0, V).
  std::vector<std::int64_t> generate(const std::vector<std::int64_t>& prompt, std::size_t new_tokens,
                                     float temperature, const Key& key) const;

  // nanoGPT's configure_optimizers: {2-D weights (wte, wpe, kernels): weight_decay},
  // {everything else (biases, LayerNorm weights): 0}, each in parameter order.
  std::vector<optim::ParameterGroup> parameter_groups(float weight_decay) const;

  // "wte", "wpe", then each block's "h<i>.ln1.weight", "h<i>.ln1.bias", "h<i>.attn.qkv.kernel",
  // ... (ln1, attn, ln2, mlp), "ln_f.weight", "ln_f.bias", "head.kernel" (no head when tied,
  // no biases without bias): the scope's list, in creation order.
  const std::vector<layers::NamedParameter>& parameters() const { return scope_.parameters(); }
  std::vector<Tensor> tensors() const { return scope_.tensors(); }
  std::size_t parameter_count() const { return scope_.size(); }

  // wte's gradient is row-sparse (the rows of the batch's ids) untied; tied, the head adds a
  // dense part.
  const layers::Embed& token_embed() const { return wte_; }
  const layers::Embed& position_embed() const { return wpe_; }
  const std::vector<layers::TransformerBlock>& blocks() const { return blocks_; }
  const layers::LayerNorm& final_norm() const { return ln_f_; }
  // nullptr when tied.
  const layers::Linear* head() const { return head_ ? &*head_ : nullptr; }

 private:
  // The blocks' output h (B, T, C), before ln_f.
  Tensor hidden(Tape& tape, const TokenIds& ids, const Key& dropout_key, bool training) const;
  // h (..., C) -> logits (..., V) through ln_f and the head.
  Tensor head_logits(Tape& tape, const Tensor& h) const;

  GPTConfig config_;
  layers::Scope scope_;
  layers::Embed wte_;
  layers::Embed wpe_;
  std::vector<layers::TransformerBlock> blocks_;
  layers::LayerNorm ln_f_;
  std::optional<layers::Linear> head_;
  TokenIds positions_;  // 0 .. context-1, the full-length sequence's wpe rows
};

}  // namespace xgrad::models
