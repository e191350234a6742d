// Uses the installed headers and library: one sparse training step on an Embed.
#include <cstdio>

#include <xgrad/xgrad.hpp>

int main() {
  using namespace xgrad;
  const layers::Embed embed(100, 8, random::prng_key(0));
  optim::SGD sgd(embed.parameters(), 0.1f);
  Tape tape;
  tape.backward(sum(tape, embed(tape, TokenIds{4, 2, 4})));
  const std::size_t rows = embed.embedding().grad().row_sparse().rows().size();
  sgd.step();
  std::printf("consumer: %zu rows updated\n", rows);
  return rows == 2 ? 0 : 1;
}
