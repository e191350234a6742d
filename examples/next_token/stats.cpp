// --stats: measuring each parameter's gradient and update, printing and drawing them.
#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <ostream>
#include <sstream>

#include "common/numbers.hpp"

namespace next_token {

using xgrad::Array;

namespace {

constexpr double kSaturated = 0.97;

// Standard deviation of n floats, summed in double.
double std_dev(const float* v, std::size_t n) {
  if (n == 0) return 0.0;
  double mean = 0.0;
  for (std::size_t i = 0; i < n; ++i) mean += v[i];
  mean /= static_cast<double>(n);
  double sq = 0.0;
  for (std::size_t i = 0; i < n; ++i) sq += (v[i] - mean) * (v[i] - mean);
  return std::sqrt(sq / static_cast<double>(n));
}

// A measurement that could not be taken (a zero norm's log) shows as "-".
std::string fixed(double value, int digits) { return std::isfinite(value) ? examples::fixed(value, digits) : "-"; }

std::string general(double value) {
  if (!std::isfinite(value)) return "-";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", value);
  return buffer;
}

}  // namespace

StatsRecorder::StatsRecorder(std::vector<std::pair<std::string, xgrad::Tensor>> parameters, std::size_t every)
    : parameters_(std::move(parameters)), every_(std::max<std::size_t>(every, 1)) {
  for (const auto& p : parameters_) series_.names.push_back(p.first);
  series_.grad_norm.resize(parameters_.size());
  series_.log10_update.resize(parameters_.size());
}

void StatsRecorder::before_update(std::size_t done, const xgrad::Tape& tape) {
  if (done != 1 && done % every_ != 0) return;
  series_.steps.push_back(done);
  before_.clear();
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    series_.grad_norm[k].push_back(parameters_[k].second.grad().norm());
    before_.push_back(parameters_[k].second.value());
  }
  std::size_t units = 0, saturated = 0;
  for (std::size_t i = 0; i < tape.size(); ++i) {
    if (tape[i].op != "tanh") continue;
    const Array& t = tape[i].output.value();
    units += t.size();
    for (const float v : t) saturated += std::fabs(v) > kSaturated;
  }
  series_.tanh_saturated.push_back(units ? static_cast<double>(saturated) / static_cast<double>(units)
                                         : std::numeric_limits<double>::quiet_NaN());
  pending_ = done;
}

void StatsRecorder::after_update(std::size_t done) {
  if (pending_ != done) return;
  pending_ = 0;
  std::vector<float> update;
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    const Array& after = parameters_[k].second.value();
    const Array& before = before_[k];
    update.resize(after.size());
    for (std::size_t i = 0; i < after.size(); ++i) update[i] = after.data()[i] - before.data()[i];
    const double data = std_dev(before.data(), before.size());
    const double ratio = data > 0 ? std_dev(update.data(), update.size()) / data : std::numeric_limits<double>::quiet_NaN();
    series_.log10_update[k].push_back(ratio > 0 ? std::log10(ratio) : std::numeric_limits<double>::quiet_NaN());
  }
  before_.clear();
}

void print_stats(std::ostream& out, const StatsSeries& s) {
  const std::size_t n = std::min(s.steps.size(), s.log10_update.empty() ? s.steps.size() : s.log10_update[0].size());
  if (n == 0 || s.names.empty()) return;
  // At most five measurements across: the first, the last and evenly spaced ones between.
  std::vector<std::size_t> picks;
  const std::size_t columns = std::min<std::size_t>(n, 5);
  for (std::size_t c = 0; c < columns; ++c) picks.push_back(columns == 1 ? 0 : c * (n - 1) / (columns - 1));
  std::size_t name_width = 16;
  for (const std::string& name : s.names) name_width = std::max(name_width, name.size() + 2);
  char cell[64];
  out << "stats: |gradient| and log10(update/data) per parameter (makemore's guide: about -3)\n";
  std::snprintf(cell, sizeof cell, "%-*s", static_cast<int>(name_width), "step");
  out << cell;
  for (const std::size_t p : picks) {
    std::snprintf(cell, sizeof cell, "%18zu", s.steps[p]);
    out << cell;
  }
  out << "\n";
  for (std::size_t k = 0; k < s.names.size(); ++k) {
    std::snprintf(cell, sizeof cell, "%-*s", static_cast<int>(name_width), s.names[k].c_str());
    out << cell;
    for (const std::size_t p : picks) {
      const std::string text = general(s.grad_norm[k][p]) + " / " + fixed(s.log10_update[k][p], 2);
      std::snprintf(cell, sizeof cell, "%18s", text.c_str());
      out << cell;
    }
    out << "\n";
  }
  std::snprintf(cell, sizeof cell, "%-*s", static_cast<int>(name_width), "tanh |t|>0.97");
  out << cell;
  for (const std::size_t p : picks) {
    const double share = s.tanh_saturated[p];
    std::snprintf(cell, sizeof cell, "%18s", std::isfinite(share) ? (fixed(100.0 * share, 1) + "%").c_str() : "no tanh");
    out << cell;
  }
  out << "\n";
}

namespace {

const char* const kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
    }
  }
  return out;
}

std::string num(double v) { return fixed(v, 1); }

// One panel: series over the measured steps, y range from the finite values (or given).
void panel(std::ostringstream& svg, double top, double height, const std::string& title, const StatsSeries& s,
           const std::vector<std::vector<double>>& series, bool log_y, const std::vector<double>& guides,
           bool from_zero = false) {
  const double left = 70, width = 640;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  const auto y_of = [&](double v) { return log_y ? std::log10(v) : v; };
  for (const auto& line : series) {
    for (const double v : line) {
      if (!std::isfinite(v) || (log_y && v <= 0)) continue;
      lo = std::min(lo, y_of(v));
      hi = std::max(hi, y_of(v));
    }
  }
  for (const double g : guides) {
    lo = std::min(lo, g);
    hi = std::max(hi, g);
  }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-9) lo -= 0.5, hi += 0.5;
  const double pad = 0.05 * (hi - lo);
  lo = from_zero ? 0.0 : lo - pad;
  hi += pad;
  const double x0 = static_cast<double>(s.steps.front()), x1 = std::max(x0 + 1, static_cast<double>(s.steps.back()));
  const auto X = [&](double step) { return left + (step - x0) / (x1 - x0) * width; };
  const auto Y = [&](double v) { return top + height - (v - lo) / (hi - lo) * height; };
  svg << "<text x=\"" << left << "\" y=\"" << top - 8 << "\" font-weight=\"bold\">" << escape(title) << "</text>\n";
  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << width << "\" height=\"" << height
      << "\" fill=\"none\" stroke=\"#444\"/>\n";
  for (int t = 0; t <= 4; ++t) {
    const double v = lo + (hi - lo) * t / 4.0;
    svg << "<text x=\"" << left - 6 << "\" y=\"" << num(Y(v) + 4) << "\" text-anchor=\"end\" fill=\"#444\">"
        << (log_y ? general(std::pow(10.0, v)) : from_zero ? fixed(v, 1) : fixed(v, 2)) << "</text>\n";
  }
  svg << "<text x=\"" << left << "\" y=\"" << top + height + 16 << "\" fill=\"#444\">step " << s.steps.front()
      << "</text>\n<text x=\"" << left + width << "\" y=\"" << top + height + 16
      << "\" text-anchor=\"end\" fill=\"#444\">step " << s.steps.back() << "</text>\n";
  for (const double g : guides) {
    svg << "<line x1=\"" << left << "\" x2=\"" << left + width << "\" y1=\"" << num(Y(g)) << "\" y2=\"" << num(Y(g))
        << "\" stroke=\"#000\" stroke-dasharray=\"6 4\"/>\n";
  }
  for (std::size_t k = 0; k < series.size(); ++k) {
    svg << "<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"" << kColours[k % 10] << "\" points=\"";
    for (std::size_t i = 0; i < series[k].size() && i < s.steps.size(); ++i) {
      const double v = series[k][i];
      if (!std::isfinite(v) || (log_y && v <= 0)) continue;
      svg << num(X(static_cast<double>(s.steps[i]))) << "," << num(Y(y_of(v))) << " ";
    }
    svg << "\"/>\n";
  }
}

}  // namespace

std::string stats_svg(const StatsSeries& s, const std::string& title) {
  if (s.steps.empty()) return "";
  const double legend_rows = static_cast<double>(s.names.size());
  const int width = 960, height = static_cast<int>(std::max(700.0, 90 + 18 * legend_rows));
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height << "\" viewBox=\"0 0 "
      << width << " " << height << "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
      << "<title>next_token training stats</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg << "<text x=\"70\" y=\"24\" font-size=\"15\" font-weight=\"bold\">" << escape(title) << "</text>\n";
  panel(svg, 60, 160, "gradient norm per parameter (log scale)", s, s.grad_norm, true, {});
  panel(svg, 270, 160, "log10(std(update) / std(value)) per parameter; dashed: -3", s, s.log10_update, false, {-3.0});
  std::vector<double> percent;
  for (const double share : s.tanh_saturated) percent.push_back(100.0 * share);
  panel(svg, 480, 140, "saturated tanh units, |t| > 0.97 (% of all)", s, {percent}, false, {}, true);
  for (std::size_t k = 0; k < s.names.size(); ++k) {
    const double y = 72 + 18 * static_cast<double>(k);
    svg << "<line x1=\"730\" x2=\"754\" y1=\"" << y - 4 << "\" y2=\"" << y - 4 << "\" stroke=\"" << kColours[k % 10]
        << "\" stroke-width=\"2\"/>\n<text x=\"760\" y=\"" << y << "\">" << escape(s.names[k]) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace next_token
