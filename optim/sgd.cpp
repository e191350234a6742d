// SGD: dense and row-sparse updates.
#include "optim/sgd.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/detail/parallel.hpp"
#include "core/detail/prefetch.hpp"

namespace xgrad::optim {
namespace {

void require_non_negative(float value, const char* what) {
  if (!std::isfinite(value) || value < 0.0f) {
    throw std::invalid_argument(std::string("SGD: ") + what + " must be finite and >= 0, got " +
                                std::to_string(value));
  }
}

// p[i] -= lr * g[i]; parameter and gradient never overlap, and saying so lets the
// compiler vectorise without run-time checks.
void plain_update(float* __restrict p, const float* __restrict g, std::size_t n, float lr) {
  for (std::size_t i = 0; i < n; ++i) p[i] -= lr * g[i];
}

// p[i] -= lr * v[i] with v = momentum * v + (g + wd * p), over n contiguous floats.
// With momentum 0 the velocity is not read or kept.
void update(float* p, const float* g, float* velocity, std::size_t n, float lr,
            const SGDOptions& options) {
  if (!velocity && options.weight_decay == 0.0f) {  // plain SGD, the common sparse case
    plain_update(p, g, n, lr);
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    float d = g[i] + options.weight_decay * p[i];
    if (velocity) {
      velocity[i] = options.momentum * velocity[i] + d;
      d = velocity[i];
    }
    p[i] -= lr * d;
  }
}

}  // namespace

SGD::SGD(std::vector<Tensor> parameters, float lr, SGDOptions options)
    : parameters_(std::move(parameters)), lr_(lr), options_(options) {
  set_lr(lr);
  require_non_negative(options.momentum, "momentum");
  require_non_negative(options.weight_decay, "weight_decay");
  if (options.momentum >= 1.0f) throw std::invalid_argument("SGD: momentum must be < 1");
  for (const Tensor& p : parameters_) {
    if (!p.defined() || !p.requires_grad()) {
      throw std::invalid_argument("SGD: parameter '" + (p.defined() ? p.name() : std::string()) +
                                  "' does not require a gradient");
    }
    if (options.momentum > 0.0f) velocities_.push_back(zeros_array(p.shape()));
  }
  // SGD keys no state by name (names may be empty), but one tensor listed twice would
  // still be stepped twice per step.
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    for (std::size_t j = 0; j < k; ++j) {
      if (parameters_[j].same_node(parameters_[k])) {
        throw std::invalid_argument("SGD: parameters " + std::to_string(j) + " and " +
                                    std::to_string(k) + " are the same tensor '" +
                                    parameters_[k].name() +
                                    "'; list each once, or it is updated twice per step");
      }
    }
  }
}

void SGD::set_lr(float lr) {
  require_non_negative(lr, "lr");
  lr_ = lr;
}

void SGD::step() {
  ++step_;
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    const Tensor& p = parameters_[k];
    const Gradient& g = p.grad();
    float* values = p.mutable_value().data();
    float* velocity = velocities_.empty() ? nullptr : velocities_[k].data();
    if (g.kind() == Gradient::Kind::dense) {
      update_dense(values, g.dense().data(), velocity, p.size());
    } else if (g.kind() == Gradient::Kind::row_sparse) {
      update_rows(values, g.row_sparse(), velocity);
    }
  }
}

// Elementwise, so any split across threads gives the same bits.
void SGD::update_dense(float* values, const float* grad, float* velocity, std::size_t n) const {
  parallel::for_range(n, 2 * n, [&](std::size_t begin, std::size_t end) {
    update(values + begin, grad + begin, velocity ? velocity + begin : nullptr, end - begin, lr_,
           options_);
  });
}

// Only the rows the gradient names are read or written; each row on one thread.
void SGD::update_rows(float* values, const RowSparseGrad& sparse, float* velocity) const {
  const std::size_t width = sparse.row_width();
  const std::int32_t* rows = sparse.rows().data();
  const std::size_t count = sparse.rows().size();
  const bool ahead = prefetch::pays(count, width);
  const float* grads = count ? sparse.row_values(0) : nullptr;
  const float lr = lr_;
  const SGDOptions options = options_;
  parallel::for_range(count, 2 * count * width, [=](std::size_t first, std::size_t last) {
    for (std::size_t i = first; i < last; ++i) {
      if (ahead && i + prefetch::kDistance < last) {
        const std::size_t next = static_cast<std::size_t>(rows[i + prefetch::kDistance]) * width;
        prefetch::row(values + next, width * sizeof(float), /*for_write=*/true);
      }
      const std::size_t offset = static_cast<std::size_t>(rows[i]) * width;
      update(values + offset, grads + i * width, velocity ? velocity + offset : nullptr, width, lr,
             options);
    }
  });
}

void SGD::zero_grad() {
  for (const Tensor& p : parameters_) p.mutable_grad().clear();
}

OptimizerState SGD::state() const {
  OptimizerState state;
  state.kind = "sgd";
  state.step = step_;
  if (velocities_.empty()) return state;
  detail::require_unique_names(parameters_, "SGD::state");
  state.arrays.reserve(parameters_.size());
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    state.arrays.emplace_back(parameters_[k].name() + ".velocity", velocities_[k]);
  }
  return state;
}

void SGD::load_state(const OptimizerState& state) {
  std::vector<detail::ExpectedArray> expected;
  if (!velocities_.empty()) {
    detail::require_unique_names(parameters_, "SGD::load_state");
    for (const Tensor& p : parameters_) expected.push_back({p.name() + ".velocity", p.shape()});
  }
  const std::vector<const Array*> arrays =
      detail::match_state_arrays(state, "sgd", expected, "SGD::load_state");
  for (std::size_t k = 0; k < arrays.size(); ++k) {
    std::copy(arrays[k]->data(), arrays[k]->data() + arrays[k]->size(), velocities_[k].data());
  }
  step_ = state.step;
}

}  // namespace xgrad::optim
