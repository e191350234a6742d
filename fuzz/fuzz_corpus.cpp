// libFuzzer target: the next_token corpus reader. Any file either reads back byte for byte,
// as text check_text accepts, or throws CorpusError; read_corpus and check_text agree on
// which. Text it accepts encodes to word ids inside the vocabulary and to bytes that decode
// back to the text.
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "corpus.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/xgrad_fuzz_corpus_" + std::to_string(::getpid()) + ".txt";
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  bool text_ok = !bytes.empty();
  try {
    next_token::check_text(bytes, "input");
  } catch (const next_token::CorpusError&) {
    text_ok = false;
  }
  std::string text;
  try {
    text = next_token::read_corpus(path);
  } catch (const next_token::CorpusError&) {
    if (text_ok) fuzz::contract_broken("read_corpus", "refused a file check_text accepts");
    return 0;
  }
  if (!text_ok) fuzz::contract_broken("read_corpus", "accepted a file check_text refuses, or an empty one");
  if (text != bytes) fuzz::contract_broken("read_corpus", "returned other bytes than the file's");
  const next_token::Vocabulary words = next_token::Vocabulary::words_from_text(text, 64);
  for (const std::int32_t id : words.encode(text)) {
    if (id < 0 || static_cast<std::size_t>(id) >= words.size()) fuzz::contract_broken("words.encode", "id outside V");
  }
  const next_token::Vocabulary byte_tokens = next_token::Vocabulary::bytes();
  if (byte_tokens.decode(byte_tokens.encode(text)) != text) fuzz::contract_broken("bytes", "decode(encode(t)) != t");
  return 0;
}
