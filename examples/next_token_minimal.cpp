// The whole training loop of a small byte-level language model on one screen:
// Embed -> concatenate -> Linear -> tanh -> Linear -> softmax cross-entropy, plain SGD.
// examples/next_token/ is the full tool (flags, word tokens, checkpoints, plots).
// Usage: next_token_minimal [corpus.txt] [steps]. Exits 1 unless the validation loss fell
// clearly and every embedding row that no batch fed is bit-identical to its initial value.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "xgrad.hpp"

using namespace xgrad;

namespace {

constexpr std::size_t kVocab = 256;  // one token per byte value
constexpr std::size_t kContext = 3, kEmbed = 16, kHidden = 64, kBatch = 64;

struct Model {
  layers::Embed embed;
  layers::Linear hidden, output;

  Tensor logits(Tape& tape, const TokenIds& contexts) const {  // (B, C) ids -> (B, V)
    const Tensor x = reshape(tape, embed(tape, contexts), {contexts.shape()[0], kContext * kEmbed});
    return output(tape, tanh(tape, hidden(tape, x)));
  }
};

struct Windows {
  TokenIds contexts, targets;  // (B, C) and (B,)
};

// The windows starting at `starts`: kContext bytes as context, the next byte as target.
Windows windows(const std::string& text, const std::vector<std::size_t>& starts) {
  std::vector<std::int64_t> ids, next;
  for (const std::size_t s : starts) {
    for (std::size_t c = 0; c < kContext; ++c) ids.push_back(static_cast<unsigned char>(text[s + c]));
    next.push_back(static_cast<unsigned char>(text[s + kContext]));
  }
  return {TokenIds(ids, {starts.size(), kContext}), TokenIds(next)};
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : XGRAD_DEFAULT_CORPUS;
  const std::size_t steps = argc > 2 ? std::stoul(argv[2]) : 600;
  std::ifstream file(path, std::ios::binary);
  const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (!file || text.size() < 100 * kContext) {
    std::fprintf(stderr, "next_token_minimal: cannot read a corpus from %s\n", path.c_str());
    return 1;
  }
  // The first 90% of the bytes train; the tail, text the model never sees, validates.
  const std::size_t split = text.size() / 10 * 9;
  const std::string train = text.substr(0, split), validation = text.substr(split);

  const Key root = random::prng_key(0);
  const Model model{layers::Embed(kVocab, kEmbed, random::fold_in(root, 0)),
                    layers::Linear(kContext * kEmbed, kHidden, random::fold_in(root, 1)),
                    layers::Linear(kHidden, kVocab, random::fold_in(root, 2))};
  optim::SGD sgd({model.embed.embedding(), model.hidden.kernel(), model.hidden.bias(),
                  model.output.kernel(), model.output.bias()}, /*lr=*/1.0f);

  // A fixed set of validation windows, evaluated on an inference tape: no record, no gradient.
  std::vector<std::size_t> eval_starts;
  for (std::size_t s = 0; s + kContext < validation.size(); s += 7) eval_starts.push_back(s);
  const Windows eval = windows(validation, eval_starts);
  const auto validation_loss = [&] {
    Tape tape(Tape::Mode::inference);
    return softmax_cross_entropy(tape, model.logits(tape, eval.contexts), eval.targets).value()();
  };

  const Array initial_table = model.embed.embedding().value();
  std::vector<bool> fed(kVocab, false);
  // rng() % n rather than std::uniform_int_distribution, whose numbers differ between
  // standard libraries: the same seed gives the same batches everywhere.
  std::mt19937_64 rng(0);
  std::vector<std::size_t> starts(kBatch);
  const float initial_loss = validation_loss();
  std::printf("step     0  validation loss %.3f\n", initial_loss);
  for (std::size_t step = 1; step <= steps; ++step) {
    for (std::size_t& s : starts) s = rng() % (train.size() - kContext);
    const Windows batch = windows(train, starts);
    for (const std::int32_t id : batch.contexts.values()) fed[static_cast<std::size_t>(id)] = true;

    Tape tape;  // a new tape per step
    const Tensor loss = softmax_cross_entropy(tape, model.logits(tape, batch.contexts), batch.targets);
    tape.backward(loss);
    sgd.step();  // the embedding's gradient is row-sparse: only the fed rows are written
    sgd.zero_grad();
    if (step % 100 == 0 || step == steps) {
      std::printf("step %5zu  batch loss %.3f  validation loss %.3f\n", step, loss.value()(),
                  validation_loss());
    }
  }

  // Byte for byte: a never-fed row that moved by one ulp is a bug, not rounding.
  const float* table = model.embed.embedding().value().data();
  std::size_t moved = 0, fed_count = 0, unfed_moved = 0;
  for (std::size_t row = 0; row < kVocab; ++row) {
    const std::size_t at = row * kEmbed;
    const bool same = std::memcmp(table + at, initial_table.data() + at, kEmbed * sizeof(float)) == 0;
    moved += !same;
    fed_count += fed[row];
    unfed_moved += !same && !fed[row];
  }
  std::printf("embedding rows moved: %zu, rows fed: %zu of %zu; never-fed rows that moved: %zu\n",
              moved, fed_count, kVocab, unfed_moved);
  const float final_loss = validation_loss();
  const bool ok = final_loss < 0.9f * initial_loss && unfed_moved == 0;
  std::printf("validation loss %.3f -> %.3f: %s\n", initial_loss, final_loss, ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
