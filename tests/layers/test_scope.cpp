// Specification of layers::Scope: names, keys and the parameter list from one object.
#include <catch2/catch.hpp>

#include "layers/scope.hpp"
#include "tests/test_support.hpp"

using namespace xgrad;
using layers::Scope;
using Catch::Matchers::Contains;

namespace {

// An initializer that records the key it was called with, so a test sees which key drew.
Initializer key_recorder(Key& seen) {
  return [&seen](const Key& key, const Shape& shape) {
    seen = key;
    return testing::hashed_values(shape, key.lo);
  };
}

}  // namespace

TEST_CASE("A child scope extends the dotted path and folds the name's hash into the key", "[layers][scope]") {
  const Key k = random::prng_key(5);
  const Scope root(k);
  const Scope attn = root.child("h0").child("attn");
  CHECK(root.path().empty());
  CHECK(root.key() == k);
  CHECK(attn.path() == "h0.attn");
  // The hashes are SHA-1's first 4 bytes of "h0" and "attn" (Python's hashlib).
  CHECK(attn.key() == random::fold_in(random::fold_in(k, 0xddc57447u), 0x5aff4092u));
  CHECK(Scope(k, "embed").child("x").path() == "embed.x");
}

TEST_CASE("param draws from the scope's own key and registers the tensor under its path", "[layers][scope]") {
  const Scope root(random::prng_key(1));
  const Scope head = root.child("head");
  Key seen{};
  const Tensor kernel = head.param("kernel", key_recorder(seen), {3, 4});
  CHECK(seen == head.key());
  CHECK(kernel.name() == "head.kernel");
  CHECK(kernel.requires_grad());
  CHECK(kernel.shape() == Shape{3, 4});
  REQUIRE(root.count() == 1);
  CHECK(root.parameters()[0].name == "head.kernel");
  CHECK(root.parameters()[0].tensor.same_node(kernel));
}

TEST_CASE("Every scope of a root sees one list in creation order as names, tensors and count", "[layers][scope]") {
  const Scope root(random::prng_key(2));
  const Scope a = root.child("a"), b = root.child("b");
  b.param("w", initializers::normal(1.0f), {2});
  a.param("bias", zeros_array({5}));
  a.param("w", initializers::normal(1.0f), {2, 2});
  CHECK(a.names() == std::vector<std::string>{"b.w", "a.bias", "a.w"});
  CHECK(root.names() == a.names());
  CHECK(b.count() == 3);
  CHECK(root.size() == 2 + 5 + 4);
  const std::vector<Tensor> tensors = root.tensors();
  REQUIRE(tensors.size() == 3);
  CHECK(tensors[1].shape() == Shape{5});
  CHECK(Scope(random::prng_key(2)).count() == 0);  // a new root, a new list
}

TEST_CASE("A parameter given its value draws no key, so it sits beside a drawn one", "[layers][scope]") {
  const Scope ln = Scope(random::prng_key(0)).child("ln");
  Array ones = zeros_array({4});
  ones.fill(1.0f);
  const Tensor weight = ln.param("weight", ones);
  ln.param("bias", zeros_array({4}));
  ln.param("extra", initializers::normal(1.0f), {4});
  CHECK(weight.name() == "ln.weight");
  CHECK(weight.value()(0) == 1.0f);
  CHECK(ln.count() == 3);
}

TEST_CASE("A second random draw from one key is refused, through any scope of that path", "[layers][scope]") {
  const Scope root(random::prng_key(3));
  root.child("fc").param("kernel", initializers::normal(1.0f), {2, 2});
  CHECK_THROWS_WITH(root.child("fc").param("bias", initializers::normal(1.0f), {2}),
                    Contains("\"fc\"") && Contains("fc.bias"));
  CHECK_THROWS_AS(root.child("fc").param("bias", initializers::zeros(), {2}), std::logic_error);
  CHECK(root.count() == 1);
  // A child has its own key: the usual home of a second random parameter.
  root.child("fc").child("bias").param("", initializers::normal(1.0f), {2});
  CHECK(root.names() == std::vector<std::string>{"fc.kernel", "fc.bias"});
}

TEST_CASE("A duplicate parameter name is refused before anything is drawn", "[layers][scope]") {
  const Scope root(random::prng_key(4));
  root.child("ln").param("weight", zeros_array({2}));
  Key seen{1, 1};
  CHECK_THROWS_WITH(root.child("ln").param("weight", key_recorder(seen), {2}),
                    Contains("duplicate parameter name ln.weight"));
  CHECK(seen == Key{1, 1});
  CHECK_THROWS_AS(root.child("ln").param("weight", zeros_array({2})), std::invalid_argument);
  CHECK(root.count() == 1);
}

TEST_CASE("An empty parameter name registers under the scope's own path", "[layers][scope]") {
  const Scope root(random::prng_key(6));
  CHECK(root.child("wte").param("", initializers::normal(1.0f), {3, 2}).name() == "wte");
  CHECK_THROWS_AS(root.param("", zeros_array({1})), std::invalid_argument);
}

TEST_CASE("A child name that is empty or dotted is refused", "[layers][scope]") {
  const Scope root(random::prng_key(0));
  CHECK_THROWS_AS(root.child(""), std::invalid_argument);
  CHECK_THROWS_WITH(root.child("a.b"), Contains("\"a.b\""));
}

TEST_CASE("An initializer returning the wrong shape is refused and registers nothing", "[layers][scope]") {
  const Scope root(random::prng_key(0));
  const Initializer wrong = [](const Key&, const Shape&) { return zeros_array({2}); };
  CHECK_THROWS_AS(root.child("w").param("kernel", wrong, {3}), ShapeError);
  CHECK(root.count() == 0);
}
