// Pictures of a run, as self-contained SVG files (plain SVG, no library: a line chart and a
// heat map are a few hundred lines, and SVG needs no fonts or drivers at run time).
//   loss.svg            train batch loss per step, train and validation loss over time
//   embedding_rows.svg  the embedding table: how far each row moved, and the change of
//                       every element (ids across, features down); never-fed rows are flat
// Not a plotting library: two fixed layouts for this example.
#pragma once

#include <string>

#include "corpus.hpp"
#include "report.hpp"

namespace next_token {

// The files write_plots writes, in this order.
constexpr const char* kPlotFiles[] = {"loss.svg", "embedding_rows.svg"};

std::string loss_svg(const RunSummary& summary);
std::string embedding_rows_svg(const RunSummary& summary, const Vocabulary& vocabulary, const xgrad::Array& before,
                               const xgrad::Array& after);

// Writes both files into `dir` (created if needed), atomically. Returns their paths.
std::vector<std::string> write_plots(const std::string& dir, const RunSummary& summary, const Vocabulary& vocabulary,
                                     const xgrad::Array& before, const xgrad::Array& after);

}  // namespace next_token
