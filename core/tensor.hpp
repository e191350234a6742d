// Tensor: a cheap, shared handle to a node holding an evaluated float32 value, the
// gradient it accumulates, and whether it wants one. Copies share the node.
// Not an expression: ops (core/ops.hpp) compute new tensors and record them on a Tape.
#pragma once

#include <memory>
#include <string>

#include "core/array.hpp"
#include "core/gradient.hpp"

namespace xgrad {

class Tensor {
 public:
  // An empty handle; most calls on it throw std::logic_error.
  Tensor() = default;

  // A tensor holding `value`. Parameters pass requires_grad = true and a name such as
  // "embed.embedding", which printed tapes and error messages use.
  explicit Tensor(Array value, bool requires_grad = false, std::string name = "");

  // A trainable parameter: requires a gradient, and keeps it across tapes until cleared.
  static Tensor parameter(Array value, std::string name);

  bool defined() const { return node_ != nullptr; }

  const Array& value() const;
  // Mutable access, for optimisers and initialisation; never during a backward pass, and
  // never changing the shape. A handle is like a pointer: const handles still reach the
  // node, so backward functions can accumulate into tensors they captured by value.
  Array& mutable_value() const;
  // The value's shape, kept in the node: a reference valid while any handle to it lives.
  const Shape& shape() const;
  std::size_t size() const;

  const Gradient& grad() const;
  Gradient& mutable_grad() const;
  bool requires_grad() const;
  const std::string& name() const;

  // Two handles to the same node.
  bool same_node(const Tensor& other) const { return node_ == other.node_; }

 private:
  struct Node;
  Node& node() const;
  std::shared_ptr<Node> node_;
};

}  // namespace xgrad
