// SVG for the loss curves and the embedding-table map.
#include "plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include "common/numbers.hpp"
#include "core/io/atomic_file.hpp"

namespace next_token {

using xgrad::Array;

namespace {

const char* const kFont = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\"";

std::string num(double value, int digits = 1) { return examples::fixed(value, digits); }

std::string escape(const std::string& text) {
  std::string out;
  for (const char c : printable(text)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

// Round tick steps: 1, 2 or 5 times a power of ten, about `count` ticks over [lo, hi].
std::vector<double> ticks(double lo, double hi, int count) {
  std::vector<double> out;
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / count;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / power < 1.5 ? power : raw / power < 3.5 ? 2 * power : raw / power < 7.5 ? 5 * power : 10 * power;
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) out.push_back(t);
  return out;
}

std::string text(double x, double y, const std::string& content, const std::string& attributes = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" " + attributes + ">" + escape(content) + "</text>\n";
}

std::string header(int width, int height, const std::string& title) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
         std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
         "\" " + kFont + " font-size=\"12\">\n<title>" + escape(title) + "</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
}

// Blue (negative) - white (zero) - red (positive), t in [-1, 1].
std::string diverging(double t) {
  t = std::clamp(t, -1.0, 1.0);
  const double a = std::sqrt(std::fabs(t));  // lift small changes out of the white
  const auto mixc = [&](int from, int to) { return static_cast<int>(std::lround(from + (to - from) * a)); };
  char buffer[16];
  if (t >= 0) {
    std::snprintf(buffer, sizeof buffer, "#%02x%02x%02x", mixc(255, 178), mixc(255, 24), mixc(255, 43));
  } else {
    std::snprintf(buffer, sizeof buffer, "#%02x%02x%02x", mixc(255, 33), mixc(255, 102), mixc(255, 172));
  }
  return buffer;
}

constexpr const char* kNeverFed = "#d9d9d9";
constexpr const char* kSeenBar = "#2166ac";

// Batch losses, averaged into at most ~600 buckets so the file stays small.
template <class ToX, class ToY>
void batch_line(std::ostream& svg, const std::vector<float>& batch, double x0, ToX X, ToY Y) {
  if (batch.empty()) return;
  const std::size_t bucket = std::max<std::size_t>(1, batch.size() / 600);
  svg << "<polyline fill=\"none\" stroke=\"#9ecae1\" stroke-width=\"1\" points=\"";
  for (std::size_t i = 0; i < batch.size(); i += bucket) {
    double sum = 0.0;
    std::size_t n = 0;
    for (std::size_t k = i; k < std::min(batch.size(), i + bucket); ++k) {
      if (!std::isfinite(batch[k])) continue;
      sum += batch[k];
      ++n;
    }
    if (n) svg << num(X(x0 + static_cast<double>(i + bucket / 2 + 1))) << "," << num(Y(sum / static_cast<double>(n))) << " ";
  }
  svg << "\"/>\n";
}

void loss_legend(std::ostream& svg, double lx, double ly) {
  svg << "<rect x=\"" << lx - 10 << "\" y=\"" << ly - 14 << "\" width=\"250\" height=\"64\" fill=\"white\" stroke=\"#ccc\"/>\n";
  const char* names[] = {"batch loss (each step)", "train loss (fixed windows)", "validation loss"};
  const char* colours[] = {"#9ecae1", "#08519c", "#e6550d"};
  for (int i = 0; i < 3; ++i) {
    svg << "<line x1=\"" << lx << "\" x2=\"" << lx + 24 << "\" y1=\"" << ly + 18 * i - 4 << "\" y2=\"" << ly + 18 * i - 4
        << "\" stroke=\"" << colours[i] << "\" stroke-width=\"" << (i ? 2.5 : 1.5) << "\"/>\n";
    svg << text(lx + 32, ly + 18 * i, names[i]);
  }
}

}  // namespace

std::string loss_svg(const RunSummary& s) {
  const int width = 760, height = 440, left = 64, right = 24, top = 48, bottom = 56;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  const std::vector<CurvePoint>& curve = s.result.curve;
  const std::vector<float>& batch = s.result.batch_losses;
  const double x0 = static_cast<double>(s.options.first_step);
  const double x1 = std::max(x0 + 1.0, static_cast<double>(s.options.first_step + std::max<std::size_t>(s.result.steps, 1)));
  double y_max = 0.0;
  for (const CurvePoint& p : curve) y_max = std::max({y_max, p.train, p.validation});
  for (std::size_t i = 0; i < std::min<std::size_t>(batch.size(), 50); ++i) {
    if (std::isfinite(batch[i])) y_max = std::max(y_max, double{batch[i]});
  }
  y_max = std::max(1.0, std::ceil(y_max * 1.05));
  const auto X = [&](double step) { return left + (step - x0) / (x1 - x0) * plot_w; };
  const auto Y = [&](double loss) { return top + plot_h - std::clamp(loss, 0.0, y_max) / y_max * plot_h; };

  std::ostringstream svg;
  svg << header(width, height, "next_token loss curves");
  svg << text(left, 24, "Loss while training (" + std::to_string(s.result.steps) + " steps, " +
                            token_kind_name(s.tokens) + " tokens, V = " + std::to_string(s.model.vocab()) + ")",
              "font-size=\"15\" font-weight=\"bold\"");
  for (const double t : ticks(0.0, y_max, 6)) {
    svg << "<line x1=\"" << left << "\" x2=\"" << left + plot_w << "\" y1=\"" << num(Y(t)) << "\" y2=\"" << num(Y(t))
        << "\" stroke=\"#eeeeee\"/>\n";
    svg << text(left - 8, Y(t) + 4, num(t, t == std::floor(t) ? 0 : 1), "text-anchor=\"end\" fill=\"#444\"");
  }
  for (const double t : ticks(x0, x1, 8)) {
    svg << "<line x1=\"" << num(X(t)) << "\" x2=\"" << num(X(t)) << "\" y1=\"" << top + plot_h << "\" y2=\""
        << top + plot_h + 5 << "\" stroke=\"#444\"/>\n";
    svg << text(X(t), top + plot_h + 18, num(t, 0), "text-anchor=\"middle\" fill=\"#444\"");
  }
  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << plot_w << "\" height=\"" << plot_h
      << "\" fill=\"none\" stroke=\"#444\"/>\n";
  svg << text(left + plot_w / 2, height - 14, "step", "text-anchor=\"middle\"");
  svg << text(16, top + plot_h / 2, "loss (nats per token)",
              "text-anchor=\"middle\" transform=\"rotate(-90 16 " + num(top + plot_h / 2) + ")\"");

  batch_line(svg, batch, x0, X, Y);
  const auto series = [&](double CurvePoint::*field, const char* colour) {
    svg << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2.5\" points=\"";
    for (const CurvePoint& p : curve) svg << num(X(static_cast<double>(p.step))) << "," << num(Y(p.*field)) << " ";
    svg << "\"/>\n";
    for (const CurvePoint& p : curve) {
      svg << "<circle cx=\"" << num(X(static_cast<double>(p.step))) << "\" cy=\"" << num(Y(p.*field)) << "\" r=\"3\" fill=\""
          << colour << "\"><title>step " << p.step << ": " << num(p.*field, 4) << "</title></circle>\n";
    }
  };
  series(&CurvePoint::train, "#08519c");
  series(&CurvePoint::validation, "#e6550d");
  loss_legend(svg, left + plot_w - 250, top + 18);
  svg << text(left + plot_w, top - 8,
              "initial " + num(s.initial_loss(), 3) + "  ->  validation " + num(s.val_loss(), 3),
              "text-anchor=\"end\" fill=\"#444\"");
  svg << "</svg>\n";
  return svg.str();
}

namespace {

// The embedding-rows figure's geometry: every id across, features down (at most 64 of them,
// so the file stays small); a bar panel above a heat map.
struct RowsLayout {
  std::size_t vocab = 0, features = 0, shown_features = 0;
  int left = 40, right = 30, top = 84;
  double plot_w = 0, col = 0, bars_h = 120, gap = 44, cell_h = 0, heat_top = 0, heat_h = 0;
  int width = 0, height = 0;

  RowsLayout(std::size_t v, std::size_t f) : vocab(v), features(f), shown_features(std::min<std::size_t>(f, 64)) {
    plot_w = std::max(512.0, std::min(1200.0, 3.0 * static_cast<double>(vocab)));
    col = plot_w / static_cast<double>(vocab);
    cell_h = std::max(3.0, std::min(8.0, 240.0 / static_cast<double>(shown_features)));
    heat_top = top + bars_h + gap;
    heat_h = cell_h * static_cast<double>(shown_features);
    width = left + static_cast<int>(plot_w) + right;
    height = static_cast<int>(heat_top + heat_h + 128);
  }
  double x(std::size_t id) const { return left + col * static_cast<double>(id); }
};

constexpr int kLevels = 16;  // colours are quantised so equal neighbours merge into one rect

// Panel 1: movement of each row, |after - before|.
void movement_panel(std::ostream& svg, const RowsLayout& L, const RowCheck& rows, const Vocabulary& vocabulary,
                    double max_move) {
  const int left = L.left, top = L.top;
  const double bars_h = L.bars_h, col = L.col;
  svg << text(left, top - 10, "How far each row moved: |after - before| (tallest bar " + num(max_move, 2) + ")",
              "font-weight=\"bold\" fill=\"#333\"");
  svg << "<line x1=\"" << left << "\" x2=\"" << num(left + L.plot_w) << "\" y1=\"" << top + bars_h << "\" y2=\"" << top + bars_h
      << "\" stroke=\"#444\"/>\n";
  for (std::size_t r = 0; r < L.vocab; ++r) {
    const std::string label = vocabulary.label(static_cast<std::int32_t>(r));
    if (!rows.seen[r] && !rows.dense_table_gradient) {
      svg << "<rect x=\"" << num(L.x(r), 2) << "\" y=\"" << top + bars_h - 2 << "\" width=\"" << num(col, 2)
          << "\" height=\"2\" fill=\"" << kNeverFed << "\"><title>id " << r << " " << escape(label)
          << ": never fed, moved " << num(rows.movement[r], 6) << "</title></rect>\n";
      continue;
    }
    const double h = rows.movement[r] / max_move * bars_h;
    svg << "<rect x=\"" << num(L.x(r), 2) << "\" y=\"" << num(top + bars_h - h, 2) << "\" width=\"" << num(col, 2)
        << "\" height=\"" << num(std::max(h, 0.5), 2) << "\" fill=\"" << (rows.seen[r] ? kSeenBar : "#9e9ac8")
        << "\"><title>id " << r << " " << escape(label) << (rows.seen[r] ? ": fed" : ": never fed") << ", moved "
        << num(rows.movement[r], 4) << "</title></rect>\n";
  }
}

// One id's column of the heat map: runs of equal colour as one rect each.
void change_column(std::ostream& svg, const RowsLayout& L, std::size_t r, const Array& before, const Array& after,
                   double max_delta) {
  const auto level = [&](std::size_t k) {
    const double d = double{after(r, k)} - before(r, k);
    return static_cast<int>(std::lround(d / max_delta * kLevels));
  };
  std::size_t j = 0;
  while (j < L.shown_features) {
    const int lv = level(j);
    std::size_t end = j + 1;
    while (end < L.shown_features && level(end) == lv) ++end;
    if (lv != 0) {
      svg << "<rect x=\"" << num(L.x(r), 2) << "\" y=\"" << num(L.heat_top + L.cell_h * static_cast<double>(j), 1)
          << "\" width=\"" << num(L.col, 2) << "\" height=\"" << num(L.cell_h * static_cast<double>(end - j), 1)
          << "\" fill=\"" << diverging(static_cast<double>(lv) / kLevels) << "\"/>\n";
    }
    j = end;
  }
}

// Panel 2: every element's change; a column per id, a row per feature.
void change_panel(std::ostream& svg, const RowsLayout& L, const RowCheck& rows, const Array& before, const Array& after,
                  double max_delta) {
  const std::size_t features = L.features, shown_features = L.shown_features;
  svg << text(L.left, L.heat_top - 10,
              "Every element's change: a column per id, a row per feature (" +
                  (shown_features == features ? std::to_string(features) + " features"
                                              : "first " + std::to_string(shown_features) + " of " + std::to_string(features) + " features") +
                  ")",
              "font-weight=\"bold\" fill=\"#333\"");
  for (std::size_t r = 0; r < L.vocab; ++r) {
    if (!rows.seen[r] && rows.movement[r] == 0.0) {
      svg << "<rect x=\"" << num(L.x(r), 2) << "\" y=\"" << L.heat_top << "\" width=\"" << num(L.col, 2) << "\" height=\""
          << num(L.heat_h, 1) << "\" fill=\"" << kNeverFed << "\"/>\n";
      continue;
    }
    change_column(svg, L, r, before, after, max_delta);
  }
  svg << "<rect x=\"" << L.left << "\" y=\"" << L.heat_top << "\" width=\"" << num(L.plot_w) << "\" height=\"" << num(L.heat_h, 1)
      << "\" fill=\"none\" stroke=\"#444\"/>\n";
}

// Names the longest run of never-fed ids inside the heat map, where it is wide enough.
void never_fed_note(std::ostream& svg, const RowsLayout& L, const RowCheck& rows) {
  if (rows.dense_table_gradient) return;
  std::size_t best_start = 0, best_length = 0;
  for (std::size_t r = 0; r < L.vocab;) {
    std::size_t end = r;
    while (end < L.vocab && !rows.seen[end]) ++end;
    if (end - r > best_length) {
      best_start = r;
      best_length = end - r;
    }
    r = end + 1;
  }
  if (static_cast<double>(best_length) * L.col >= 150.0) {
    const double cx = L.x(best_start) + L.col * static_cast<double>(best_length) / 2;
    svg << text(cx, L.heat_top + L.heat_h / 2 - 2,
                "ids " + std::to_string(best_start) + "-" + std::to_string(best_start + best_length - 1) + ": never fed",
                "text-anchor=\"middle\" fill=\"#555\"");
    svg << text(cx, L.heat_top + L.heat_h / 2 + 14, "not one bit changed", "text-anchor=\"middle\" fill=\"#555\"");
  }
}

// Id axis: byte values at round hex positions, other ids at round numbers.
void id_axis(std::ostream& svg, const RowsLayout& L, const Vocabulary& vocabulary) {
  const double axis_y = L.heat_top + L.heat_h;
  std::vector<std::size_t> marks;
  if (vocabulary.kind() == TokenKind::byte && L.vocab == 256) {
    marks = {0, 32, 48, 65, 97, 128, 192, 255};
  } else {
    for (const double t : ticks(0.0, static_cast<double>(L.vocab - 1), 8)) marks.push_back(static_cast<std::size_t>(t));
  }
  for (const std::size_t m : marks) {
    const double x = L.x(m) + L.col / 2;
    svg << "<line x1=\"" << num(x) << "\" x2=\"" << num(x) << "\" y1=\"" << num(axis_y) << "\" y2=\"" << num(axis_y + 5)
        << "\" stroke=\"#444\"/>\n";
    std::string label = std::to_string(m);
    if (vocabulary.kind() == TokenKind::byte) label += " " + vocabulary.label(static_cast<std::int32_t>(m));
    svg << text(x, axis_y + 18, label, "text-anchor=\"middle\" font-size=\"11\" fill=\"#444\"");
  }
  svg << text(L.left + L.plot_w / 2, axis_y + 36,
              std::string("token id (") + (vocabulary.kind() == TokenKind::byte  ? "byte value"
                                  : vocabulary.kind() == TokenKind::bpe ? "0-255 bytes, then BPE merges in order"
                                  : vocabulary.kind() == TokenKind::character ? "character, in code point order"
                                                                        : "word rank; 0 is <unk>") + ")",
              "text-anchor=\"middle\"");
}

// Legend: fed rows, never-fed rows, the colour scale of the element changes.
void rows_legend(std::ostream& svg, const RowsLayout& L, const RunSummary& s, double max_delta) {
  const int left = L.left;
  const double ly = L.heat_top + L.heat_h + 62;
  svg << "<rect x=\"" << left << "\" y=\"" << ly - 10 << "\" width=\"14\" height=\"12\" fill=\"" << kSeenBar << "\"/>\n";
  svg << text(left + 20, ly, "fed as input: moved by SGD");
  svg << "<rect x=\"" << left + 220 << "\" y=\"" << ly - 10 << "\" width=\"14\" height=\"12\" fill=\"" << kNeverFed << "\"/>\n";
  svg << text(left + 240, ly, s.rows.dense_table_gradient ? "never fed" : "never fed: flat, not one bit changed");
  const double sx = left + 110, sy = ly + 24;
  svg << text(left, sy, "element change");
  for (int i = -kLevels; i <= kLevels; ++i) {
    svg << "<rect x=\"" << num(sx + (i + kLevels) * 4.0 + 36) << "\" y=\"" << sy - 10 << "\" width=\"4\" height=\"12\" fill=\""
        << diverging(static_cast<double>(i) / kLevels) << "\"/>\n";
  }
  svg << text(sx + 30, sy, "-" + num(max_delta, 2), "text-anchor=\"end\" font-size=\"11\"");
  svg << text(sx + 36 + (2 * kLevels + 1) * 4.0 + 6, sy, "+" + num(max_delta, 2), "font-size=\"11\"");
  svg << text(left, ly + 48,
              std::string(s.options.momentum > 0 || s.options.weight_decay > 0
                              ? "Momentum and weight decay are lazy on the table: they touch a row only in steps that feed it."
                              : "Plain SGD writes only the rows named by each step's row-sparse gradient."),
              "fill=\"#444\" font-size=\"11\"");
}

}  // namespace

std::string embedding_rows_svg(const RunSummary& s, const Vocabulary& vocabulary, const Array& before, const Array& after) {
  const RowCheck& rows = s.rows;
  const RowsLayout L(before.shape()[0], before.shape()[1]);
  double max_move = 0.0, max_delta = 0.0;
  for (const double m : rows.movement) max_move = std::max(max_move, m);
  for (std::size_t i = 0; i < before.size(); ++i) {
    max_delta = std::max(max_delta, std::fabs(double{after.data()[i]} - before.data()[i]));
  }
  if (max_move == 0.0) max_move = 1.0;
  if (max_delta == 0.0) max_delta = 1.0;

  std::ostringstream svg;
  svg << header(L.width, L.height, "next_token embedding rows");
  svg << text(L.left, 22, "Which embedding rows moved: " + std::to_string(rows.rows_changed) + " of " +
                              std::to_string(L.vocab) + " rows changed, " + std::to_string(rows.rows_seen) +
                              " ids were fed as input",
              "font-size=\"15\" font-weight=\"bold\"");
  const std::string flat_note =
      rows.dense_table_gradient
          ? "tied output layer (--tie): every row gets a gradient, so never-fed rows move too"
          : std::to_string(rows.rows_never_seen) + " never-fed rows (grey) are " +
                (rows.unseen_rows_identical ? "bit-identical to their initial values" : "NOT all unchanged");
  svg << text(L.left, 42, flat_note, "fill=\"#444\"");
  movement_panel(svg, L, rows, vocabulary, max_move);
  change_panel(svg, L, rows, before, after, max_delta);
  never_fed_note(svg, L, rows);
  id_axis(svg, L, vocabulary);
  rows_legend(svg, L, s, max_delta);
  svg << "</svg>\n";
  return svg.str();
}

std::vector<std::string> write_plots(const std::string& dir, const RunSummary& summary, const Vocabulary& vocabulary,
                                     const Array& before, const Array& after) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error || !std::filesystem::is_directory(dir)) {
    throw std::runtime_error("cannot write plots in " + dir + ": " + (error ? error.message() : "not a directory"));
  }
  const std::string loss = (std::filesystem::path(dir) / kPlotFiles[0]).string();
  const std::string rows = (std::filesystem::path(dir) / kPlotFiles[1]).string();
  xgrad::io::write_file_atomically(loss, loss_svg(summary));
  xgrad::io::write_file_atomically(rows, embedding_rows_svg(summary, vocabulary, before, after));
  return {loss, rows};
}

}  // namespace next_token
