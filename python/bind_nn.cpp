// xgrad.nn from Python: Scope and the layers of layers/*.hpp, each built from a scope as in
// C++ (`xgrad.nn.Linear(scope.child("head"), D, V)`), so names and keys come from the same
// code. Embed and Linear are the classes bind_engine.cpp defines (xgrad.Embed, xgrad.Linear):
// this file adds their scope constructors and their current-tape calls, so xgrad.nn.Linear
// is xgrad.Linear and one layer never has two Python types. The rest live in the extension's
// submodule `_nn`; python/xgrad/nn.py re-exports them and adds Dropout. GPT and GPTConfig
// are the library model of models/gpt.hpp, the one next_token trains.
//
// Every layer call has two forms, as the ops do: layer(x, ...) records on the innermost
// `with xgrad.Tape()` block's tape, layer(tape, x, ...) on the tape it is given.
#include <pybind11/operators.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <sstream>

#include "models/gpt.hpp"
#include "python/convert.hpp"

using namespace pybind11::literals;

namespace xgrad::python {
namespace {

using layers::CausalSelfAttention;
using layers::Embed;
using layers::LayerNorm;
using layers::Linear;
using layers::MLPBlock;
using layers::Scope;
using layers::TransformerBlock;

std::string repr_of(const py::handle& value) { return py::repr(value).cast<std::string>(); }

// A rate as the user wrote it: 0.1, not std::to_string's 0.100000.
std::string rate_string(float rate) {
  std::ostringstream out;
  out << rate;
  return out.str();
}

// "<Class> <path>" (or "<Class>" at an unnamed root), the prefix of every message.
std::string who(const char* cls, const std::string& path) { return path.empty() ? cls : std::string(cls) + " " + path; }

// A layer's extent (features, heads, layers, ...): a Python int or anything with __index__
// (NumPy integers), never a bool or a float, which int() would silently cut. Zero passes
// through, so the C++ constructor's own message reports it with its companions.
std::size_t extent_from(const py::handle& value, const std::string& owner, const char* what) {
  if (PyBool_Check(value.ptr()) || !PyIndex_Check(value.ptr())) {
    throw py::type_error(owner + ": " + what + " must be an int, got " + repr_of(value));
  }
  const std::int64_t v = int64_from(value, what);
  if (v < 0) throw py::value_error(owner + ": " + what + " must be positive, got " + std::to_string(v));
  return static_cast<std::size_t>(v);
}

// A rate or an epsilon: an int or a float (or anything with __float__ but a bool or a string);
// its range is the C++ constructor's to check.
float real_from(const py::handle& value, const std::string& owner, const char* what) {
  if (PyBool_Check(value.ptr()) || PyUnicode_Check(value.ptr()) || PyBytes_Check(value.ptr()) ||
      !PyNumber_Check(value.ptr())) {
    throw py::type_error(owner + ": " + what + " must be a number, got " + repr_of(value));
  }
  const double v = PyFloat_AsDouble(value.ptr());
  if (v == -1.0 && PyErr_Occurred()) throw py::error_already_set();
  return static_cast<float>(v);
}

bool bool_from(const py::handle& value, const std::string& owner, const char* what) {
  if (!PyBool_Check(value.ptr())) throw py::type_error(owner + ": " + what + " must be True or False, got " + repr_of(value));
  return value.ptr() == Py_True;
}

// A Python callable (key, shape) -> array as an Initializer (xgrad.initializers.* are such
// callables). Layers call it while constructing, with the GIL held.
Initializer initializer_from(const py::object& f, const std::string& owner, const char* what) {
  if (!PyCallable_Check(f.ptr())) {
    throw py::type_error(owner + ": " + what + " must be a callable (key, shape) -> array such as "
                         "xgrad.initializers.normal(0.02), got " + repr_of(f));
  }
  return [f](const Key& key, const Shape& shape) {
    py::tuple dims(shape.size());
    for (std::size_t i = 0; i < shape.size(); ++i) dims[i] = shape[i];
    return array_from(f(key, dims), "the initializer's result");
  };
}

// A root key: an xgrad.Key as given, or an int seed as jax.random.PRNGKey(seed).
Key key_from(const py::handle& value, const char* owner) {
  if (py::isinstance<Key>(value)) return value.cast<Key>();
  if (!PyBool_Check(value.ptr()) && PyIndex_Check(value.ptr())) return random::prng_key(int64_from(value, "seed"));
  throw py::type_error(std::string(owner) + ": key must be an xgrad.Key or an int seed, got " + repr_of(value));
}

std::string path_before(const Tensor& parameter, const std::string& suffix) {
  const std::string& name = parameter.name();
  if (name == suffix) return "";
  if (name.size() > suffix.size() + 1 && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return name.substr(0, name.size() - suffix.size() - 1);
  }
  return name;
}
std::string path_of(const Linear& l) { return path_before(l.kernel(), "kernel"); }

// The tape a call without one records on. Layers hold parameters, which need a gradient, so
// outside every block there is nothing sensible to do: say how to call it.
Tape& current_for(const std::string& owner) {
  if (Tape* t = current_tape()) return *t;
  throw std::runtime_error(owner + ": no tape is recording: call it inside `with xgrad.Tape():` (or "
                           "`with xgrad.Tape(inference=True):` to evaluate), or pass the tape first, layer(tape, x)");
}

// dropout_key may be None only when no dropout will be drawn.
Key dropout_key_for(const std::optional<Key>& key, const Tape& tape, bool training, float rate,
                    float attention_rate, const std::string& owner) {
  if (key) return *key;
  if (training && tape.mode() == Tape::Mode::training && (rate > 0.0f || attention_rate > 0.0f)) {
    throw py::value_error(owner + ": dropout_key is None, but dropout " + rate_string(rate) +
                          " (attention_dropout " + rate_string(attention_rate) +
                          ") is drawn when training on a training tape: pass an xgrad.Key, a new one each "
                          "step (xgrad.fold_in(key, step)), or training=False");
  }
  return Key{};
}

py::list tensors_list(std::initializer_list<std::vector<Tensor>> groups) {
  py::list out;
  for (const std::vector<Tensor>& group : groups) {
    for (const Tensor& t : group) out.append(leaf(t));
  }
  return out;
}

py::object optional_tensor(const Tensor& t, bool present) { return present ? py::cast(leaf(t)) : py::none(); }

// ---- Scope ----

void bind_scope(py::module_& nn) {
  py::class_<Scope>(nn, "Scope", R"(Where a layer's parameter names, PRNG keys and registration come from (layers/scope.hpp),
as Flax's self.param and candle's VarBuilder.pp. Not a module system: it builds nothing but
parameters, and a layer keeps its own tensors.

    root = xgrad.nn.Scope(0)                     # path "", key xgrad.prng_key(0)
    attn = root.child("h0").child("attn")        # path "h0.attn", key fold_in(fold_in(k, #"h0"), #"attn")
    qkv = xgrad.nn.Linear(attn.child("qkv"), C, 3 * C)   # "h0.attn.qkv.kernel", "h0.attn.qkv.bias"
    root.parameters()                            # [(name, Tensor), ...] in creation order

Scope(key, path=""): a root with a new, empty parameter list; key is an xgrad.Key (used as
given) or an int seed (xgrad.prng_key(seed)); path prefixes every name below it.
child(name) folds #name (the first 4 bytes, big-endian, of SHA-1 of the name: Flax's rule)
into the key, so a parameter's key depends only on the root key and its path, never on
creation order. A scope's key seeds at most one random parameter (a second one is a
RuntimeError, std::logic_error in C++); a duplicate name is a ValueError.)")
      .def(py::init([](const py::object& key, std::string path) { return Scope(key_from(key, "Scope"), std::move(path)); }),
           "key"_a, "path"_a = "")
      .def("child", &Scope::child, "name"_a,
           "The scope of a child: path '<path>.<name>' ('<name>' at an unnamed root), key\n"
           "fold_in(key, #name), the same parameter list. ValueError for an empty name or one with '.'.")
      .def(
          "param",
          [](const Scope& s, const std::string& name, const py::object& init, const py::object& shape) {
            if (shape.is_none()) return leaf(s.param(name, array_from(init, "Scope.param: value")));
            const Initializer f = initializer_from(init, "Scope.param", "init");
            Shape dims;
            try {
              dims = shape.cast<Shape>();
            } catch (const py::cast_error&) {
              throw py::type_error("Scope.param: shape must be a sequence of non-negative ints, got " + repr_of(shape));
            }
            return leaf(s.param(name, f, dims));
          },
          "name"_a, "init"_a, "shape"_a = py::none(),
          "param(name, value): a parameter '<path>.<name>' with this initial value (an array-like);\n"
          "draws no key. param(name, init, shape): init(key, shape) drawn from this scope's key,\n"
          "which may seed only one random parameter (RuntimeError for a second: draw it in a\n"
          "child). An empty name registers the parameter under the scope's path itself.\n"
          "ValueError for a duplicate name or a result of another shape.")
      .def_property_readonly("key", &Scope::key, "This scope's xgrad.Key.")
      .def_property_readonly("path", &Scope::path, "The dotted path, '' at an unnamed root.")
      .def(
          "parameters",
          [](const Scope& s) {
            py::list out;
            for (const layers::NamedParameter& p : s.parameters()) out.append(py::make_tuple(p.name, leaf(p.tensor)));
            return out;
          },
          "Every parameter of the root's list, in creation order, as (name, Tensor) pairs (the\n"
          "tensor's .name is the same dotted path). Shared by every scope of one root.")
      .def("names", &Scope::names, "The parameters' dotted names, in creation order.")
      .def("tensors", [](const Scope& s) { return leaves_of(s.tensors()); }, "The parameters' Tensors, in creation order.")
      .def_property_readonly("count", &Scope::count, "The number of parameters.")
      .def_property_readonly("size", &Scope::size, "The number of values over all parameters.")
      .def("__len__", &Scope::count)
      .def("__repr__", [](const Scope& s) {
        return "<xgrad.nn.Scope '" + s.path() + "', " + std::to_string(s.count()) + " parameters>";
      });
}

// ---- Embed and Linear: the scope constructors and current-tape calls of xgrad's classes ----

void extend_embed(py::class_<Embed>& embed) {
  embed
      .def(py::init([](const Scope& scope, const py::object& num_embeddings, const py::object& features,
                       const py::object& init, const std::optional<std::int32_t>& padding_idx,
                       std::string table_name) {
             const std::string owner = who("Embed", scope.path());
             layers::EmbedOptions options;
             const std::size_t v = extent_from(num_embeddings, owner, "num_embeddings");
             const std::size_t d = extent_from(features, owner, "features");
             if (!init.is_none()) options.init = initializer_from(init, owner, "init");
             options.padding_idx = padding_idx;
             options.table_name = std::move(table_name);
             return Embed(scope, v, d, std::move(options));
           }),
           "scope"_a, "num_embeddings"_a, "features"_a, py::kw_only(), "init"_a = py::none(),
           "padding_idx"_a = py::none(), "table_name"_a = "embedding",
           "Embed(scope, num_embeddings, features, *, init=None, padding_idx=None, table_name='embedding'):\n"
           "the table '<path>.<table_name>' drawn from the scope's key (table_name '' names it by\n"
           "the path itself, GPT-2's 'wte').")
      .def(
          "__call__",
          [](const Embed& e, const py::object& ids) {
            Tape& tape = current_for(who("Embed", path_before(e.embedding(), "embedding")));
            return op_result(e(tape, token_ids_from(ids)), tape);
          },
          "ids"_a, "The same on the current `with` block's tape.")
      .def(
          "attend",
          [](const Embed& e, const PyTensor& query) {
            Tape& tape = current_for(who("Embed", path_before(e.embedding(), "embedding")));
            return op_result(e.attend(tape, query.tensor), tape);
          },
          "query"_a, "The same on the current `with` block's tape.");
}

void extend_linear(py::class_<Linear>& linear) {
  linear
      .def(py::init([](const Scope& scope, const py::object& in_features, const py::object& out_features,
                       const py::object& use_bias, const py::object& kernel_init, const py::object& bias_init,
                       const std::optional<Key>& bias_key) {
             const std::string owner = who("Linear", scope.path());
             layers::LinearOptions options;
             const std::size_t in = extent_from(in_features, owner, "in_features");
             const std::size_t out = extent_from(out_features, owner, "out_features");
             options.use_bias = bool_from(use_bias, owner, "use_bias");
             if (!kernel_init.is_none()) options.kernel_init = initializer_from(kernel_init, owner, "kernel_init");
             if (!bias_init.is_none()) options.bias_init = initializer_from(bias_init, owner, "bias_init");
             if (bias_key) options.bias_key = *bias_key;
             return Linear(scope, in, out, std::move(options));
           }),
           "scope"_a, "in_features"_a, "out_features"_a, py::kw_only(), "use_bias"_a = true,
           "kernel_init"_a = py::none(), "bias_init"_a = py::none(), "bias_key"_a = py::none(),
           "Linear(scope, in_features, out_features, *, use_bias=True, kernel_init=None, bias_init=None,\n"
           "bias_key=None): '<path>.kernel' drawn from the scope's key (lecun_normal unless given),\n"
           "'<path>.bias' (zeros unless given; none when use_bias is False).")
      .def(
          "__call__",
          [](const Linear& l, const PyTensor& x) {
            Tape& tape = current_for(who("Linear", path_of(l)));
            return op_result(l(tape, x.tensor), tape);
          },
          "x"_a, "The same on the current `with` block's tape.");
}

// ---- LayerNorm ----

void bind_layer_norm(py::module_& nn) {
  py::class_<LayerNorm>(nn, "LayerNorm", R"(Normalisation over the last axis with a trainable scale and shift, as torch.nn.LayerNorm(C)
lays it out (layers/layer_norm.hpp): y = (x - mean) / sqrt(var + eps) * weight + bias.

LayerNorm(scope, features, *, eps=1e-5, use_bias=True): '<path>.weight' (ones) and
'<path>.bias' (zeros; none when use_bias is False, nanoGPT's bias=False). No key is drawn.
Call: norm(x) on the current `with` block's tape, or norm(tape, x); x (..., C) -> (..., C).)")
      .def(py::init([](const Scope& scope, const py::object& features, const py::object& eps, const py::object& use_bias) {
             const std::string owner = who("LayerNorm", scope.path());
             layers::LayerNormOptions options;
             const std::size_t c = extent_from(features, owner, "features");
             options.eps = real_from(eps, owner, "eps");
             options.use_bias = bool_from(use_bias, owner, "use_bias");
             return LayerNorm(scope, c, options);
           }),
           "scope"_a, "features"_a, py::kw_only(), "eps"_a = 1e-5, "use_bias"_a = true)
      .def(
          "__call__", [](const LayerNorm& n, Tape& tape, const PyTensor& x) { return op_result(n(tape, x.tensor), tape); },
          "tape"_a, "x"_a, "x (..., C) -> (..., C), recorded on tape.")
      .def(
          "__call__",
          [](const LayerNorm& n, const PyTensor& x) {
            Tape& tape = current_for(who("LayerNorm", path_before(n.weight(), "weight")));
            return op_result(n(tape, x.tensor), tape);
          },
          "x"_a, "The same on the current `with` block's tape.")
      .def_property_readonly("weight", [](const LayerNorm& n) { return leaf(n.weight()); }, "The scale (C,), '<path>.weight'.")
      .def_property_readonly("bias", [](const LayerNorm& n) { return optional_tensor(n.bias(), n.has_bias()); },
                             "None when use_bias is False.")
      .def_property_readonly("eps", &LayerNorm::eps, "Added to the variance before the square root.")
      .def_property_readonly("features", &LayerNorm::features, "C, the normalised axis' length.")
      .def("parameters", [](const LayerNorm& n) { return leaves_of(n.parameters()); }, "weight, and bias when it has one.");
}

// ---- The transformer sublayers: the same call shape, (x, dropout_key=None, training=True) ----

// Defines layer(tape, x, dropout_key=None, training=True) and layer(x, ...) for a layer
// whose C++ call is layer(tape, x, key, training), `rates` giving its (dropout,
// attention_dropout) and `path` its scope's path for messages.
template <class Layer, class Rates, class Path>
void def_calls(py::class_<Layer>& cls, const char* name, Rates rates, Path path) {
  const auto run = [name, rates, path](const Layer& layer, Tape& tape, const PyTensor& x,
                                       const std::optional<Key>& dropout_key, bool training) {
    const auto [rate, attention_rate] = rates(layer);
    const Key key = dropout_key_for(dropout_key, tape, training, rate, attention_rate, who(name, path(layer)));
    return op_result(layer(tape, x.tensor, key, training), tape);
  };
  cls.def(
         "__call__",
         [run](const Layer& layer, Tape& tape, const PyTensor& x, const std::optional<Key>& key, bool training) {
           return run(layer, tape, x, key, training);
         },
         "tape"_a, "x"_a, "dropout_key"_a = py::none(), "training"_a = true,
         "x (B, T, C) -> (B, T, C), recorded on tape. Dropout applies only when training is True and\n"
         "the tape is a training tape; its masks are drawn from dropout_key, which may be None\n"
         "only when no dropout is drawn (ValueError otherwise).")
      .def(
          "__call__",
          [run, name, path](const Layer& layer, const PyTensor& x, const std::optional<Key>& key, bool training) {
            return run(layer, current_for(who(name, path(layer))), x, key, training);
          },
          "x"_a, "dropout_key"_a = py::none(), "training"_a = true, "The same on the current `with` block's tape.");
}

void bind_attention(py::module_& nn) {
  py::class_<CausalSelfAttention> cls(nn, "CausalSelfAttention", R"(GPT-2's attention sublayer (layers/causal_self_attention.hpp): x (B, T, C) -> Linear 'qkv'
(C, 3C) -> causal softmax attention over `heads` heads -> Linear 'proj' (C, C) -> dropout.

CausalSelfAttention(scope, embed_dim, heads, *, qkv_init=None, proj_init=None, use_bias=True,
dropout=0.0, attention_dropout=0.0): the projections are scope.child('qkv') and
scope.child('proj'), kernels normal(0.02) unless given, zeros biases (none when use_bias is
False). dropout acts on the output, attention_dropout on the attention weights (its mask from
fold_in(dropout_key, 1)), both only when training. ValueError for heads not dividing
embed_dim or a rate outside [0, 1).
Call: attn(x, dropout_key=None, training=True), or attn(tape, x, ...).)");
  cls.def(py::init([](const Scope& scope, const py::object& embed_dim, const py::object& heads,
                      const py::object& qkv_init, const py::object& proj_init, const py::object& use_bias,
                      const py::object& dropout, const py::object& attention_dropout) {
            const std::string owner = who("CausalSelfAttention", scope.path());
            layers::CausalSelfAttentionOptions options;
            const std::size_t c = extent_from(embed_dim, owner, "embed_dim");
            const std::size_t h = extent_from(heads, owner, "heads");
            if (!qkv_init.is_none()) options.qkv_init = initializer_from(qkv_init, owner, "qkv_init");
            if (!proj_init.is_none()) options.proj_init = initializer_from(proj_init, owner, "proj_init");
            options.use_bias = bool_from(use_bias, owner, "use_bias");
            options.dropout = real_from(dropout, owner, "dropout");
            options.attention_dropout = real_from(attention_dropout, owner, "attention_dropout");
            return CausalSelfAttention(scope, c, h, std::move(options));
          }),
          "scope"_a, "embed_dim"_a, "heads"_a, py::kw_only(), "qkv_init"_a = py::none(), "proj_init"_a = py::none(),
          "use_bias"_a = true, "dropout"_a = 0.0, "attention_dropout"_a = 0.0);
  def_calls(
      cls, "CausalSelfAttention",
      [](const CausalSelfAttention& a) { return std::pair<float, float>(a.dropout_rate(), a.attention_dropout_rate()); },
      [](const CausalSelfAttention& a) { return path_before(a.qkv().kernel(), "qkv.kernel"); });
  cls.def_property_readonly("qkv", &CausalSelfAttention::qkv, py::return_value_policy::reference_internal,
                            "The Linear (C, 3C) giving queries, keys and values, '<path>.qkv'.")
      .def_property_readonly("proj", &CausalSelfAttention::proj, py::return_value_policy::reference_internal,
                             "The output Linear (C, C), '<path>.proj'.")
      .def_property_readonly("heads", &CausalSelfAttention::heads, "H, the number of heads.")
      .def_property_readonly("dropout", &CausalSelfAttention::dropout_rate, "The output's dropout rate.")
      .def_property_readonly("attention_dropout", &CausalSelfAttention::attention_dropout_rate,
                             "The attention weights' dropout rate.")
      .def(
          "parameters", [](const CausalSelfAttention& a) { return tensors_list({a.qkv().parameters(), a.proj().parameters()}); },
          "qkv's, then proj's (kernel, bias).");
}

void bind_mlp(py::module_& nn) {
  py::class_<MLPBlock> cls(nn, "MLPBlock", R"(GPT-2's feed-forward sublayer (layers/mlp_block.hpp): x (..., C) -> Linear 'fc' (C, 4C) ->
gelu (tanh approximation) -> Linear 'proj' (4C, C) -> dropout.

MLPBlock(scope, embed_dim, *, fc_init=None, proj_init=None, use_bias=True, dropout=0.0):
kernels normal(0.02) unless given, zeros biases (none when use_bias is False); dropout on the
output, only when training.
Call: mlp(x, dropout_key=None, training=True), or mlp(tape, x, ...).)");
  cls.def(py::init([](const Scope& scope, const py::object& embed_dim, const py::object& fc_init,
                      const py::object& proj_init, const py::object& use_bias, const py::object& dropout) {
            const std::string owner = who("MLPBlock", scope.path());
            layers::MLPBlockOptions options;
            const std::size_t c = extent_from(embed_dim, owner, "embed_dim");
            if (!fc_init.is_none()) options.fc_init = initializer_from(fc_init, owner, "fc_init");
            if (!proj_init.is_none()) options.proj_init = initializer_from(proj_init, owner, "proj_init");
            options.use_bias = bool_from(use_bias, owner, "use_bias");
            options.dropout = real_from(dropout, owner, "dropout");
            return MLPBlock(scope, c, std::move(options));
          }),
          "scope"_a, "embed_dim"_a, py::kw_only(), "fc_init"_a = py::none(), "proj_init"_a = py::none(),
          "use_bias"_a = true, "dropout"_a = 0.0);
  def_calls(
      cls, "MLPBlock", [](const MLPBlock& m) { return std::pair<float, float>(m.dropout_rate(), 0.0f); },
      [](const MLPBlock& m) { return path_before(m.fc().kernel(), "fc.kernel"); });
  cls.def_property_readonly("fc", &MLPBlock::fc, py::return_value_policy::reference_internal, "The Linear (C, 4C), '<path>.fc'.")
      .def_property_readonly("proj", &MLPBlock::proj, py::return_value_policy::reference_internal,
                             "The Linear (4C, C), '<path>.proj'.")
      .def_property_readonly("dropout", &MLPBlock::dropout_rate, "The output's dropout rate.")
      .def(
          "parameters", [](const MLPBlock& m) { return tensors_list({m.fc().parameters(), m.proj().parameters()}); },
          "fc's, then proj's (kernel, bias).");
}

void bind_transformer_block(py::module_& nn) {
  py::class_<TransformerBlock> cls(nn, "TransformerBlock", R"(GPT-2's pre-norm block (layers/transformer_block.hpp): h = x + attn(ln1(x)), then
h + mlp(ln2(h)), with GPT-2's initialisation: kernels normal(init_stddev), the two projections
into the residual stream (attn.proj, mlp.proj) normal(init_stddev / sqrt(2 layers)), biases
zeros, LayerNorm weights ones. Its sublayers are the scope's children 'ln1', 'attn', 'ln2',
'mlp', so every name and key follows its path ('h0.attn.qkv.kernel').

TransformerBlock(scope, embed_dim, heads, *, layers=1, init_stddev=0.02, use_bias=True,
dropout=0.0, attention_dropout=0.0): layers is L, the model's number of blocks. The two
sublayers' dropouts draw from fold_in(dropout_key, 0) (attention) and fold_in(dropout_key, 1)
(MLP). ValueError for heads not dividing embed_dim, layers 0, a stddev that is not positive
and finite, or a rate outside [0, 1), before anything is drawn.
Call: block(x, dropout_key=None, training=True), or block(tape, x, ...).)");
  cls.def(py::init([](const Scope& scope, const py::object& embed_dim, const py::object& heads,
                      const py::object& layers, const py::object& init_stddev, const py::object& use_bias,
                      const py::object& dropout, const py::object& attention_dropout) {
            const std::string owner = who("TransformerBlock", scope.path());
            layers::TransformerBlockOptions options;
            const std::size_t c = extent_from(embed_dim, owner, "embed_dim");
            const std::size_t h = extent_from(heads, owner, "heads");
            options.layers = extent_from(layers, owner, "layers");
            options.init_stddev = real_from(init_stddev, owner, "init_stddev");
            options.use_bias = bool_from(use_bias, owner, "use_bias");
            options.dropout = real_from(dropout, owner, "dropout");
            options.attention_dropout = real_from(attention_dropout, owner, "attention_dropout");
            return TransformerBlock(scope, c, h, options);
          }),
          "scope"_a, "embed_dim"_a, "heads"_a, py::kw_only(), "layers"_a = 1, "init_stddev"_a = 0.02,
          "use_bias"_a = true, "dropout"_a = 0.0, "attention_dropout"_a = 0.0);
  def_calls(
      cls, "TransformerBlock",
      [](const TransformerBlock& b) {
        return std::pair<float, float>(std::max(b.attn().dropout_rate(), b.mlp().dropout_rate()),
                                       b.attn().attention_dropout_rate());
      },
      [](const TransformerBlock& b) { return path_before(b.ln1().weight(), "ln1.weight"); });
  cls.def_property_readonly("ln1", &TransformerBlock::ln1, py::return_value_policy::reference_internal, "The LayerNorm before attn.")
      .def_property_readonly("attn", &TransformerBlock::attn, py::return_value_policy::reference_internal,
                             "The CausalSelfAttention sublayer.")
      .def_property_readonly("ln2", &TransformerBlock::ln2, py::return_value_policy::reference_internal, "The LayerNorm before mlp.")
      .def_property_readonly("mlp", &TransformerBlock::mlp, py::return_value_policy::reference_internal, "The MLPBlock sublayer.")
      .def(
          "parameters",
          [](const TransformerBlock& b) {
            return tensors_list({b.ln1().parameters(), b.attn().qkv().parameters(), b.attn().proj().parameters(),
                                 b.ln2().parameters(), b.mlp().fc().parameters(), b.mlp().proj().parameters()});
          },
          "In the order of the scope's list: ln1, attn (qkv, proj), ln2, mlp (fc, proj).");
}


// ---- GPT: the library model (models/gpt.hpp) ----

using models::GPT;
using models::GPTConfig;

// A generate() prompt: a 1-D sequence of ids (a list, a NumPy array).
std::vector<std::int64_t> prompt_from(const py::handle& prompt) {
  const TokenIds ids = token_ids_from(prompt);
  if (ids.shape().size() != 1) {
    throw py::value_error("GPT.generate: prompt must be a 1-D sequence of ids, got shape " + shape_string(ids.shape()));
  }
  return std::vector<std::int64_t>(ids.values().begin(), ids.values().end());
}

void bind_gpt(py::module_& nn) {
  py::class_<GPTConfig>(nn, "GPTConfig", R"(The sizes and options of xgrad.nn.GPT (models/gpt.hpp's GPTConfig), nanoGPT's GPTConfig:

    GPTConfig(*, vocab=256, context=64, layers=2, heads=4, embed_dim=128, dropout=0.0,
              attention_dropout=0.0, bias=True, tie=False)

vocab V, context T (the most positions a sequence may have), layers L, heads H (dividing C),
embed_dim C; dropout on each sublayer's output and attention_dropout on the attention
weights, both in [0, 1); bias False drops every Linear's and LayerNorm's bias; tie makes the
head the token table (logits = h @ wte^T). Checked here, before any model is built: an
extent that is not an int, a rate that is not a number or a flag that is not a bool is a
TypeError, a zero extent, H not dividing C or a rate outside [0, 1) a ValueError, each naming
the argument and the value. Read-only once built.)")
      .def(py::init([](const py::object& vocab, const py::object& context, const py::object& layers,
                       const py::object& heads, const py::object& embed_dim, const py::object& dropout,
                       const py::object& attention_dropout, const py::object& bias, const py::object& tie) {
             const std::string owner = "GPTConfig";
             GPTConfig c;
             const std::pair<const py::object*, std::size_t*> extents[] = {
                 {&vocab, &c.vocab}, {&context, &c.context}, {&layers, &c.layers}, {&heads, &c.heads}, {&embed_dim, &c.embed_dim}};
             const char* names[] = {"vocab", "context", "layers", "heads", "embed_dim"};
             for (std::size_t i = 0; i < 5; ++i) {
               *extents[i].second = extent_from(*extents[i].first, owner, names[i]);
               if (*extents[i].second == 0) throw py::value_error(owner + ": " + names[i] + " must be positive, got 0");
             }
             if (c.embed_dim % c.heads != 0) {
               throw py::value_error(owner + ": heads " + std::to_string(c.heads) + " must divide embed_dim " +
                                     std::to_string(c.embed_dim));
             }
             c.dropout = real_from(dropout, owner, "dropout");
             c.attention_dropout = real_from(attention_dropout, owner, "attention_dropout");
             layers::check_dropout_rate(c.dropout, owner, "dropout");
             layers::check_dropout_rate(c.attention_dropout, owner, "attention_dropout");
             c.bias = bool_from(bias, owner, "bias");
             c.tie = bool_from(tie, owner, "tie");
             return c;
           }),
           py::kw_only(), "vocab"_a = 256, "context"_a = 64, "layers"_a = 2, "heads"_a = 4, "embed_dim"_a = 128,
           "dropout"_a = 0.0, "attention_dropout"_a = 0.0, "bias"_a = true, "tie"_a = false)
      .def_readonly("vocab", &GPTConfig::vocab, "V, the vocabulary size.")
      .def_readonly("context", &GPTConfig::context, "T, the most positions a sequence may have.")
      .def_readonly("layers", &GPTConfig::layers, "L, the number of transformer blocks.")
      .def_readonly("heads", &GPTConfig::heads, "H, attention heads per block.")
      .def_readonly("embed_dim", &GPTConfig::embed_dim, "C, the width of the residual stream.")
      .def_readonly("dropout", &GPTConfig::dropout, "Dropout on each sublayer's output.")
      .def_readonly("attention_dropout", &GPTConfig::attention_dropout, "Dropout on the attention weights.")
      .def_readonly("bias", &GPTConfig::bias, "False: no bias in any Linear or LayerNorm.")
      .def_readonly("tie", &GPTConfig::tie, "True: the head is the token table.")
      .def(py::self == py::self)
      .def("__repr__", [](const GPTConfig& c) {
        return "GPTConfig(vocab=" + std::to_string(c.vocab) + ", context=" + std::to_string(c.context) +
               ", layers=" + std::to_string(c.layers) + ", heads=" + std::to_string(c.heads) +
               ", embed_dim=" + std::to_string(c.embed_dim) + ", dropout=" + rate_string(c.dropout) +
               ", attention_dropout=" + rate_string(c.attention_dropout) + ", bias=" + (c.bias ? "True" : "False") +
               ", tie=" + (c.tie ? "True" : "False") + ")";
      });

  py::class_<GPT> cls(nn, "GPT", R"(next_token's GPT (models/gpt.hpp), nanoGPT's model.py layout: ids (B, T) -> wte + wpe ->
L x TransformerBlock 'h<i>' -> LayerNorm 'ln_f' -> head (Linear 'head' without bias, or tied:
h @ wte^T) -> logits (B, T, V). GPT-2's initialisation; every parameter from one Scope rooted
at xgrad.prng_key(seed), so with next_token's sizes and seed its parameters are the tool's,
bit for bit. Its PyTorch twin is bench/torch_transformer.py.

    gpt = xgrad.nn.GPT(xgrad.nn.GPTConfig(vocab=256, context=64), seed=0)
    optimizer = xgrad.optim.AdamW(gpt.parameter_groups(0.1), lr=3e-3, betas=(0.9, 0.99))
    with xgrad.Tape():
        loss = xgrad.softmax_cross_entropy(gpt.logits(ids, xgrad.fold_in(key, step)), targets)

GPT(config, seed=0): TypeError for a config that is not an xgrad.nn.GPTConfig or a seed that
is not an int.)");
  cls.def(py::init([](const GPTConfig& config, const py::object& seed) {
            if (PyBool_Check(seed.ptr()) || !PyIndex_Check(seed.ptr())) {
              throw py::type_error("GPT: seed must be an int, got " + repr_of(seed));
            }
            return GPT(config, int64_from(seed, "seed"));
          }),
          "config"_a, "seed"_a = 0)
      .def_property_readonly("config", &GPT::config, "The GPTConfig it was built from.")
      .def(
          "logits",
          [](const GPT& g, Tape& tape, const py::object& ids, const std::optional<Key>& key, bool training) {
            const Key k = dropout_key_for(key, tape, training, g.config().dropout, g.config().attention_dropout, "GPT");
            return op_result(g.logits(tape, token_ids_from(ids), k, training), tape);
          },
          "tape"_a, "ids"_a, "dropout_key"_a = py::none(), "training"_a = true,
          "ids (B, T), 1 <= T <= context -> logits (B, T, V), recorded on tape. Dropout applies only\n"
          "when training is True, a rate is positive and the tape is a training tape, its masks\n"
          "drawn from dropout_key (block i from fold_in(dropout_key, i)); dropout_key may be None\n"
          "only when nothing is drawn (ValueError otherwise). ValueError (xgrad.ShapeError) for ids\n"
          "that are not (B, T) with 1 <= T <= context; IndexError for an id outside [0, V).")
      .def(
          "logits",
          [](const GPT& g, const py::object& ids, const std::optional<Key>& key, bool training) {
            Tape& tape = current_for("GPT");
            const Key k = dropout_key_for(key, tape, training, g.config().dropout, g.config().attention_dropout, "GPT");
            return op_result(g.logits(tape, token_ids_from(ids), k, training), tape);
          },
          "ids"_a, "dropout_key"_a = py::none(), "training"_a = true, "The same on the current `with` block's tape.")
      .def(
          "next_logits",
          [](const GPT& g, Tape& tape, const py::object& ids) {
            return op_result(g.next_logits(tape, token_ids_from(ids)), tape);
          },
          "tape"_a, "ids"_a,
          "ids (B, T) -> the last position's logits (B, V), without dropout: ln_f and the head run on\n"
          "one row per sequence, as nanoGPT's forward without targets. Throws as logits().")
      .def(
          "next_logits",
          [](const GPT& g, const py::object& ids) {
            Tape& tape = current_for("GPT");
            return op_result(g.next_logits(tape, token_ids_from(ids)), tape);
          },
          "ids"_a, "The same on the current `with` block's tape.")
      .def(
          "generate",
          [](const GPT& g, const py::object& prompt, const py::object& new_tokens, const py::object& temperature,
             const py::object& key) {
            const std::vector<std::int64_t> ids = prompt_from(prompt);
            if (PyBool_Check(new_tokens.ptr()) || !PyIndex_Check(new_tokens.ptr())) {
              throw py::type_error("GPT.generate: new_tokens must be an int, got " + repr_of(new_tokens));
            }
            const std::int64_t n = int64_from(new_tokens, "new_tokens");
            if (n < 0) throw py::value_error("GPT.generate: new_tokens must be >= 0, got " + std::to_string(n));
            const float t = real_from(temperature, "GPT.generate", "temperature");
            const Key k = key_from(key, "GPT.generate");
            py::gil_scoped_release unlocked;  // no Python object is touched while it samples
            return g.generate(ids, static_cast<std::size_t>(n), t, k);
          },
          "prompt"_a, "new_tokens"_a, "temperature"_a = 1.0, "key"_a = 0,
          "generate(prompt, new_tokens, temperature=1.0, key=0) -> list of ids: the prompt (a 1-D\n"
          "sequence of ids) followed by new_tokens ids, each predicted from the last `context` ids\n"
          "at most (nanoGPT's generate). temperature 0 takes the most likely id; otherwise an id is\n"
          "drawn from softmax(logits / temperature), the k-th from fold_in(key, k) (key an xgrad.Key\n"
          "or an int seed), so a key repeats its text. Records nothing. ValueError for an empty\n"
          "prompt or a negative or non-finite temperature, IndexError for an id outside [0, V).")
      .def(
          "parameter_groups",
          [](const GPT& g, const py::object& weight_decay) {
            const float wd = real_from(weight_decay, "GPT.parameter_groups", "weight_decay");
            py::list out;
            for (const optim::ParameterGroup& group : g.parameter_groups(wd)) {
              out.append(py::dict("params"_a = leaves_of(group.parameters), "weight_decay"_a = group.weight_decay));
            }
            return out;
          },
          "weight_decay"_a,
          "nanoGPT's configure_optimizers, in the form xgrad.optim.AdamW (and torch.optim.AdamW)\n"
          "accepts: [{'params': 2-D weights (wte, wpe, kernels), 'weight_decay': weight_decay},\n"
          "{'params': everything else (biases, LayerNorm weights), 'weight_decay': 0.0}].")
      .def(
          "parameters",
          [](const GPT& g) {
            py::list out;
            for (const layers::NamedParameter& p : g.parameters()) out.append(py::make_tuple(p.name, leaf(p.tensor)));
            return out;
          },
          "(name, Tensor) pairs in creation order: 'wte', 'wpe', each block's 'h<i>.ln1.weight', ...,\n"
          "'ln_f.weight', 'ln_f.bias', 'head.kernel' (no head when tied, no biases without bias).")
      .def("names", [](const GPT& g) {
             std::vector<std::string> out;
             for (const layers::NamedParameter& p : g.parameters()) out.push_back(p.name);
             return out;
           }, "The parameters' names, in creation order.")
      .def("tensors", [](const GPT& g) { return leaves_of(g.tensors()); }, "The parameters' Tensors, in creation order.")
      .def_property_readonly("size", &GPT::parameter_count, "The number of values over all parameters.")
      .def_property_readonly("wte", &GPT::token_embed, py::return_value_policy::reference_internal, "The token table, Embed 'wte'.")
      .def_property_readonly("wpe", &GPT::position_embed, py::return_value_policy::reference_internal,
                             "The position table, Embed 'wpe'.")
      .def_property_readonly("blocks", [](py::object self) {
             const GPT& g = self.cast<const GPT&>();
             py::list out;
             for (const TransformerBlock& b : g.blocks()) out.append(py::cast(&b, py::return_value_policy::reference_internal, self));
             return out;
           }, "The TransformerBlocks 'h0', 'h1', ...")
      .def_property_readonly("ln_f", &GPT::final_norm, py::return_value_policy::reference_internal, "The final LayerNorm.")
      .def_property_readonly("head", &GPT::head, py::return_value_policy::reference_internal, "The head Linear, None when tied.")
      .def("__repr__", [](const GPT& g) { return "<xgrad.nn.GPT " + models::describe(g.config()) + ">"; });
}

}  // namespace

void bind_nn(py::module_& m) {
  py::module_ nn = m.def_submodule("_nn", "The compiled half of xgrad.nn (python/xgrad/nn.py re-exports it).");
  bind_scope(nn);
  py::class_<Embed> embed(py::object(m.attr("Embed")));
  extend_embed(embed);
  embed.attr("__doc__") = embed.attr("__doc__").cast<std::string>() +
                          "\n\nEmbed(scope, num_embeddings, features, *, init=None, padding_idx=None,\n"
                          "table_name='embedding'): the same table as '<path>.<table_name>' of an\n"
                          "xgrad.nn.Scope, drawn from the scope's key. Call: embed(ids) on the current\n"
                          "`with` block's tape, or embed(tape, ids); attend likewise.";
  py::class_<Linear> linear(py::object(m.attr("Linear")));
  extend_linear(linear);
  linear.attr("__doc__") = linear.attr("__doc__").cast<std::string>() +
                           "\n\nLinear(scope, in_features, out_features, *, use_bias=True, kernel_init=None,\n"
                           "bias_init=None, bias_key=None): '<path>.kernel' and '<path>.bias' of an\n"
                           "xgrad.nn.Scope, the kernel drawn from the scope's key. Call: linear(x) on the\n"
                           "current `with` block's tape, or linear(tape, x).";
  bind_layer_norm(nn);
  bind_attention(nn);
  bind_mlp(nn);
  bind_transformer_block(nn);
  bind_gpt(nn);
}

}  // namespace xgrad::python
