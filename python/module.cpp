// The extension `xgrad._xgrad` (python/xgrad/__init__.py re-exports it): the Flax page's function, the engine, the PRNG and
// initializers, and .npy files. Exceptions keep the library's messages: ShapeError and
// InvalidTokenId are ValueErrors, TokenIdOutOfRange an IndexError, NpyError an OSError.
#include <pybind11/stl.h>

#include "core/io/npy.hpp"
#include "python/convert.hpp"

namespace xgrad::python {
void bind_engine(py::module_& m);
void bind_init(py::module_& m);
void bind_optim_submodule(py::module_& m);  // after bind_engine: it extends SGD
void bind_nn(py::module_& m);               // after bind_engine: it extends Embed and Linear
}  // namespace xgrad::python

using namespace xgrad;
using namespace xgrad::python;
using namespace pybind11::literals;

namespace {

void bind_flax(py::module_& m) {
  m.def(
      "token_embed_forward",
      [](const py::object& seed, const py::object& token_ids, const py::object& vocab_size,
         const py::object& d_model, const std::string& ids_policy, const std::string& prng) {
        const std::int64_t s = int64_from(seed, "seed");
        const std::vector<double> ids = ids_as_doubles(token_ids);
        const std::size_t vocab = size_from(vocab_size, "vocab_size");
        const std::size_t dim = size_from(d_model, "d_model");
        const flax::IdsPolicy policy = ids_policy_from(ids_policy);
        const random::Layout layout = layout_from(prng);
        std::vector<float> out;
        {
          py::gil_scoped_release release;
          out = flax::token_embed_forward(s, ids, vocab, dim, policy, layout);
        }
        return to_numpy(std::move(out));
      },
      "seed"_a, "token_ids"_a, "vocab_size"_a, "d_model"_a, py::kw_only(),
      "ids_policy"_a = "strict", "prng"_a = "partitionable",
      R"(token_embed_forward(seed, token_ids, vocab_size, d_model, *, ids_policy="strict", prng="partitionable")

The flattened (T * D,) float32 output of
    ids = jnp.asarray(token_ids).astype(jnp.int32)
    embed = flax.linen.Embed(num_embeddings=vocab_size, features=d_model)
    embed.apply(embed.init(jax.random.PRNGKey(seed), ids), ids).reshape(-1)
bit for bit. seed, vocab_size and d_model are cast with int(); token_ids is any numeric
array, list or object with __array__, passed on as floats. Only the table rows the ids
read are drawn, so a call costs O(T * D) whatever vocab_size is.

ids_policy "strict" refuses bad ids, naming the position, the value and V: IndexError
(xgrad.TokenIdOutOfRange) for an id outside [0, V), ValueError (xgrad.InvalidTokenId)
for 2.5, NaN, inf. "flax" computes what Flax does: negative ids wrap once, rows still
outside [0, V) are NaN. prng "partitionable" is JAX >= 0.5's layout, "legacy" the older
one. ValueError (xgrad.ShapeError) when vocab_size or d_model is 0.)");

  py::module_ f = m.def_submodule("flax", "Flax's parameter keys and nn.Embed's initial table.");
  f.def(
      "embed_table",
      [](const py::object& seed, const py::object& vocab_size, const py::object& d_model,
         const std::string& prng) {
        return to_numpy(flax::embed_table(int64_from(seed, "seed"), size_from(vocab_size, "vocab_size"),
                                          size_from(d_model, "d_model"), layout_from(prng)));
      },
      "seed"_a, "vocab_size"_a, "d_model"_a, py::kw_only(), "prng"_a = "partitionable",
      "The whole (V, D) table Embed(num_embeddings=V, features=D).init(PRNGKey(seed), ids)\n"
      "stores. ValueError when V or D is 0.");
  py::enum_<flax::RngSeparator>(f, "RngSeparator", "flax_fix_rng_separator: each path item preceded by 0x00.")
      .value("none", flax::RngSeparator::none)
      .value("zero_byte", flax::RngSeparator::zero_byte);
  f.def("param_key", &flax::param_key, "root"_a, "module_path"_a = std::vector<std::string>{},
        "rng_call"_a = 1, "separator"_a = flax::RngSeparator::none,
        "The key Scope.make_rng('params') returns during Module.init(root, ...): module_path\n"
        "names the scopes from the top-level module down ([] for the top-level module,\n"
        "['Embed_0'] for a child), rng_call counts that scope's make_rng('params') calls\n"
        "from 1. Top-level nn.Embed's table: param_key(root) == fold_in(root, 3213575472).");
}

void bind_npy(py::module_& m) {
  py::module_ n = m.def_submodule(
      "npy",
      ".npy files NumPy reads and writes, float32 in C order. save() is atomic (a temporary\n"
      "file renamed over the target); load() checks magic, header, dtype, shape and length.");
  py::register_exception<npy::NpyError>(n, "NpyError", PyExc_OSError);
  const auto fspath = [](const py::object& path) { return path_from(path, "path"); };
  n.def(
      "save", [fspath](const py::object& path, const py::object& array) { npy::save(fspath(path), array_from(array, "array")); },
      "path"_a, "array"_a,
      "Writes array (cast to float32) as a .npy file, atomically; the directory must exist.\n"
      "Raises xgrad.npy.NpyError (an OSError) when the file cannot be written.");
  n.def(
      "load",
      [fspath](const py::object& path, const std::optional<Shape>& shape) {
        return to_numpy(shape ? npy::load(fspath(path), *shape) : npy::load(fspath(path)));
      },
      "path"_a, "shape"_a = py::none(),
      "Reads a float32 C-order .npy file; with shape, also requires that shape. Raises\n"
      "xgrad.npy.NpyError (an OSError) for a missing, malformed or mismatched file.");
}

}  // namespace

PYBIND11_MODULE(_xgrad, m) {
  m.doc() =
      "xgrad: a small reverse-mode autodiff library whose token embedding has row-sparse\n"
      "gradients, and Flax's token_embed_forward bit for bit. Values are float32, ids int32.";
  // The texts of core/errors.hpp.
  py::register_exception<ShapeError>(m, "ShapeError", PyExc_ValueError).attr("__doc__") =
      "Shapes that do not fit an op (inner dimensions of a matmul, a gradient whose shape differs\n"
      "from its value, a reshape that changes the element count, ...). A ValueError.";
  py::register_exception<InvalidTokenId>(m, "InvalidTokenId", PyExc_ValueError).attr("__doc__") =
      "A token id that is not a finite integer (2.5, NaN, inf), or an empty id list. A ValueError.";
  py::register_exception<TokenIdOutOfRange>(m, "TokenIdOutOfRange", PyExc_IndexError).attr("__doc__") =
      "A token id outside [0, V). An IndexError.";

  bind_init(m);
  bind_flax(m);
  bind_engine(m);
  bind_optim_submodule(m);
  bind_nn(m);
  bind_npy(m);

  m.def("set_num_threads", &set_num_threads, "threads"_a,
        "Threads for xgrad's own loops (default 1; 0 means 1). Results are bit-identical\n"
        "for any count; OpenBLAS is kept at one thread.");
  m.def("num_threads", &num_threads);
}
