// Text from files and command lines made safe to put in an error message: a NUL would cut
// the message short and an escape sequence would reach the user's terminal, so every byte
// that is not printable (control bytes, DEL, bytes that do not form valid UTF-8) is written
// as \xNN. Printable ASCII and valid UTF-8 pass unchanged.
#pragma once

#include <cstddef>
#include <string>

namespace xgrad::io {

// Length of the valid UTF-8 sequence at text[i] (1 for ASCII), or 0 when none starts there
// (a continuation byte, an overlong form, a surrogate, a code point past U+10FFFF, a cut).
inline std::size_t utf8_sequence_length(const std::string& text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned code = 0, minimum = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, code = lead & 0x1Fu, minimum = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, code = lead & 0x0Fu, minimum = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, code = lead & 0x07u, minimum = 0x10000;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3Fu);
  }
  if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return length;
}

// `keep_newlines` keeps '\n' as it is, for messages that span lines on purpose.
inline std::string printable_bytes(const std::string& text, bool keep_newlines = false) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c >= 0x20 && c < 0x7F) || (keep_newlines && c == '\n')) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    const std::size_t length = c >= 0x80 ? utf8_sequence_length(text, i) : 0;
    if (length > 0) {
      out.append(text, i, length);
      i += length;
      continue;
    }
    out += "\\x";
    out += digits[c >> 4];
    out += digits[c & 0xF];
    ++i;
  }
  return out;
}

}  // namespace xgrad::io
