// The engine from Python: Tensor, Tape, Embed, Linear, SGD and check_gradients (the ops,
// operators and `with` blocks are in bind_ops.cpp). Values are zero-copy NumPy views (read-only for an op's recorded
// output); gradients are copies, because clearing a gradient recycles its buffer.
#include <pybind11/stl.h>

#include <sstream>

#include "python/convert.hpp"

using namespace pybind11::literals;

namespace xgrad::python {

void bind_ops_and_operators(py::module_& m, py::class_<PyTensor>& tensor, py::class_<Tape>& tape_class);

namespace {

// The documented `.grad`: always a float32 array of the value's shape (zeros before any
// gradient arrived; a row-sparse gradient written out densely), so code reading it never
// branches on its type. `.row_sparse_grad` keeps the (rows, values) form.
py::array_t<float> grad_of(const Tensor& t) { return to_numpy(t.grad().to_dense()); }

py::object row_sparse_grad_of(const Tensor& t, const py::object& row_sparse_type) {
  const Gradient& g = t.grad();
  if (g.kind() != Gradient::Kind::row_sparse) return py::none();
  const RowSparseGrad& sparse = g.row_sparse();
  py::array_t<std::int32_t> rows(sparse.rows().size());
  std::copy(sparse.rows().begin(), sparse.rows().end(), rows.mutable_data());
  const Shape values_shape{sparse.rows().size(), sparse.row_width()};
  return row_sparse_type(rows, copy_to_numpy(sparse.values().data(), values_shape));
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

// The tape loss.backward() runs: the one that recorded loss, else the innermost open
// `with` block's.
Tape& tape_of(const PyTensor& loss) {
  if (loss.tape) {
    const py::object owner = loss.tape();  // a weak reference: None once the tape is gone
    if (!owner.is_none()) return owner.cast<Tape&>();
  }
  const py::object current = current_py_tape();
  if (!current.is_none()) return current.cast<Tape&>();
  throw std::runtime_error(
      "backward(): this tensor was not recorded on a tape that still exists, and no `with xgrad.Tape()` block is "
      "open (was it computed from tensors that require a gradient, inside a `with` block?)");
}

void run_backward(Tape& tape, const PyTensor& output, const py::object& seed, bool keep_tape) {
  const Tape::BackwardOptions options{keep_tape};
  if (seed.is_none()) {
    tape.backward(output.tensor, options);
  } else {
    tape.backward(output.tensor, array_from(seed, "seed"), options);
  }
}

const char* backward_doc =
    "Seeds d(loss)/d(loss) = 1 and runs the records up to output's in reverse; output must\n"
    "hold one element and have been recorded on this tape (ValueError otherwise). With seed\n"
    "(an array of output's shape): a vector-Jacobian product. A second backward on one tape\n"
    "raises RuntimeError unless the one before passed keep_tape=True; each parameter then\n"
    "receives its gradient exactly once more.";

const std::string tensor_backward_doc =
    std::string("loss.backward(): tape.backward(loss) on the tape that recorded loss (a `with` block's tape\n"
                "stays alive until the next block on the thread closes; else the\n"
                "innermost open `with` block's; RuntimeError when there is neither).\n\n") +
    backward_doc;

py::class_<PyTensor> bind_tensor(py::module_& m) {
  const py::object row_sparse_type =
      py::module_::import("collections").attr("namedtuple")("RowSparseGrad", py::make_tuple("rows", "values"));
  row_sparse_type.attr("__module__") = "xgrad";
  row_sparse_type.attr("__doc__") =
      "A row-sparse gradient of a (V, D) table: rows, the unique int32 row ids in order of first\n"
      "appearance, and values, the (len(rows), D) float32 sums of their contributions; every\n"
      "other row's gradient is zero.";
  m.attr("RowSparseGrad") = row_sparse_type;

  py::class_<PyTensor> tensor(m, "Tensor", R"(A shared handle to an evaluated float32 value, the gradient it accumulates, and whether it
wants one. Copies share the value. Ops compute new tensors and record them on a Tape:
inside `with xgrad.Tape() as tape:` the operators + - * / ** @, unary -, indexing x[1:3, ::2]
and the methods (x.sum(axis=0), x.relu(), ...) record on `tape`.

value is a zero-copy NumPy view that keeps the tensor alive. It is read-only for the output
of an op recorded on a training tape (that op's backward may read it); writable for
everything else (parameters, inputs, inference outputs), so writing it changes the tensor.

grad is always a float32 NumPy array of the value's shape: zeros before a gradient has
arrived (grad_kind 'none'), the gradient otherwise, a row-sparse one written out densely.
row_sparse_grad keeps a row-sparse gradient's compact form, RowSparseGrad(rows, values), and
is None for any other kind. Both are copies, since clearing a gradient recycles its buffer.)");
  tensor
      .def(py::init([](const py::object& value, bool requires_grad, std::string name) {
             return leaf(Tensor(array_from(value, "value"), requires_grad, std::move(name)));
           }),
           "value"_a, "requires_grad"_a = false, "name"_a = "",
           "A tensor holding a float32 copy of value: a Python number (a 0-d tensor), a list or any\n"
           "array-like. ValueError naming the value for a non-numeric array, or a number that\n"
           "overflows float32 (never a silent inf). Parameters pass requires_grad=True and a name\n"
           "such as 'embed.embedding', which printed tapes, pictures and error messages use.")
      .def_static(
          "parameter",
          [](const py::object& value, std::string name) { return leaf(Tensor::parameter(array_from(value, "value"), std::move(name))); },
          "value"_a, "name"_a,
          "A trainable parameter: requires a gradient, and keeps it across tapes until cleared.")
      .def_property_readonly("value", &value_view, "The value as a zero-copy float32 NumPy view.")
      .def("numpy", [](const PyTensor& t) { return copy_to_numpy(t.tensor.value().data(), t.tensor.shape()); },
           "A float32 copy of the value.")
      .def_property_readonly("grad", [](const PyTensor& t) { return grad_of(t.tensor); },
                             "The gradient as a float32 array of the value's shape, always (zeros when none).")
      .def_property_readonly(
          "row_sparse_grad", [row_sparse_type](const PyTensor& t) { return row_sparse_grad_of(t.tensor, row_sparse_type); },
          "RowSparseGrad(rows, values) when the gradient is row-sparse (a gathered table's), else None.")
      .def_property_readonly("grad_kind", [](const PyTensor& t) { return kind_name(t.tensor.grad().kind()); },
                             "'none', 'dense' or 'row_sparse'.")
      .def("dense_grad", [](const PyTensor& t) { return grad_of(t.tensor); }, "The same as .grad (kept for old code).")
      .def("clear_grad", [](const PyTensor& t) { t.tensor.mutable_grad().clear(); },
           "Back to no gradient (what an optimiser's zero_grad does for its parameters).")
      .def_property_readonly("grad_norm", [](const PyTensor& t) { return t.tensor.grad().norm(); },
                             "Euclidean norm of the stored gradient (0 when empty), summed in double.")
      .def_property_readonly("requires_grad", [](const PyTensor& t) { return t.tensor.requires_grad(); },
                             "Whether backward passes send this tensor a gradient.")
      .def_property_readonly("name", [](const PyTensor& t) { return t.tensor.name(); }, "The name given at creation.")
      .def_property_readonly("shape", [](const PyTensor& t) { return shape_tuple(t.tensor.shape()); }, "The shape, a tuple.")
      .def_property_readonly("ndim", [](const PyTensor& t) { return t.tensor.shape().size(); }, "The number of axes.")
      .def_property_readonly("size", [](const PyTensor& t) { return t.tensor.size(); }, "The number of elements.")
      .def_property_readonly("node_id", [](const PyTensor& t) { return reinterpret_cast<std::uintptr_t>(&t.tensor.value()); },
                             "An id shared by every handle to the same tensor (for pictures of graphs).")
      .def("same_node", [](const PyTensor& a, const PyTensor& b) { return a.tensor.same_node(b.tensor); },
           "other"_a, "Whether both handles reach the same tensor.")
      .def(
          "backward",
          [](const PyTensor& t, const py::object& seed, bool keep_tape) { run_backward(tape_of(t), t, seed, keep_tape); },
          "seed"_a = py::none(), py::kw_only(), "keep_tape"_a = false,
          tensor_backward_doc.c_str())
      .def("__repr__", [](const PyTensor& t) {
        std::string out = "Tensor(shape=" + shape_string(t.tensor.shape());
        if (t.tensor.size() == 1) out += ", value=" + py::repr(py::float_(*t.tensor.value().data())).cast<std::string>();
        if (!t.tensor.name().empty()) out += ", name='" + t.tensor.name() + "'";
        if (t.tensor.requires_grad()) out += ", requires_grad=True";
        return out + ")";
      });
  return tensor;
}

py::class_<Tape> bind_tape(py::module_& m) {
  py::class_<Tape> tape(m, "Tape", R"(The explicit record of the ops of one forward pass, replayed in reverse by backward().
Parameters live outside the tape and outlive it; a new tape per training step is the normal
use. `with xgrad.Tape() as tape:` makes it current for the block (per thread, nestable), so
operators and op functions record on it without naming it. An inference tape
(Tape(inference=True)) records nothing, so evaluation and sampling allocate no gradients.
str(tape) prints one line per record: index, op, input shapes -> output shape, the output's
gradient norm (after backward), and the record's detail. In Jupyter a tape shows as a
Graphviz picture (_repr_svg_; xgrad.write_dot writes the DOT text).)");
  py::enum_<Tape::Mode>(tape, "Mode")
      .value("training", Tape::Mode::training, "ops whose inputs require a gradient are recorded")
      .value("inference", Tape::Mode::inference, "nothing is recorded; every output requires no gradient");
  tape.def(py::init([](Tape::Mode mode, bool inference) { return Tape(inference ? Tape::Mode::inference : mode); }),
           "mode"_a = Tape::Mode::training, py::kw_only(), "inference"_a = false)
      .def_property_readonly("mode", &Tape::mode, "Tape.Mode.training or Tape.Mode.inference.")
      .def("backward", &run_backward, "output"_a, "seed"_a = py::none(), py::kw_only(), "keep_tape"_a = false,
           backward_doc)
      .def_property_readonly("spent", &Tape::spent,
                             "Whether a backward has run and the tape refuses another.")
      .def(
          "records",
          [](const Tape& t) {
            py::list out;
            for (std::size_t i = 0; i < t.size(); ++i) {
              const Tape::Record& r = t[i];
              py::list inputs;
              for (const Tensor& x : r.inputs) inputs.append(leaf(x));
              out.append(py::make_tuple(r.op, inputs, PyTensor{r.output, true, py::object()},
                                        r.detail ? r.detail() : std::string()));
            }
            return out;
          },
          "The records in order, each a tuple (op, inputs, output, detail): the op's name, its input\n"
          "Tensors, its output Tensor and the record's printed detail ('' when none).")
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
  return tape;
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
          [](const layers::Embed& e, Tape& tape, const py::object& ids) { return op_result(e(tape, token_ids_from(ids)), tape); },
          "tape"_a, "ids"_a,
          "ids (T,) -> (T, D); ids (B, T) -> (B, T, D). IndexError (TokenIdOutOfRange) naming\n"
          "the table, the position, the id and V before touching anything.")
      .def(
          "attend", [](const layers::Embed& e, Tape& tape, const PyTensor& query) { return op_result(e.attend(tape, query.tensor), tape); },
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
          "__call__", [](const layers::Linear& l, Tape& tape, const PyTensor& x) { return op_result(l(tape, x.tensor), tape); },
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
  py::class_<GradientCheckResult>(m, "GradientCheckResult",
                                  "What check_gradients found: ok, how many elements (or directions) it compared,\n"
                                  "the largest errors and the worst element; true when ok.")
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
  py::class_<PyTensor> tensor = bind_tensor(m);
  py::class_<Tape> tape = bind_tape(m);
  bind_ops_and_operators(m, tensor, tape);
  bind_layers(m);
  bind_optim(m);
  bind_gradient_check(m);
}

}  // namespace xgrad::python
