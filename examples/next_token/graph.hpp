// --graph FILE: one training step's tape as a Graphviz picture. FILE.dot always; FILE.svg
// as well when Graphviz's `dot` is installed (Debian graphviz; scripts/setup.sh installs it).
// A FILE ending in .dot or .svg names both files by its stem.
#pragma once

#include <string>
#include <vector>

#include "xgrad.hpp"

namespace next_token {

// The DOT text of one step (after backward, before the update), with the tokens' labels.
std::string step_graph_dot(const xgrad::Tape& tape, const std::vector<std::string>& token_labels,
                           const std::string& title);

// Writes the .dot (atomically) and, through `dot -Tsvg`, the .svg. Returns the files written
// and, in `note`, why there is no SVG when there is none. Throws on a .dot that cannot be written.
std::vector<std::string> write_step_graph(const std::string& file, const std::string& dot_text, std::string& note);

}  // namespace next_token
