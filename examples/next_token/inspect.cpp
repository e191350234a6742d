// --graph and --stats: the observer, its flags and its outputs.
#include "inspect.hpp"

#include <filesystem>
#include <ostream>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include "core/io/atomic_file.hpp"
#include "graph.hpp"

namespace next_token {

void add_inspect_flags(CLI::App& app, InspectOptions& options) {
  app.add_option("--graph", options.graph, "write the first training step's graph (records, shapes, gradients, "
                                           "row-sparse rows) to FILE.dot, and FILE.svg when Graphviz's dot is "
                                           "installed; default: none")
      ->type_name("FILE")
      ->check(CLI::Validator([](std::string& v) { return v.empty() ? std::string("an empty path") : std::string(); },
                             "non-empty"));
  app.add_flag("--stats", options.stats, "print per parameter the gradient norm and log10(update/data), and the "
                                         "share of saturated tanh units, measured at step 1 and every steps/100 "
                                         "steps; with --plot also stats.svg; default: off");
}

StepInspector::StepInspector(TrainObserver& inner, const InspectOptions& options,
                             std::vector<std::pair<std::string, xgrad::Tensor>> parameters,
                             std::vector<std::string> token_labels, std::string model_description, std::size_t every)
    : inner_(inner), options_(options), token_labels_(std::move(token_labels)),
      model_description_(std::move(model_description)) {
  if (options_.stats) stats_.emplace(std::move(parameters), every);
}

void StepInspector::on_backward(std::size_t done, const xgrad::Tape& tape) {
  if (!options_.graph.empty() && graph_step_ == 0) {
    graph_step_ = done;
    dot_text_ = step_graph_dot(tape, token_labels_, "next_token, training step " + std::to_string(done) + ": " +
                                                        model_description_);
  }
  if (stats_) stats_->before_update(done, tape);
  inner_.on_backward(done, tape);
}

void StepInspector::on_step(std::size_t done, std::size_t total, float loss, float grad_norm,
                            double tokens_per_second, double eta) {
  if (stats_) stats_->after_update(done);
  inner_.on_step(done, total, loss, grad_norm, tokens_per_second, eta);
}

void StepInspector::on_eval(const CurvePoint& point, std::size_t done, std::size_t total, float grad_norm,
                            double tokens_per_second, double eta) {
  inner_.on_eval(point, done, total, grad_norm, tokens_per_second, eta);
}

void StepInspector::print(std::ostream& out) const {
  if (stats_) print_stats(out, stats_->series());
}

void StepInspector::write_files(const std::string& plot_dir, std::ostream& out, bool quiet) const {
  if (!options_.graph.empty() && graph_step_ > 0) {
    std::string note;
    const std::vector<std::string> files = write_step_graph(options_.graph, dot_text_, note);
    if (!quiet) {
      out << "graph of step " << graph_step_ << ": " << files[0] << (files.size() > 1 ? ", " + files[1] : "")
          << (note.empty() ? "" : " (" + note + ")") << "\n";
    }
  }
  if (stats_ && !plot_dir.empty() && !stats_->series().steps.empty()) {
    std::filesystem::create_directories(plot_dir);
    const std::string path = (std::filesystem::path(plot_dir) / "stats.svg").string();
    xgrad::io::write_file_atomically(path, stats_svg(stats_->series(), "Training health: " + model_description_));
    if (!quiet) out << "stats plot: " << path << "\n";
  }
}

}  // namespace next_token
