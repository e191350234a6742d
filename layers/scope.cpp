// Scope: the shared parameter list, child paths and keys, and the one-draw-per-key check.
#include "layers/scope.hpp"

#include <set>
#include <stdexcept>

#include "core/errors.hpp"
#include "core/init/name_hash.hpp"

namespace xgrad::layers {

struct Scope::List {
  std::vector<NamedParameter> parameters;
  std::set<std::string> names;
  std::set<std::string> drawn_paths;  // scopes whose key has seeded a random parameter
};

Scope::Scope(const Key& key, std::string path) : Scope(std::make_shared<List>(), key, std::move(path)) {}

Scope::Scope(std::shared_ptr<List> list, const Key& key, std::string path)
    : list_(std::move(list)), key_(key), path_(std::move(path)) {}

Scope Scope::child(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos) {
    throw std::invalid_argument("Scope " + path_ + ": a child's name must be non-empty and without '.', got \"" +
                                name + "\"");
  }
  return Scope(list_, random::fold_in_name(key_, name), path_.empty() ? name : path_ + "." + name);
}

std::string Scope::name_of(const std::string& name) const {
  if (name.empty()) return path_;
  return path_.empty() ? name : path_ + "." + name;
}

Tensor Scope::param(const std::string& name, const Initializer& init, const Shape& shape) const {
  const std::string full = name_of(name);
  if (list_->names.count(full) != 0) throw std::invalid_argument("Scope: duplicate parameter name " + full);
  if (list_->drawn_paths.count(path_) != 0) {
    throw std::logic_error("Scope \"" + path_ + "\": its key has already drawn a parameter, so " + full +
                           " would repeat its numbers; draw it in a child scope or give it a value");
  }
  Array value = init(key_, shape);
  if (shape_of(value) != shape) {
    throw ShapeError("Scope: the initializer of " + full + " returned shape " + shape_string(shape_of(value)) +
                     ", expected " + shape_string(shape));
  }
  list_->drawn_paths.insert(path_);
  return add(full, std::move(value));
}

Tensor Scope::param(const std::string& name, Array value) const { return add(name_of(name), std::move(value)); }

Tensor Scope::add(const std::string& full, Array value) const {
  if (full.empty()) throw std::invalid_argument("Scope: a parameter at the root needs a name");
  if (!list_->names.insert(full).second) throw std::invalid_argument("Scope: duplicate parameter name " + full);
  Tensor t = Tensor::parameter(std::move(value), full);
  list_->parameters.push_back({full, t});
  return t;
}

const std::vector<NamedParameter>& Scope::parameters() const { return list_->parameters; }

std::vector<std::string> Scope::names() const {
  std::vector<std::string> out;
  for (const NamedParameter& p : list_->parameters) out.push_back(p.name);
  return out;
}

std::vector<Tensor> Scope::tensors() const {
  std::vector<Tensor> out;
  for (const NamedParameter& p : list_->parameters) out.push_back(p.tensor);
  return out;
}

std::size_t Scope::size() const {
  std::size_t n = 0;
  for (const NamedParameter& p : list_->parameters) n += p.tensor.size();
  return n;
}

}  // namespace xgrad::layers
