// --graph FILE and --stats: an observer that looks at the run's steps (the tape after
// backward, the parameters after the update) and passes every event on to the progress
// printer. What it found is printed and written after training, with the other outputs.
#pragma once

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stats.hpp"
#include "train.hpp"

namespace CLI {
class App;
}

namespace next_token {

struct InspectOptions {
  std::string graph;  // --graph FILE: the first step's graph; empty for none
  bool stats = false; // --stats
};

// Adds --graph and --stats to the command line.
void add_inspect_flags(CLI::App& app, InspectOptions& options);

class StepInspector : public TrainObserver {
 public:
  // `every` is the stats interval in steps. token_labels: the vocabulary's labels by id.
  StepInspector(TrainObserver& inner, const InspectOptions& options,
                std::vector<std::pair<std::string, xgrad::Tensor>> parameters, std::vector<std::string> token_labels,
                std::string model_description, std::size_t every);

  void on_backward(std::size_t done, const xgrad::Tape& tape) override;
  void on_step(std::size_t done, std::size_t total, float loss, float grad_norm, double tokens_per_second,
               double eta) override;
  void on_eval(const CurvePoint& point, std::size_t done, std::size_t total, float grad_norm,
               double tokens_per_second, double eta) override;

  // The stats table (with --stats).
  void print(std::ostream& out) const;
  // Writes the graph (with --graph) and stats.svg into plot_dir (with --stats and --plot);
  // reports each file on `out`. Throws on a file that cannot be written.
  void write_files(const std::string& plot_dir, std::ostream& out, bool quiet) const;

 private:
  TrainObserver& inner_;
  InspectOptions options_;
  std::vector<std::string> token_labels_;
  std::string model_description_;
  std::optional<StatsRecorder> stats_;
  std::string dot_text_;
  std::size_t graph_step_ = 0;
};

}  // namespace next_token
