// A tape as a Graphviz DOT picture, for teaching and for looking at one step of a model:
// one node per record (op, shapes, a value summary, the output's gradient norm) and one per
// leaf input (parameters by name, with their gradient: row-sparse ones as "37 of 5000
// rows" and, given a vocabulary, the tokens of the first rows). Not a renderer: run
// Graphviz's `dot -Tsvg` on the output.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <limits>
#include <string>
#include <vector>

#include "core/tape.hpp"

namespace xgrad {

struct DotOptions {
  // Records [first_record, last_record) are drawn; inputs from records outside the range
  // appear as small "not shown" nodes so the edges stay.
  std::size_t first_record = 0;
  std::size_t last_record = std::numeric_limits<std::size_t>::max();
  // When not empty, only records whose op name, or one of whose inputs' names, contains
  // this text are drawn (within the range), e.g. "block.0" or "embedding".
  std::string name_filter;
  // Token strings by id: a row-sparse gradient's first rows are labelled with their tokens.
  std::vector<std::string> vocabulary;
  // How many rows of a row-sparse gradient are listed.
  std::size_t rows_listed = 6;
  // Replays each drawn record's backward once (saving and restoring every gradient it
  // touches, bit for bit) to learn what that record alone added to each parameter, so a
  // parameter fed by two records (a tied table: rows from the gather, dense from attend)
  // gets one labelled edge per contribution. Needs backward to have run; off, edges to
  // parameters carry no label. Relies on core/op.hpp's rule that a backward adds only into
  // its record's inputs (a gradient outside them would receive the replayed share too).
  bool contributions = true;
  // The graph's title (a label at the top); none when empty.
  std::string title;
};

// Writes `digraph xgrad { ... }`: record nodes r<i> (boxes), leaf nodes p<k> (parameters,
// ellipses; inputs that need no gradient are grey), edges from each input to the record
// that reads it. Row-sparse contributions' edges are labelled "rows: N of V", dense ones
// "dense |g| x".
void write_dot(std::ostream& out, const Tape& tape, const DotOptions& options = {});

// `text` as a DOT quoted string, quotes included: `"` and `\` escaped, a newline in
// `text` becomes a line break (\n), other control characters are written as \xNN text.
std::string dot_quoted(const std::string& text);

}  // namespace xgrad
