// Writes a tiny Transformer (V=11, T=5, L=2, H=2, C=8) and one training step's numbers as .npy
// files into the directory argv[1], for tests/python/test_transformer_torch.py to rebuild the
// same model in PyTorch and compare: param_<name>.npy, ids.npy and targets.npy (as floats),
// logits.npy, loss.npy and grad_<name>.npy (the dense gradient of the mean cross-entropy).
// Not a tool: a fixture of that test, run by it.
#include <exception>
#include <iostream>
#include <string>

#include "core/io/npy.hpp"
#include "models/gpt.hpp"

using namespace xgrad;

namespace {

Array ids_as_floats(const TokenIds& ids) {
  Array out = Array::from_shape(ids.shape());
  for (std::size_t i = 0; i < ids.size(); ++i) out.data()[i] = static_cast<float>(ids[i]);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: dump_transformer_for_torch OUTPUT_DIRECTORY\n";
    return 2;
  }
  try {
    const std::string dir = argv[1];
    models::GPTConfig config;
    config.vocab = 11;
    config.context = 5;
    config.layers = 2;
    config.heads = 2;
    config.embed_dim = 8;
    const models::GPT model(config, 7);
    // Values of order 1 instead of GPT-2's 0.02 (LayerNorm weights around 1), so that every
    // path contributes visibly to the logits and gradients the test compares.
    const Key key = random::prng_key(99);
    std::uint32_t index = 0;
    for (const layers::NamedParameter& p : model.parameters()) {
      Array value = random::normal(random::fold_in(key, index++), p.tensor.shape()) * 0.3f;
      const bool norm_weight = p.name.size() > 7 && p.name.compare(p.name.size() - 7, 7, ".weight") == 0;
      if (norm_weight) value += 1.0f;  // only LayerNorms have ".weight" (Linear: ".kernel")
      p.tensor.mutable_value() = value;
      npy::save(dir + "/param_" + p.name + ".npy", p.tensor.value());
    }
    const TokenIds ids({1, 3, 3, 7, 0, 5, 1, 9, 3, 2}, {2, 5});
    const TokenIds targets({3, 3, 7, 0, 2, 1, 9, 3, 2, 2}, {2, 5});
    Tape tape;
    const Tensor logits = model.logits(tape, ids, Key{});
    const Tensor loss = softmax_cross_entropy(tape, logits, targets);
    tape.backward(loss);
    npy::save(dir + "/ids.npy", ids_as_floats(ids));
    npy::save(dir + "/targets.npy", ids_as_floats(targets));
    npy::save(dir + "/logits.npy", logits.value());
    npy::save(dir + "/loss.npy", loss.value());
    for (const layers::NamedParameter& p : model.parameters()) {
      npy::save(dir + "/grad_" + p.name + ".npy", p.tensor.grad().to_dense());
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "dump_transformer_for_torch: " << e.what() << "\n";
    return 1;
  }
}
