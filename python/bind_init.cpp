// xgrad.random (JAX's threefry PRNG, also re-exported at the top level) and
// xgrad.initializers (jax.nn.initializers), bit-exact with JAX on an FMA CPU.
#include <pybind11/operators.h>
#include <pybind11/stl.h>

#include <cstring>

#include "python/convert.hpp"

using namespace pybind11::literals;

namespace xgrad::python {
namespace {

py::object wrap_initializer(Initializer init) {
  return py::cpp_function(
      [init](const Key& key, const Shape& shape) { return to_numpy(init(key, shape)); }, "key"_a,
      "shape"_a, "An initializer: (key, shape) -> float32 array.");
}

using MaybeName = std::optional<std::string>;

void bind_random(py::module_& m) {
  py::module_ r = m.def_submodule(
      "random",
      "JAX's counter-based PRNG (threefry2x32), bit-exact with jax.random on CPU. layout is\n"
      "'partitionable' (JAX >= 0.5's default) or 'legacy'; None means the default layout.");
  py::class_<Key>(r, "Key", "A JAX PRNG key: the two uint32 words jax.random.key_data(key) returns.")
      .def(py::init([](std::uint32_t hi, std::uint32_t lo) { return Key{hi, lo}; }), "hi"_a, "lo"_a)
      .def_readonly("hi", &Key::hi)
      .def_readonly("lo", &Key::lo)
      .def("key_data",
           [](const Key& k) {
             py::array_t<std::uint32_t> out(2);
             out.mutable_at(0) = k.hi;
             out.mutable_at(1) = k.lo;
             return out;
           },
           "[hi, lo] as a uint32 array, as jax.random.key_data(key).")
      .def(py::self == py::self)
      .def(py::self != py::self)
      .def("__hash__", [](const Key& k) { return py::hash(py::make_tuple(k.hi, k.lo)); })
      .def("__repr__", [](const Key& k) {
        return "Key(hi=" + std::to_string(k.hi) + ", lo=" + std::to_string(k.lo) + ")";
      });

  r.def("prng_key", &random::prng_key, "seed"_a, "jax.random.PRNGKey(seed) with x64 off: [0, seed mod 2^32].");
  r.def("prng_key_x64", &random::prng_key_x64, "seed"_a,
        "PRNGKey(seed) with jax_enable_x64: [high 32 bits, low 32 bits] of the seed.");
  r.def("fold_in", &random::fold_in, "key"_a, "data"_a, "jax.random.fold_in(key, data); the same in both layouts.");
  r.def(
      "split",
      [](const Key& key, std::size_t n, const MaybeName& layout) { return random::split(key, n, layout_from(layout)); },
      "key"_a, "num"_a = 2, "layout"_a = py::none(), "jax.random.split(key, num): a list of keys.");
  r.def(
      "random_bits",
      [](const Key& key, const Shape& shape, const MaybeName& layout) {
        const std::vector<std::uint32_t> bits = random::random_bits(key, shape, layout_from(layout));
        py::array_t<std::uint32_t> out(shape);
        if (!bits.empty()) std::memcpy(out.mutable_data(), bits.data(), bits.size() * sizeof(std::uint32_t));
        return out;
      },
      "key"_a, "shape"_a, "layout"_a = py::none(), "jax.random.bits(key, shape, uint32).");
  r.def(
      "uniform",
      [](const Key& key, const Shape& shape, float minval, float maxval, const MaybeName& layout) {
        return to_numpy(random::uniform(key, shape, minval, maxval, layout_from(layout)));
      },
      "key"_a, "shape"_a, "minval"_a = 0.0f, "maxval"_a = 1.0f, "layout"_a = py::none(),
      "jax.random.uniform(key, shape, float32, minval, maxval).");
  r.def(
      "normal",
      [](const Key& key, const Shape& shape, const MaybeName& layout) {
        return to_numpy(random::normal(key, shape, layout_from(layout)));
      },
      "key"_a, "shape"_a, "layout"_a = py::none(),
      "jax.random.normal(key, shape, float32) as XLA:CPU computes it on an FMA host.");
  r.def(
      "truncated_normal",
      [](const Key& key, float lower, float upper, const Shape& shape, const MaybeName& layout) {
        return to_numpy(random::truncated_normal(key, lower, upper, shape, layout_from(layout)));
      },
      "key"_a, "lower"_a, "upper"_a, "shape"_a, "layout"_a = py::none(),
      "jax.random.truncated_normal(key, lower, upper, shape, float32): values in (lower, upper).");

  // The names the issue lists, at the top level as in jax.random.
  for (const char* name : {"Key", "prng_key", "split", "fold_in", "normal", "uniform"}) {
    m.attr(name) = r.attr(name);
  }
}

initializers::FanMode fan_mode_from(const std::string& name) {
  if (name == "fan_in") return initializers::FanMode::fan_in;
  if (name == "fan_out") return initializers::FanMode::fan_out;
  if (name == "fan_avg") return initializers::FanMode::fan_avg;
  throw py::value_error("mode must be 'fan_in', 'fan_out' or 'fan_avg', got '" + name + "'");
}

initializers::Distribution distribution_from(const std::string& name) {
  if (name == "normal") return initializers::Distribution::normal;
  if (name == "truncated_normal") return initializers::Distribution::truncated_normal;
  if (name == "uniform") return initializers::Distribution::uniform;
  throw py::value_error("distribution must be 'normal', 'truncated_normal' or 'uniform', got '" + name + "'");
}

void bind_initializers(py::module_& m) {
  py::module_ i = m.def_submodule(
      "initializers",
      "Parameter initializers as jax.nn.initializers defines them: each returns a callable\n"
      "(key, shape) -> float32 array, bit-exact with JAX. layout=None reads the default\n"
      "layout each time the initializer runs.");
  i.def("zeros", [] { return wrap_initializer(initializers::zeros()); });
  i.def("ones", [] { return wrap_initializer(initializers::ones()); });
  i.def("normal", [](float stddev, const MaybeName& layout) {
    return wrap_initializer(initializers::normal(stddev, maybe_layout_from(layout)));
  }, "stddev"_a = 1e-2f, "layout"_a = py::none(), "N(0, stddev^2): random.normal(key, shape) * stddev.");
  i.def("uniform", [](float scale, const MaybeName& layout) {
    return wrap_initializer(initializers::uniform(scale, maybe_layout_from(layout)));
  }, "scale"_a = 1e-2f, "layout"_a = py::none(), "U[0, scale): random.uniform(key, shape) * scale.");
  i.def("truncated_normal", [](float stddev, float lower, float upper, const MaybeName& layout) {
    return wrap_initializer(initializers::truncated_normal(stddev, lower, upper, maybe_layout_from(layout)));
  }, "stddev"_a = 1e-2f, "lower"_a = -2.0f, "upper"_a = 2.0f, "layout"_a = py::none(),
     "random.truncated_normal(key, lower, upper, shape) * stddev (no variance correction).");
  i.def("variance_scaling",
        [](float scale, const std::string& mode, const std::string& distribution, int in_axis, int out_axis,
           const MaybeName& layout) {
          return wrap_initializer(initializers::variance_scaling(
              scale, fan_mode_from(mode), distribution_from(distribution), in_axis, out_axis,
              maybe_layout_from(layout)));
        },
        "scale"_a, "mode"_a, "distribution"_a, "in_axis"_a = -2, "out_axis"_a = -1, "layout"_a = py::none(),
        "jax.nn.initializers.variance_scaling(scale, mode, distribution, in_axis, out_axis).\n"
        "mode: 'fan_in', 'fan_out', 'fan_avg'; distribution: 'normal', 'truncated_normal',\n"
        "'uniform'. The initializer raises ValueError (ShapeError) for a shape of rank < 2,\n"
        "a zero extent, or an axis out of range.");
  using Factory = Initializer (*)(initializers::MaybeLayout);
  const std::pair<const char*, Factory> named[] = {
      {"lecun_normal", &initializers::lecun_normal},   {"lecun_uniform", &initializers::lecun_uniform},
      {"xavier_uniform", &initializers::xavier_uniform}, {"xavier_normal", &initializers::xavier_normal},
      {"he_normal", &initializers::he_normal},         {"he_uniform", &initializers::he_uniform},
      {"flax_embed_default", &initializers::flax_embed_default},
  };
  for (const auto& [name, factory] : named) {
    i.def(name, [factory](const MaybeName& layout) { return wrap_initializer(factory(maybe_layout_from(layout))); },
          "layout"_a = py::none(),
          "As jax.nn.initializers of the same name (flax_embed_default: Flax nn.Embed's\n"
          "N(0, 1/D), variance_scaling(1, 'fan_in', 'normal', out_axis=0)).");
  }
}

}  // namespace

void bind_init(py::module_& m) {
  bind_random(m);
  bind_initializers(m);
}

}  // namespace xgrad::python
