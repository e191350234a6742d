// Scope: one place where a layer's parameter names, PRNG keys and registration come from,
// as Flax's self.param and candle's VarBuilder::pp. Not a module system: it builds nothing
// but parameters, and a layer keeps its own tensors and accessors.
//
//   Scope root(random::prng_key(seed));               path "",        key prng_key(seed)
//   Scope attn = root.child("h0").child("attn");      path "h0.attn", key fold_in(fold_in(k, #"h0"), #"attn")
//   Linear qkv(attn.child("qkv"), C, 3 * C);          "h0.attn.qkv.kernel", "h0.attn.qkv.bias"
//   root.parameters()                                 every parameter, in creation order
//
// child(name) folds name_hash(name) (core/init/name_hash.hpp) into the key, so a parameter's
// key depends only on the root key and its path, never on creation order.
//
// The key rule: a scope's key seeds at most ONE random parameter. param(name, init, shape)
// calls init(key(), shape) with the scope's own key (a Linear's kernel is drawn from the
// Linear's key, an Embed's table from the Embed's: Flax's bits, and today's), and a second
// param(name, init, shape) in a scope of the same path throws std::logic_error, since it
// would draw the same numbers. A parameter that needs no key (zeros, ones, a given value)
// comes from param(name, value); a layer with a second random parameter draws it in a child
// scope (Linear's random bias: child("bias")). A duplicate name throws std::invalid_argument.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/init/initializers.hpp"
#include "core/tensor.hpp"

namespace xgrad::layers {

// One entry of a scope's parameter list: the dotted path and the trainable tensor (whose
// Tensor::name() is the same path).
struct NamedParameter {
  std::string name;
  Tensor tensor;
};

class Scope {
 public:
  // A root scope: a new, empty parameter list. `path` prefixes every name below it (empty:
  // names start at the children); `key` is used as given (no name folded in), so
  // Scope(key, "embed") is a layer standing alone with the key it was handed.
  explicit Scope(const Key& key, std::string path = "");

  // The scope of a child: path "<path>.<name>" (or "<name>" at an empty root), key
  // fold_in(key(), name_hash(name)), the same parameter list. Throws std::invalid_argument
  // for an empty name or one containing '.'.
  Scope child(const std::string& name) const;

  // Draws init(key(), shape) (checked to have that shape, ShapeError otherwise), registers it
  // as a parameter named "<path>.<name>" and returns it. Throws std::invalid_argument for a
  // duplicate name, then std::logic_error when this path's key has already drawn a parameter.
  // An empty name registers the parameter under the scope's path itself (GPT-2's "wte").
  Tensor param(const std::string& name, const Initializer& init, const Shape& shape) const;
  // A parameter with a given initial value; draws no key. Same naming and duplicate check.
  Tensor param(const std::string& name, Array value) const;

  const Key& key() const { return key_; }
  const std::string& path() const { return path_; }

  // The list this scope's root owns (shared by every scope built from it), in creation order.
  const std::vector<NamedParameter>& parameters() const;
  std::vector<std::string> names() const;
  std::vector<Tensor> tensors() const;
  std::size_t count() const { return parameters().size(); }
  // The number of values over all parameters.
  std::size_t size() const;

 private:
  struct List;
  Scope(std::shared_ptr<List> list, const Key& key, std::string path);
  std::string name_of(const std::string& name) const;
  Tensor add(const std::string& name, Array value) const;

  std::shared_ptr<List> list_;
  Key key_;
  std::string path_;
};

}  // namespace xgrad::layers
