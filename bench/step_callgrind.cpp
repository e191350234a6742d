// One sparse training step (forward, mean(Y^2), backward, SGD, zero_grad) on a (V, D)
// table in a function of its own, for `valgrind --tool=callgrind
// --toggle-collect=sparse_training_step`: its instruction count must not depend on V.
// A first, uncounted step allocates what steps keep (the O(V) slot index, pooled buffers).
// Usage: xgrad_step_callgrind V [D] [T] [steps]
#include <cstdio>
#include <cstdlib>
#include <random>

#include "xgrad.hpp"

using namespace xgrad;

namespace {

void step(const Tensor& table, optim::SGD& sgd, const TokenIds& ids) {
  Tape tape;
  const Tensor y = embedding_lookup(tape, table, ids);
  tape.backward(mean_square(tape, y));
  sgd.step();
  sgd.zero_grad();
}

}  // namespace

extern "C" __attribute__((noinline)) void first_step(const Tensor& table, optim::SGD& sgd,
                                                     const TokenIds& ids) {
  step(table, sgd, ids);
}

extern "C" __attribute__((noinline)) void sparse_training_step(const Tensor& table, optim::SGD& sgd,
                                                               const TokenIds& ids) {
  step(table, sgd, ids);
}

int main(int argc, char** argv) {
  const std::size_t vocab = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 50000;
  const std::size_t width = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 64;
  const std::size_t tokens = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 512;
  const int steps = argc > 4 ? std::atoi(argv[4]) : 3;
  Array values = Array::from_shape({vocab, width});
  for (std::size_t i = 0; i < values.size(); ++i) values.data()[i] = static_cast<float>(i % 101) * 1e-2f;
  const Tensor table = Tensor::parameter(std::move(values), "table");
  optim::SGD sgd({table}, 0.01f);
  // The same pattern of ids at every V (so the same repeats): drawn below 1000, then
  // spread over the table by V / 1000.
  std::mt19937 rng(7);
  std::vector<std::int64_t> raw(tokens);
  for (auto& id : raw) id = static_cast<std::int64_t>(rng() % 1000) * static_cast<std::int64_t>(vocab / 1000);
  const TokenIds ids(raw);
  first_step(table, sgd, ids);
  for (int s = 0; s < steps; ++s) sparse_training_step(table, sgd, ids);
  std::printf("V=%zu D=%zu T=%zu: %d steps, table[0][0] = %.6f\n", vocab, width, tokens, steps,
              static_cast<double>(table.value().data()[0]));
  return 0;
}
