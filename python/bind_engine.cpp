// The engine from Python: Tensor, Tape, the ops of core/ops.hpp, Embed, Linear, SGD and
// check_gradients. Values are zero-copy NumPy views (read-only for an op's recorded
// output); gradients are copies, because clearing a gradient recycles its buffer.
#include <pybind11/stl.h>

#include <sstream>

#include "python/convert.hpp"

using namespace pybind11::literals;

namespace xgrad::python {
namespace {

py::object grad_of(const Tensor& t) {
  const Gradient& g = t.grad();
  switch (g.kind()) {
    case Gradient::Kind::none:
      return py::none();
    case Gradient::Kind::dense:
      return copy_to_numpy(g.dense().data(), g.shape());
    case Gradient::Kind::row_sparse: {
      const RowSparseGrad& sparse = g.row_sparse();
      py::array_t<std::int32_t> rows(sparse.rows().size());
      std::copy(sparse.rows().begin(), sparse.rows().end(), rows.mutable_data());
      const Shape values_shape{sparse.rows().size(), sparse.row_width()};
      return py::make_tuple(rows, copy_to_numpy(sparse.values().data(), values_shape));
    }
  }
  return py::none();
}

const char* kind_name(Gradient::Kind kind) {
  switch (kind) {
    case Gradient::Kind::dense: return "dense";
    case Gradient::Kind::row_sparse: return "row_sparse";
    case Gradient::Kind::none: break;
  }
  return "none";
}

py::tuple shape_tuple(const Shape& shape) {
  py::tuple out(shape.size());
  for (std::size_t i = 0; i < shape.size(); ++i) out[i] = shape[i];
  return out;
}

// A Python callable (key, shape) -> array as an Initializer; layers call it while
// constructing, with the GIL held.
Initializer initializer_from(const py::object& f) {
  return [f](const Key& key, const Shape& shape) { return array_from(f(key, shape_tuple(shape)), "the initializer's result"); };
}

void bind_tensor(py::module_& m) {
  py::class_<PyTensor>(m, "Tensor", R"(A shared handle to an evaluated float32 value, the gradient it accumulates, and whether it
wants one. Copies share the value. Ops compute new tensors and record them on a Tape.

value is a zero-copy NumPy view that keeps the tensor alive. It is read-only for the output
of an op recorded on a training tape (that op's backward may read it); writable for
everything else (parameters, inputs, inference outputs), so writing it changes the tensor.

grad is None, a dense array, or for a gathered table's row-sparse gradient a tuple
(rows, values): the unique int32 row ids in order of first appearance and the (len(rows), D)
sums of their contributions. It is a copy, since clearing a gradient recycles its buffer.)")
      .def(py::init([](const py::object& value, bool requires_grad, std::string name) {
             return leaf(Tensor(array_from(value, "value"), requires_grad, std::move(name)));
           }),
           "value"_a, "requires_grad"_a = false, "name"_a = "",
           "A tensor holding a float32 copy of value. Parameters pass requires_grad=True and a\n"
           "name such as 'embed.embedding', which printed tapes and error messages use.")
      .def_static(
          "parameter",
          [](const py::object& value, std::string name) { return leaf(Tensor::parameter(array_from(value, "value"), std::move(name))); },
          "value"_a, "name"_a,
          "A trainable parameter: requires a gradient, and keeps it across tapes until cleared.")
      .def_property_readonly("value", &value_view)
      .def_property_readonly("grad", [](const PyTensor& t) { return grad_of(t.tensor); })
      .def_property_readonly("grad_kind", [](const PyTensor& t) { return kind_name(t.tensor.grad().kind()); },
                             "'none', 'dense' or 'row_sparse'.")
      .def("dense_grad", [](const PyTensor& t) { return to_numpy(t.tensor.grad().to_dense()); },
           "The gradient as a dense array of the value's shape (zeros when empty); O(size).")
      .def("clear_grad", [](const PyTensor& t) { t.tensor.mutable_grad().clear(); },
           "Back to no gradient (what an optimiser's zero_grad does for its parameters).")
      .def_property_readonly("grad_norm", [](const PyTensor& t) { return t.tensor.grad().norm(); },
                             "Euclidean norm of the stored gradient (0 when empty), summed in double.")
      .def_property_readonly("requires_grad", [](const PyTensor& t) { return t.tensor.requires_grad(); })
      .def_property_readonly("name", [](const PyTensor& t) { return t.tensor.name(); })
      .def_property_readonly("shape", [](const PyTensor& t) { return shape_tuple(t.tensor.shape()); })
      .def_property_readonly("size", [](const PyTensor& t) { return t.tensor.size(); })
      .def("same_node", [](const PyTensor& a, const PyTensor& b) { return a.tensor.same_node(b.tensor); },
           "other"_a, "Whether both handles reach the same tensor.")
      .def("__repr__", [](const PyTensor& t) {
        std::string out = "Tensor(shape=" + shape_string(t.tensor.shape());
        if (!t.tensor.name().empty()) out += ", name='" + t.tensor.name() + "'";
        if (t.tensor.requires_grad()) out += ", requires_grad=True";
        return out + ")";
      });
}

void bind_tape(py::module_& m) {
  py::class_<Tape> tape(m, "Tape", R"(The explicit record of the ops of one forward pass, replayed in reverse by backward().
Parameters live outside the tape and outlive it; a new tape per training step is the normal
use. An inference tape (Tape(inference=True)) records nothing, so evaluation and sampling
allocate no gradients. str(tape) prints one line per record: index, op, input shapes ->
output shape, the output's gradient norm (after backward), and the record's detail.)");
  py::enum_<Tape::Mode>(tape, "Mode")
      .value("training", Tape::Mode::training, "ops whose inputs require a gradient are recorded")
      .value("inference", Tape::Mode::inference, "nothing is recorded; every output requires no gradient");
  tape.def(py::init([](Tape::Mode mode, bool inference) { return Tape(inference ? Tape::Mode::inference : mode); }),
           "mode"_a = Tape::Mode::training, py::kw_only(), "inference"_a = false)
      .def_property_readonly("mode", &Tape::mode)
      .def(
          "backward",
          [](Tape& t, const PyTensor& output, const py::object& seed, bool keep_tape) {
            const Tape::BackwardOptions options{keep_tape};
            if (seed.is_none()) {
              t.backward(output.tensor, options);
            } else {
              t.backward(output.tensor, array_from(seed, "seed"), options);
            }
          },
          "output"_a, "seed"_a = py::none(), py::kw_only(), "keep_tape"_a = false,
          "Seeds d(loss)/d(loss) = 1 and runs the records up to output's in reverse; output must\n"
          "hold one element and have been recorded on this tape (ValueError otherwise). With seed\n"
          "(an array of output's shape): a vector-Jacobian product. A second backward on one tape\n"
          "raises RuntimeError unless the one before passed keep_tape=True; each parameter then\n"
          "receives its gradient exactly once more.")
      .def_property_readonly("spent", &Tape::spent,
                             "Whether a backward has run and the tape refuses another.")
      .def("__len__", &Tape::size)
      .def("__str__", [](const Tape& t) {
        std::ostringstream out;
        out << t;
        return out.str();
      })
      .def("__repr__", [](const Tape& t) {
        return std::string("<xgrad.Tape ") + (t.mode() == Tape::Mode::inference ? "inference" : "training") +
               ", " + std::to_string(t.size()) + " records>";
      });
}

using Unary = Tensor (*)(Tape&, const Tensor&);
using Binary = Tensor (*)(Tape&, const Tensor&, const Tensor&);

void def_op(py::module_& m, const char* name, Unary op, const char* doc) {
  m.def(name, [op](Tape& tape, const PyTensor& x) { return op_result(op(tape, x.tensor)); }, "tape"_a, "x"_a, doc);
}

void def_op(py::module_& m, const char* name, Binary op, const char* a, const char* b, const char* doc) {
  m.def(name, [op](Tape& tape, const PyTensor& x, const PyTensor& y) { return op_result(op(tape, x.tensor, y.tensor)); },
        "tape"_a, py::arg(a), py::arg(b), doc);
}

void bind_ops(py::module_& m) {
  m.def(
      "embedding_lookup",
      [](Tape& tape, const PyTensor& table, const py::object& ids, std::optional<std::int32_t> padding_idx) {
        return op_result(embedding_lookup(tape, table.tensor, token_ids_from(ids), padding_idx));
      },
      "tape"_a, "table"_a, "ids"_a, "padding_idx"_a = py::none(),
      "Gather: table (V, D), ids (...) -> (..., D), out[t] = table[ids[t]]. Backward:\n"
      "dtable[ids[t], :] += dout[t, :], a row-sparse gradient; repeated ids sum; tokens equal\n"
      "to padding_idx send no gradient. IndexError (TokenIdOutOfRange) naming the table,\n"
      "the position and the id before computing anything.");
  def_op(m, "matmul", &matmul, "x", "w", "x (..., K) @ w (K, N) -> (..., N), through BLAS sgemm.");
  def_op(m, "matmul_transposed", &matmul_transposed, "x", "w",
         "x (..., K) @ w (N, K)^T -> (..., N): a product with the rows of w, as Embed.attend uses.");
  def_op(m, "add_bias", &add_bias, "x", "bias", "x (..., N) + bias (N,), broadcast over every leading index.");
  m.def(
      "linear",
      [](Tape& tape, const PyTensor& x, const PyTensor& w, const PyTensor& bias) {
        return op_result(linear(tape, x.tensor, w.tensor, bias.tensor));
      },
      "tape"_a, "x"_a, "w"_a, "bias"_a,
      "x (..., K) @ w (K, N) + bias (N,) as one op (what Linear records): the bias is written\n"
      "into the output and sgemm adds the product to it. Backward: dx = dy @ w^T,\n"
      "dw = x^T @ dy, dbias = dy summed over rows.");
  def_op(m, "add", &add, "a", "b", "a + b, same shapes.");
  def_op(m, "mul", &mul, "a", "b", "a * b elementwise, same shapes.");
  def_op(m, "tanh", &tanh, "tanh(x) elementwise.");
  def_op(m, "sum", &sum, "Sum of all elements -> scalar (shape ()).");
  def_op(m, "mean", &mean, "Mean of all elements -> scalar.");
  def_op(m, "mean_square", &mean_square,
         "Mean of the squares of all elements -> scalar, in one pass (no x^2 array), summed in double.");
  m.def(
      "reshape",
      [](Tape& tape, const PyTensor& x, const Shape& shape) { return op_result(reshape(tape, x.tensor, shape)); },
      "tape"_a, "x"_a, "shape"_a, "Same data, new shape with the same element count.");
  m.def(
      "softmax_cross_entropy",
      [](Tape& tape, const PyTensor& logits, const py::object& targets) {
        return op_result(softmax_cross_entropy(tape, logits.tensor, token_ids_from(targets)));
      },
      "tape"_a, "logits"_a, "targets"_a,
      "Mean over tokens of -log softmax(logits)[target]: logits (..., V), targets (...) with\n"
      "ids in [0, V) -> scalar. Numerically stable (log-sum-exp with the row maximum).");
}

void bind_layers(py::module_& m) {
  py::class_<layers::Embed>(m, "Embed", R"(A trainable (V, D) token table. Forward gathers one row per id; backward scatter-adds into
a row-sparse gradient, so a step costs what the used rows cost. Mirrors Flax's nn.Embed (same
default init, same attend), but refuses bad ids instead of wrapping negative ones and
returning NaN rows for ids >= V.

Embed(num_embeddings, features, key, *, init=None, padding_idx=None, name="embed"): a table
drawn by init (default Flax's N(0, 1/D)) from key. Tokens equal to padding_idx get their row
in the output but send no gradient to it (unlike PyTorch, the row is not zeroed at init).
The table is the parameter "<name>.embedding".)")
      .def(py::init([](std::size_t num_embeddings, std::size_t features, const Key& key, const py::object& init,
                       std::optional<std::int32_t> padding_idx, std::string name) {
             layers::EmbedOptions options;
             if (!init.is_none()) options.init = initializer_from(init);
             options.padding_idx = padding_idx;
             options.name = std::move(name);
             return layers::Embed(num_embeddings, features, key, std::move(options));
           }),
           "num_embeddings"_a, "features"_a, "key"_a, py::kw_only(), "init"_a = py::none(),
           "padding_idx"_a = py::none(), "name"_a = "embed")
      .def(
          "__call__",
          [](const layers::Embed& e, Tape& tape, const py::object& ids) { return op_result(e(tape, token_ids_from(ids))); },
          "tape"_a, "ids"_a,
          "ids (T,) -> (T, D); ids (B, T) -> (B, T, D). IndexError (TokenIdOutOfRange) naming\n"
          "the table, the position, the id and V before touching anything.")
      .def(
          "attend", [](const layers::Embed& e, Tape& tape, const PyTensor& query) { return op_result(e.attend(tape, query.tensor)); },
          "tape"_a, "query"_a,
          "query (..., D) @ embedding^T -> (..., V): logits against every token, for weight\n"
          "tying. The table's gradient from attend is dense.")
      .def_property_readonly("embedding", [](const layers::Embed& e) { return leaf(e.embedding()); })
      .def_property_readonly("num_embeddings", &layers::Embed::num_embeddings)
      .def_property_readonly("features", &layers::Embed::features)
      .def_property_readonly("padding_idx", &layers::Embed::padding_idx)
      .def("parameters", [](const layers::Embed& e) { return leaves_of(e.parameters()); });

  py::class_<layers::Linear>(m, "Linear", R"(y = x @ kernel + bias with kernel (in, out), as Flax's nn.Dense lays it out.

Linear(in_features, out_features, kernel_key, *, kernel_init=None, bias_init=None,
use_bias=True, bias_key=None, name="linear"): kernel_init defaults to lecun_normal (Flax
nn.Dense's), bias_init to zeros; bias_key only matters for a random bias_init. Parameters
are "<name>.kernel" and "<name>.bias".)")
      .def(py::init([](std::size_t in_features, std::size_t out_features, const Key& kernel_key,
                       const py::object& kernel_init, const py::object& bias_init, bool use_bias,
                       std::optional<Key> bias_key, std::string name) {
             layers::LinearOptions options;
             if (!kernel_init.is_none()) options.kernel_init = initializer_from(kernel_init);
             if (!bias_init.is_none()) options.bias_init = initializer_from(bias_init);
             options.use_bias = use_bias;
             if (bias_key) options.bias_key = *bias_key;
             options.name = std::move(name);
             return layers::Linear(in_features, out_features, kernel_key, std::move(options));
           }),
           "in_features"_a, "out_features"_a, "kernel_key"_a, py::kw_only(), "kernel_init"_a = py::none(),
           "bias_init"_a = py::none(), "use_bias"_a = true, "bias_key"_a = py::none(), "name"_a = "linear")
      .def(
          "__call__", [](const layers::Linear& l, Tape& tape, const PyTensor& x) { return op_result(l(tape, x.tensor)); },
          "tape"_a, "x"_a, "x (..., in) -> (..., out).")
      .def_property_readonly("kernel", [](const layers::Linear& l) { return leaf(l.kernel()); })
      .def_property_readonly("bias", [](const layers::Linear& l) -> py::object {
        if (!l.bias().defined()) return py::none();
        return py::cast(leaf(l.bias()));
      }, "None when use_bias is False.")
      .def("parameters", [](const layers::Linear& l) { return leaves_of(l.parameters()); });
}

void bind_optim(py::module_& m) {
  py::class_<optim::SGD>(m, "SGD", R"(SGD that understands row-sparse gradients: a sparse step writes exactly the rows the
gradient names, so its cost does not grow with the vocabulary. Momentum and weight decay on
sparse gradients are lazy: they act only on the rows present in the step.

SGD(parameters, lr, *, momentum=0, weight_decay=0): v = momentum * v + g; p -= lr * v
(PyTorch's convention), with g += weight_decay * p first. ValueError for lr, momentum or
weight decay that is negative or not finite, momentum >= 1, or a parameter that does not
require a gradient.)")
      .def(py::init([](const std::vector<PyTensor>& parameters, float lr, float momentum, float weight_decay) {
             optim::SGDOptions options;
             options.momentum = momentum;
             options.weight_decay = weight_decay;
             require_distinct(parameters, "SGD: parameters");
             return optim::SGD(tensors_of(parameters), lr, options);
           }),
           "parameters"_a, "lr"_a, py::kw_only(), "momentum"_a = 0.0f, "weight_decay"_a = 0.0f)
      .def("step", &optim::SGD::step,
           "One update from the current gradients; parameters with no gradient are left as they are.")
      .def("zero_grad", &optim::SGD::zero_grad, "Clears every parameter's gradient; O(rows touched) for row-sparse ones.")
      .def_property("lr", &optim::SGD::lr, &optim::SGD::set_lr);
}

GradientCheckMode check_mode_from(const std::string& name) {
  if (name == "elementwise") return GradientCheckMode::elementwise;
  if (name == "directional") return GradientCheckMode::directional;
  throw py::value_error("check_gradients: mode must be 'elementwise' or 'directional', got '" + name + "'");
}

void bind_gradient_check(py::module_& m) {
  py::class_<GradientCheckResult>(m, "GradientCheckResult")
      .def_readonly("ok", &GradientCheckResult::ok)
      .def_readonly("elements_checked", &GradientCheckResult::elements_checked)
      .def_readonly("directions_checked", &GradientCheckResult::directions_checked, "0 in elementwise mode.")
      .def_readonly("max_abs_error", &GradientCheckResult::max_abs_error)
      .def_readonly("relative_error", &GradientCheckResult::relative_error,
                    "|analytic - numeric| / max(|analytic|, |numeric|) over all comparisons as vectors\n"
                    "(2-norms); inf when a comparison was not finite.")
      .def_readonly("worst", &GradientCheckResult::worst, "The worst element, e.g. 'input 0 element 5: analytic 0.25, numeric 0.2500012'.")
      .def("__bool__", [](const GradientCheckResult& r) { return r.ok; })
      .def("__repr__", [](const GradientCheckResult& r) {
        std::ostringstream out;
        out << "GradientCheckResult(ok=" << (r.ok ? "True" : "False") << ", elements_checked=" << r.elements_checked;
        if (r.directions_checked) out << ", directions_checked=" << r.directions_checked;
        out << ", relative_error=" << r.relative_error << ", worst='" << r.worst << "')";
        return out.str();
      });
  m.def(
      "check_gradients",
      [](const py::function& f, const std::vector<PyTensor>& inputs, std::optional<double> step,
         double absolute_tolerance, double relative_tolerance, unsigned seed, const std::string& mode,
         const py::object& directions) {
        GradientCheckOptions options;
        options.absolute_tolerance = absolute_tolerance;
        options.relative_tolerance = relative_tolerance;
        options.seed = seed;
        options.mode = check_mode_from(mode);
        if (step) (options.mode == GradientCheckMode::directional ? options.directional_step : options.step) = *step;
        options.directions = size_from(directions, "check_gradients: directions");
        const CheckedFunction checked = [&f](Tape& tape, const std::vector<Tensor>& xs) {
          // f may keep the tape it is given (in a list, a closure, a global), so it gets a
          // tape Python owns rather than a reference to the checker's, which dies when the
          // check returns. Once f returns, the records move to the checker's tape; a kept
          // tape stays valid and empty.
          py::object handed = py::cast(Tape(tape.mode()), py::return_value_policy::move);
          const py::object out = f(handed, leaves_of(xs));
          if (!py::isinstance<PyTensor>(out)) {
            throw py::type_error("check_gradients: f must return an xgrad.Tensor, got " +
                                 py::repr(out).cast<std::string>());
          }
          Tape& kept = handed.cast<Tape&>();
          tape = std::move(kept);
          kept = Tape(tape.mode());
          return out.cast<const PyTensor&>().tensor;
        };
        return check_gradients(checked, tensors_of(inputs), options);
      },
      "f"_a, "inputs"_a, py::kw_only(), "step"_a = py::none(), "absolute_tolerance"_a = 1e-3,
      "relative_tolerance"_a = 1e-2, "seed"_a = 1u, "mode"_a = "elementwise", "directions"_a = 3,
      R"(Compares the tape's gradients of f(tape, inputs) -> Tensor against central differences:
d/dx of L(x) = sum_i w_i * f(x)_i for fixed pseudo-random weights w in [-1, 1], for every
input that requires a gradient. mode "elementwise" compares every element (2 calls of f per
element); "directional" compares <grad, u> for `directions` random unit directions u with the
central difference along u, every element moving by +-step (2 calls per direction: for large
inputs; it finds a wrong formula, not one wrong element among many). step defaults to 1e-2
elementwise, 3e-3 directional (docs/testing.md). A comparison passes when
|analytic - numeric| <= absolute_tolerance + relative_tolerance * |numeric|; a NaN or inf
gradient or value fails it. ValueError for a step that is not finite and > 0, a tolerance
that is not finite and >= 0, or an output whose shape changes between calls. On every path,
an exception from f (KeyboardInterrupt too) included, the inputs' values are restored bit
for bit and their gradients cleared. f may keep its tape: it stays valid, with no records.)");
}

}  // namespace

void bind_engine(py::module_& m) {
  bind_tensor(m);
  bind_tape(m);
  bind_ops(m);
  bind_layers(m);
  bind_optim(m);
  bind_gradient_check(m);
}

}  // namespace xgrad::python
