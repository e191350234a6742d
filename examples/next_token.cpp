// next_token: a bigram language model over bytes (Embed -> Linear -> softmax
// cross-entropy), trained with plain SGD on a shipped corpus. It ends by checking, from
// the tables themselves, that only the embedding rows of ids it saw have changed.
// Shapes: V = 256 byte values, D model width, T tokens per batch.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "xgrad.hpp"

using namespace xgrad;

namespace {

constexpr std::size_t kVocab = 256;
constexpr std::size_t kWidth = 64;
constexpr std::size_t kBatch = 1024;
constexpr int kSteps = 300;
constexpr float kLearningRate = 1.0f;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("next_token: cannot open corpus " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() < 2) throw std::runtime_error("next_token: corpus " + path + " is too short");
  return text.str();
}

// Rows of two (V, D) tables whose bytes differ.
std::size_t count_changed_rows(const Array& before, const Array& after, const std::set<int>& seen,
                               bool& unseen_identical) {
  std::size_t changed = 0;
  unseen_identical = true;
  for (std::size_t r = 0; r < kVocab; ++r) {
    const bool differs =
        std::memcmp(before.data() + r * kWidth, after.data() + r * kWidth, kWidth * sizeof(float)) != 0;
    changed += differs;
    if (differs && !seen.count(static_cast<int>(r))) unseen_identical = false;
  }
  return changed;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string text = read_file(argc > 1 ? argv[1] : XGRAD_DEFAULT_CORPUS);
    const Key root = random::prng_key(0);
    const layers::Embed embed(kVocab, kWidth, random::fold_in(root, 0));
    layers::LinearOptions head_options;
    head_options.name = "head";
    const layers::Linear head(kWidth, kVocab, random::fold_in(root, 1), head_options);
    std::vector<Tensor> parameters = embed.parameters();
    for (const Tensor& p : head.parameters()) parameters.push_back(p);
    optim::SGD sgd(parameters, kLearningRate);

    const Array initial_table = embed.embedding().value();
    std::set<int> seen;
    std::mt19937 sampler(1234);
    std::vector<std::int64_t> inputs(kBatch);
    std::vector<std::int64_t> targets(kBatch);
    float first_loss = 0.0f;
    float last_loss = 0.0f;
    std::printf("bigram model: V = %zu, D = %zu, %zu bytes of text, %zu tokens per step\n", kVocab,
                kWidth, text.size(), kBatch);
    for (int step = 1; step <= kSteps; ++step) {
      for (std::size_t t = 0; t < kBatch; ++t) {
        const std::size_t at = sampler() % (text.size() - 1);
        inputs[t] = static_cast<unsigned char>(text[at]);
        targets[t] = static_cast<unsigned char>(text[at + 1]);
        seen.insert(static_cast<int>(inputs[t]));
      }
      Tape tape;
      const Tensor loss = softmax_cross_entropy(
          tape, head(tape, embed(tape, TokenIds(inputs))), TokenIds(targets));
      tape.backward(loss);
      const std::size_t rows_touched = embed.embedding().grad().row_sparse().rows().size();
      sgd.step();
      sgd.zero_grad();
      last_loss = loss.value()();
      if (step == 1) first_loss = last_loss;
      if (step == 1 || step % 50 == 0) {
        std::printf("step %4d  loss %.4f  embedding rows touched %zu of %zu\n", step, last_loss,
                    rows_touched, kVocab);
      }
    }

    bool unseen_identical = false;
    const std::size_t changed =
        count_changed_rows(initial_table, embed.embedding().value(), seen, unseen_identical);
    std::printf("loss: first %.4f, last %.4f\n", first_loss, last_loss);
    std::printf("row check: %zu rows changed, %zu distinct ids seen, %zu rows never seen are %s\n",
                changed, seen.size(), kVocab - seen.size(),
                unseen_identical ? "bit-identical to their initial values" : "NOT identical");
    const bool ok = changed == seen.size() && unseen_identical && last_loss < first_loss;
    std::printf("%s\n", ok ? "row check passed" : "row check FAILED");
    return ok ? 0 : 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 1;
  }
}
