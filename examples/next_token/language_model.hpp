// The one interface train/evaluate/generate/checkpoint use for either model next_token can
// train: the context-window MLP (model.hpp) or the small GPT (models/gpt.hpp). A batch is
// B windows of the token stream; the model reads the first C ids of each window (its
// context) and predicts P of them shifted by one: P = 1 for the MLP (the id after the
// context), P = C = T for the transformer (every position). Not a model zoo: two kinds.
// Shapes: B windows, C ids read per window, P predictions per window, V vocabulary.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model.hpp"
#include "models/gpt.hpp"
#include "xgrad.hpp"

namespace next_token {

using TransformerConfig = xgrad::models::GPTConfig;  // the library GPT's config

enum class ModelKind { mlp, transformer };
const char* model_kind_name(ModelKind kind);  // "mlp" or "transformer"

// What to build: the kind and that kind's configuration (the other one is ignored).
struct ModelSpec {
  ModelKind kind = ModelKind::mlp;
  ModelConfig mlp;
  TransformerConfig transformer;  // with nanoGPT's bias (--no-bias) and tie (--tie)

  std::size_t vocab() const { return kind == ModelKind::mlp ? mlp.vocab : transformer.vocab; }
  std::size_t context() const { return kind == ModelKind::mlp ? mlp.context : transformer.context; }
  void set_vocab(std::size_t v) { mlp.vocab = v, transformer.vocab = v; }
};

// "Embed(256, 16) x3 -> ... -> Dense 256" or the transformer's one-line description.
std::string describe(const ModelSpec& spec);

class LanguageModel {
 public:
  struct Parameter {
    std::string name;       // file-friendly: "embed.embedding"
    xgrad::Tensor tensor;
  };

  virtual ~LanguageModel() = default;
  virtual const ModelSpec& spec() const = 0;
  ModelKind kind() const { return spec().kind; }
  std::size_t vocab() const { return spec().vocab(); }
  std::size_t context() const { return spec().context(); }       // C
  virtual std::size_t predictions_per_window() const = 0;         // P
  // The shortest input it accepts: C for the MLP, 1 for the transformer (fewer positions).
  virtual std::size_t min_context() const = 0;

  // inputs (B, C') with min_context() <= C' <= C -> logits (B * P', V), rows in window-major
  // order; P' = 1 for the MLP, C' for the transformer. `dropout_key` seeds dropout masks
  // (ignored on an inference tape and by the MLP).
  virtual xgrad::Tensor logits(xgrad::Tape& tape, const xgrad::TokenIds& inputs,
                               const xgrad::random::Key& dropout_key) const = 0;

  virtual std::vector<Parameter> parameters() const = 0;
  // The input token table (V, D) the row check watches.
  virtual const xgrad::Tensor& token_table() const = 0;
  // The table also receives a dense gradient (a tied output layer): rows never fed move.
  virtual bool dense_table_gradient() const = 0;

  std::vector<xgrad::Tensor> tensors() const;
  std::size_t parameter_count() const;
};

// Throws std::invalid_argument for a configuration the model refuses (or cannot build yet).
std::unique_ptr<LanguageModel> make_model(const ModelSpec& spec, std::int64_t seed);

}  // namespace next_token
