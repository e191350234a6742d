// AdamW: one fused pass per dense parameter, one per stored row of a row-sparse gradient.
#include "optim/adamw.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/detail/parallel.hpp"
#include "core/detail/simd.hpp"

namespace xgrad::optim {
namespace {

void require_finite_non_negative(float value, const std::string& what) {
  if (!std::isfinite(value) || value < 0.0f) {
    throw std::invalid_argument("AdamW: " + what + " must be finite and >= 0, got " +
                                std::to_string(value));
  }
}

void require_trainable(const std::vector<Tensor>& parameters) {
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    const Tensor& p = parameters[k];
    if (!p.defined() || !p.requires_grad()) {
      throw std::invalid_argument("AdamW: parameter " + std::to_string(k) + " ('" +
                                  (p.defined() ? p.name() : std::string()) +
                                  "') does not require a gradient");
    }
  }
}

void require_beta(float value, const char* what) {
  if (!(value >= 0.0f && value < 1.0f)) {
    throw std::invalid_argument(std::string("AdamW: ") + what + " must be in [0, 1), got " +
                                std::to_string(value));
  }
}

// The double a float hyper-parameter stands for: the shortest decimal that rounds to it
// (0.9f -> 0.9), which is the Python float PyTorch would have been given. Scalars derived
// from it then round to the same floats as PyTorch's (1 - 0.9f in double is 0.100000024,
// 1 - 0.9 is 0.1). Locale-independent, as to_chars and from_chars are.
double as_decimal(float x) {
  char text[32];
  const std::to_chars_result written = std::to_chars(text, text + sizeof text, x);
  double value = x;
  std::from_chars(text, written.ptr, value);
  return value;
}

// The float scalars of step t, computed in double and rounded once (see adamw.hpp).
struct StepScalars {
  float decay;             // 1 - lr * wd
  float beta1, one_minus_beta1;
  float beta2, one_minus_beta2;
  float bias_correction2_sqrt;
  float neg_step_size;     // -lr / (1 - beta1^t)
  float eps;
};

StepScalars scalars_for(float lr, float weight_decay, const AdamWOptions& o, std::uint64_t t) {
  const double lr_d = as_decimal(lr), weight_decay_d = as_decimal(weight_decay);
  const double beta1 = as_decimal(o.beta1), beta2 = as_decimal(o.beta2);
  const double bias_correction1 = 1.0 - std::pow(beta1, static_cast<double>(t));
  const double bias_correction2 = 1.0 - std::pow(beta2, static_cast<double>(t));
  StepScalars s;
  s.decay = static_cast<float>(1.0 - lr_d * weight_decay_d);
  s.beta1 = o.beta1;
  s.one_minus_beta1 = static_cast<float>(1.0 - beta1);
  s.beta2 = o.beta2;
  s.one_minus_beta2 = static_cast<float>(1.0 - beta2);
  s.bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  s.neg_step_size = static_cast<float>(-(lr_d / bias_correction1));
  s.eps = o.eps;
  return s;
}

// One element, PyTorch's operation order: p.mul_(decay); m.mul_(b1).add_(g, 1-b1);
// v.mul_(b2).addcmul_(g, g, 1-b2); p.addcdiv_(m, sqrt(v) / sqrt(bc2) + eps, -step_size).
// T is float or a SIMD batch: every operation is a correctly rounded IEEE one (no fused
// multiply-add), so a lane and the scalar tail give the same bits.
template <class T>
void update_one(T& p, T g, T& m, T& v, const StepScalars& s) {
  using std::sqrt;
  using xsimd::sqrt;
  const T pi = p * T(s.decay);
  const T mi = m * T(s.beta1) + T(s.one_minus_beta1) * g;
  const T vi = v * T(s.beta2) + T(s.one_minus_beta2) * g * g;
  const T denom = sqrt(vi) / T(s.bias_correction2_sqrt) + T(s.eps);
  m = mi;
  v = vi;
  p = pi + T(s.neg_step_size) * mi / denom;
}

// n contiguous elements. Explicit SIMD: the compiler does not vectorise std::sqrt on its own
// (it keeps the errno path for negative inputs).
void update(float* p, const float* g, float* m, float* v, std::size_t n, const StepScalars& s) {
  using simd::Batch;
  constexpr std::size_t lanes = Batch::size;
  std::size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    Batch pb = Batch::load_unaligned(p + i), mb = Batch::load_unaligned(m + i);
    Batch vb = Batch::load_unaligned(v + i);
    update_one(pb, Batch::load_unaligned(g + i), mb, vb, s);
    pb.store_unaligned(p + i);
    mb.store_unaligned(m + i);
    vb.store_unaligned(v + i);
  }
  for (; i < n; ++i) update_one(p[i], g[i], m[i], v[i], s);
}

// Memory-bound work units per element: four arrays read, three written, a sqrt and a divide.
constexpr std::size_t kWorkPerElement = 8;

}  // namespace

AdamW::AdamW(std::vector<Tensor> parameters, float lr, AdamWOptions options)
    : lr_(lr), options_(options) {
  validate_options();
  set_lr(lr);
  require_finite_non_negative(options.weight_decay, "weight_decay");
  require_trainable(parameters);
  detail::require_unique_names(parameters, "AdamW");
  slots_.reserve(parameters.size());
  for (const Tensor& p : parameters) {
    add(p, p.shape().size() >= 2 ? options.weight_decay : 0.0f);
  }
}

AdamW::AdamW(std::vector<ParameterGroup> groups, float lr, AdamWOptions options)
    : lr_(lr), options_(options) {
  validate_options();
  set_lr(lr);
  std::vector<Tensor> all;
  for (std::size_t k = 0; k < groups.size(); ++k) {
    require_finite_non_negative(groups[k].weight_decay,
                                "weight_decay of group " + std::to_string(k));
    all.insert(all.end(), groups[k].parameters.begin(), groups[k].parameters.end());
  }
  require_trainable(all);
  detail::require_unique_names(all, "AdamW");
  slots_.reserve(all.size());
  for (const ParameterGroup& group : groups) {
    for (const Tensor& p : group.parameters) add(p, group.weight_decay);
  }
}

void AdamW::validate_options() const {
  require_beta(options_.beta1, "beta1");
  require_beta(options_.beta2, "beta2");
  require_finite_non_negative(options_.eps, "eps");
}

void AdamW::add(const Tensor& parameter, float weight_decay) {
  slots_.push_back(
      Slot{parameter, weight_decay, zeros_array(parameter.shape()), zeros_array(parameter.shape())});
}

void AdamW::set_lr(float lr) {
  require_finite_non_negative(lr, "lr");
  lr_ = lr;
}

float AdamW::weight_decay(std::size_t index) const { return slots_.at(index).weight_decay; }

void AdamW::step() {
  ++step_;
  for (Slot& slot : slots_) {
    const Gradient& g = slot.parameter.grad();
    if (g.empty()) continue;
    const StepScalars s = scalars_for(lr_, slot.weight_decay, options_, step_);
    float* p = slot.parameter.mutable_value().data();
    float* m = slot.exp_avg.data();
    float* v = slot.exp_avg_sq.data();
    if (g.kind() == Gradient::Kind::dense) {
      const float* grad = g.dense().data();
      const std::size_t n = slot.exp_avg.size();
      // Elementwise: any split across threads gives the same bits.
      parallel::for_range(n, kWorkPerElement * n, [=, &s](std::size_t begin, std::size_t end) {
        update(p + begin, grad + begin, m + begin, v + begin, end - begin, s);
      });
      continue;
    }
    // Row-sparse: only the stored rows (unique), each on one thread.
    const RowSparseGrad& sparse = g.row_sparse();
    const std::size_t width = sparse.row_width();
    const std::size_t count = sparse.rows().size();
    if (count == 0) continue;
    const std::int32_t* rows = sparse.rows().data();
    const float* grads = sparse.row_values(0);
    parallel::for_range(count, kWorkPerElement * count * width,
                        [=, &s](std::size_t first, std::size_t last) {
                          for (std::size_t i = first; i < last; ++i) {
                            const std::size_t offset = static_cast<std::size_t>(rows[i]) * width;
                            update(p + offset, grads + i * width, m + offset, v + offset, width, s);
                          }
                        });
  }
}

void AdamW::zero_grad() {
  for (const Slot& slot : slots_) slot.parameter.mutable_grad().clear();
}

OptimizerState AdamW::state() const {
  OptimizerState state;
  state.kind = "adamw";
  state.step = step_;
  state.arrays.reserve(2 * slots_.size());
  for (const Slot& slot : slots_) {
    state.arrays.emplace_back(slot.parameter.name() + ".exp_avg", slot.exp_avg);
    state.arrays.emplace_back(slot.parameter.name() + ".exp_avg_sq", slot.exp_avg_sq);
  }
  return state;
}

void AdamW::load_state(const OptimizerState& state) {
  std::vector<detail::ExpectedArray> expected;
  expected.reserve(2 * slots_.size());
  for (const Slot& slot : slots_) {
    expected.push_back({slot.parameter.name() + ".exp_avg", slot.parameter.shape()});
    expected.push_back({slot.parameter.name() + ".exp_avg_sq", slot.parameter.shape()});
  }
  const std::vector<const Array*> arrays =
      detail::match_state_arrays(state, "adamw", expected, "AdamW::load_state");
  for (std::size_t k = 0; k < slots_.size(); ++k) {
    const Array& v = *arrays[2 * k + 1];
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v.data()[i] < 0.0f) {
        throw std::invalid_argument("AdamW::load_state: state array '" + expected[2 * k + 1].name +
                                    "' has a negative value (" + std::to_string(v.data()[i]) +
                                    ") at flat index " + std::to_string(i));
      }
    }
  }
  for (std::size_t k = 0; k < slots_.size(); ++k) {
    const Array& m = *arrays[2 * k];
    const Array& v = *arrays[2 * k + 1];
    std::copy(m.data(), m.data() + m.size(), slots_[k].exp_avg.data());
    std::copy(v.data(), v.data() + v.size(), slots_[k].exp_avg_sq.data());
  }
  step_ = state.step;
}

}  // namespace xgrad::optim
