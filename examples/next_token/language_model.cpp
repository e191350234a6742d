// The two adapters behind LanguageModel: the MLP and the transformer as they are, plus the
// reshape of the transformer's (B, T, V) logits to (B * T, V).
#include "language_model.hpp"

#include <stdexcept>
#include <utility>

namespace next_token {

using namespace xgrad;

const char* model_kind_name(ModelKind kind) { return kind == ModelKind::mlp ? "mlp" : "transformer"; }

std::string describe(const ModelSpec& spec) {
  return spec.kind == ModelKind::mlp ? describe(spec.mlp) : describe(spec.transformer);
}

std::vector<Tensor> LanguageModel::tensors() const {
  std::vector<Tensor> out;
  for (const Parameter& p : parameters()) out.push_back(p.tensor);
  return out;
}

std::size_t LanguageModel::parameter_count() const {
  std::size_t n = 0;
  for (const Parameter& p : parameters()) n += p.tensor.size();
  return n;
}

namespace {

class MlpModel final : public LanguageModel {
 public:
  MlpModel(const ModelSpec& spec, std::int64_t seed) : spec_(spec), model_(spec.mlp, seed) {}
  const ModelSpec& spec() const override { return spec_; }
  std::size_t predictions_per_window() const override { return 1; }
  std::size_t min_context() const override { return spec_.mlp.context; }
  Tensor logits(Tape& tape, const TokenIds& inputs, const random::Key& /*dropout_key*/) const override {
    return model_.logits(tape, inputs);  // (B, V)
  }
  std::vector<Parameter> parameters() const override {
    std::vector<Parameter> out;
    for (const Model::Parameter& p : model_.parameters()) out.push_back({p.name, p.tensor});
    return out;
  }
  const Tensor& token_table() const override { return model_.embed().embedding(); }
  bool dense_table_gradient() const override { return spec_.mlp.tie; }

 private:
  ModelSpec spec_;
  Model model_;
};

class TransformerModel final : public LanguageModel {
 public:
  TransformerModel(const ModelSpec& spec, std::int64_t seed) : spec_(spec), model_(spec.transformer, seed) {}
  const ModelSpec& spec() const override { return spec_; }
  std::size_t predictions_per_window() const override { return spec_.transformer.context; }
  std::size_t min_context() const override { return 1; }
  Tensor logits(Tape& tape, const TokenIds& inputs, const random::Key& dropout_key) const override {
    const std::size_t positions = inputs.shape().at(0) * inputs.shape().at(1);
    return reshape(tape, model_.logits(tape, inputs, dropout_key), {positions, spec_.transformer.vocab});
  }
  std::vector<Parameter> parameters() const override {
    std::vector<Parameter> out;
    for (const auto& p : model_.parameters()) out.push_back({p.name, p.tensor});
    return out;
  }
  const Tensor& token_table() const override { return model_.token_embed().embedding(); }
  bool dense_table_gradient() const override { return spec_.transformer.tie; }  // tied: the head is the table

 private:
  ModelSpec spec_;
  models::GPT model_;
};

}  // namespace

std::unique_ptr<LanguageModel> make_model(const ModelSpec& spec, std::int64_t seed) {
  if (spec.kind == ModelKind::mlp) return std::make_unique<MlpModel>(spec, seed);
  return std::make_unique<TransformerModel>(spec, seed);
}

}  // namespace next_token
