// The checks optimisers share: parameter names as state keys, and a loaded state's arrays.
#include "optim/optimizer.hpp"

#include <cmath>
#include <stdexcept>
#include <unordered_map>

namespace xgrad::optim::detail {

void require_unique_names(const std::vector<Tensor>& parameters, const std::string& who) {
  std::unordered_map<std::string, std::size_t> index_of;
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    const std::string& name = parameters[k].name();
    if (name.empty()) {
      throw std::invalid_argument(who + ": parameter " + std::to_string(k) +
                                  " has no name; its state is keyed by name");
    }
    const auto [it, inserted] = index_of.emplace(name, k);
    if (!inserted && parameters[it->second].same_node(parameters[k])) {
      throw std::invalid_argument(who + ": parameters " + std::to_string(it->second) + " and " +
                                  std::to_string(k) + " are the same tensor, both named '" + name +
                                  "'; list each once, or it is updated twice per step");
    }
    if (!inserted) {
      throw std::invalid_argument(who + ": parameters " + std::to_string(it->second) + " and " +
                                  std::to_string(k) + " are both named '" + name +
                                  "'; state is keyed by name, so names must be unique");
    }
  }
}

std::vector<const Array*> match_state_arrays(const OptimizerState& state, const std::string& kind,
                                             const std::vector<ExpectedArray>& expected,
                                             const std::string& who) {
  if (state.kind != kind) {
    throw std::invalid_argument(who + ": state of kind '" + state.kind + "', expected '" + kind +
                                "'");
  }
  std::unordered_map<std::string, const Array*> given;
  for (const auto& [name, array] : state.arrays) {
    if (!given.emplace(name, &array).second) {
      throw std::invalid_argument(who + ": state has array '" + name + "' twice");
    }
  }
  std::vector<const Array*> matched;
  matched.reserve(expected.size());
  for (const ExpectedArray& e : expected) {
    const auto it = given.find(e.name);
    if (it == given.end()) {
      std::string unknown;  // a renamed array shows up here too
      for (const auto& entry : state.arrays) {
        bool known = false;
        for (const ExpectedArray& other : expected) known = known || other.name == entry.first;
        if (!known) unknown += (unknown.empty() ? "" : ", ") + ("'" + entry.first + "'");
      }
      throw std::invalid_argument(who + ": state has no array '" + e.name + "'" +
                                  (unknown.empty() ? "" : " (it has unknown " + unknown + ")"));
    }
    const Array& array = *it->second;
    if (shape_of(array) != e.shape) {
      throw std::invalid_argument(who + ": state array '" + e.name + "' has shape " +
                                  shape_string(shape_of(array)) + ", expected " +
                                  shape_string(e.shape));
    }
    for (std::size_t i = 0; i < array.size(); ++i) {
      if (!std::isfinite(array.data()[i])) {
        throw std::invalid_argument(who + ": state array '" + e.name + "' has a non-finite value (" +
                                    std::to_string(array.data()[i]) + ") at flat index " +
                                    std::to_string(i));
      }
    }
    matched.push_back(&array);
    given.erase(it);
  }
  if (!given.empty()) {
    // Name the unknown array that comes first in the state, not in hash order.
    for (const auto& entry : state.arrays) {
      if (given.count(entry.first)) {
        throw std::invalid_argument(who + ": state has an unknown array '" + entry.first + "'");
      }
    }
  }
  return matched;
}

}  // namespace xgrad::optim::detail
