// SGD: dense and row-sparse updates.
#include "optim/sgd.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace xgrad::optim {
namespace {

void require_non_negative(float value, const char* what) {
  if (!std::isfinite(value) || value < 0.0f) {
    throw std::invalid_argument(std::string("SGD: ") + what + " must be finite and >= 0, got " +
                                std::to_string(value));
  }
}

// p[i] -= lr * v[i] with v = momentum * v + (g + wd * p), over n contiguous floats.
// With momentum 0 the velocity is not read or kept.
void update(float* p, const float* g, float* velocity, std::size_t n, float lr,
            const SGDOptions& options) {
  if (!velocity && options.weight_decay == 0.0f) {  // plain SGD, the common sparse case
    for (std::size_t i = 0; i < n; ++i) p[i] -= lr * g[i];
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
}

void SGD::set_lr(float lr) {
  require_non_negative(lr, "lr");
  lr_ = lr;
}

void SGD::step() {
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    const Tensor& p = parameters_[k];
    const Gradient& g = p.grad();
    float* values = p.mutable_value().data();
    float* velocity = velocities_.empty() ? nullptr : velocities_[k].data();
    if (g.kind() == Gradient::Kind::dense) {
      update(values, g.dense().data(), velocity, p.size(), lr_, options_);
    } else if (g.kind() == Gradient::Kind::row_sparse) {
      // Only the rows the gradient names are read or written.
      const RowSparseGrad& sparse = g.row_sparse();
      const std::size_t width = sparse.row_width();
      for (std::size_t i = 0; i < sparse.rows().size(); ++i) {
        const std::size_t offset = static_cast<std::size_t>(sparse.rows()[i]) * width;
        update(values + offset, sparse.row_values(i), velocity ? velocity + offset : nullptr,
               width, lr_, options_);
      }
    }
  }
}

void SGD::zero_grad() {
  for (const Tensor& p : parameters_) p.mutable_grad().clear();
}

}  // namespace xgrad::optim
