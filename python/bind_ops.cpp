// The ops of core/ops.hpp from Python: a module function for each, usable on an explicit
// tape (xgrad.add(tape, a, b)) or on the innermost `with xgrad.Tape()` block's tape
// (xgrad.add(a, b)); Tensor's operators, indexing and NumPy-named methods over the same
// functions; ops written in Python (record, accumulate_grad). Sugar over the explicit
// op(tape, ...) forms, never a second engine. Docstrings are core/ops.hpp's comments
// (python/docgen.py copies them into ops_docs.hpp at build time).
#include <pybind11/stl.h>

#include <cmath>
#include <deque>
#include <limits>
#include <memory>

#include "ops_docs.hpp"
#include "python/convert.hpp"

using namespace pybind11::literals;

namespace xgrad::python {
namespace {

// The open `with` blocks of this thread, innermost last. Each holds the C++ TapeScope that
// makes its tape current, and the Python Tape so that an op's output can name it.
struct OpenScope {
  py::object py_tape;
  Tape* tape;
  std::unique_ptr<TapeScope> scope;
};
thread_local std::vector<OpenScope> open_scopes;

std::string input_name(const Tensor& x) { return x.name().empty() ? "an input" : "'" + x.name() + "'"; }

[[noreturn]] void no_tape(const char* op, const Tensor& x) {
  throw std::runtime_error(std::string(op) + ": " + input_name(x) +
                           " requires a gradient but no tape is recording: compute inside "
                           "`with xgrad.Tape() as tape:`, or call xgrad." + op + "(tape, ...)");
}

}  // namespace

py::object current_py_tape() { return open_scopes.empty() ? py::none() : open_scopes.back().py_tape; }

Tape& tape_for_py(const char* op, std::initializer_list<const Tensor*> inputs) {
  if (Tape* t = current_tape()) return *t;
  for (const Tensor* x : inputs) {
    if (x && x->requires_grad()) no_tape(op, *x);
  }
  return tape_for(op, std::initializer_list<const Tensor*>{});  // this thread's constants tape
}

Tape& tape_for_py(const char* op, const std::vector<Tensor>& inputs) {
  if (Tape* t = current_tape()) return *t;
  for (const Tensor& x : inputs) {
    if (x.requires_grad()) no_tape(op, x);
  }
  return tape_for(op, std::initializer_list<const Tensor*>{});
}

PyTensor op_result(Tensor t, Tape& tape) {
  PyTensor out{std::move(t), true, py::object()};
  if (out.tensor.requires_grad() && tape.mode() == Tape::Mode::training) {
    if (!open_scopes.empty() && open_scopes.back().tape == &tape) {
      out.tape = py::weakref(open_scopes.back().py_tape);
    } else {
      // The explicit form: the Python object that owns `tape` (pybind11 finds it by address).
      out.tape = py::weakref(py::cast(&tape, py::return_value_policy::reference));
    }
  }
  return out;
}

namespace {

// Docstrings must outlive the module's functions.
const char* keep(std::string text) {
  static std::deque<std::string> texts;
  texts.push_back(std::move(text));
  return texts.back().c_str();
}

// "<python signature and notes>\n\n<core/ops.hpp's comment for `op`>".
const char* op_doc(const char* op, const std::string& python) {
  const std::string header = header_doc(op);
  return keep(python + (header.empty() ? "" : "\n\nFrom core/ops.hpp (`" + std::string(op) + "`):\n" + header));
}

// Defines name(args...) on the current tape and name(tape, args...) on an explicit one,
// both from one body f(Tape* explicit_tape_or_null, args...).
template <class F, class R, class... Args, class... Extra>
void def_both_impl(py::module_& m, const char* name, const char* doc, const F& f, R (F::*)(Tape*, Args...) const,
                   const Extra&... extra) {
  m.def(name, [f](Args... args) -> R { return f(nullptr, std::forward<Args>(args)...); }, extra..., doc);
  m.def(name, [f](Tape& tape, Args... args) -> R { return f(&tape, std::forward<Args>(args)...); }, "tape"_a,
        extra..., "The same on an explicit tape (recorded there whether or not a `with` block is open).");
}

template <class F, class... Extra>
void def_both(py::module_& m, const char* name, const char* doc, const F& f, const Extra&... extra) {
  def_both_impl(m, name, doc, f, &F::operator(), extra...);
}

float float_operand(double v, const char* op) {
  const float f = static_cast<float>(v);
  if (std::isinf(f) && std::isfinite(v)) {
    throw py::value_error(std::string(op) + ": the number " + py::repr(py::float_(v)).cast<std::string>() +
                          " overflows float32 (largest finite 3.4028235e+38)");
  }
  return f;
}

// One side of a binary op: a Tensor, a Python number (the op's float form), or anything
// array-like, taken as a constant tensor.
struct Operand {
  const Tensor* tensor = nullptr;
  float number = 0.0f;
  Tensor owned;

  Operand(py::handle h, const char* op) {
    py::detail::make_caster<PyTensor> caster;
    if (caster.load(h, false)) {
      tensor = &py::detail::cast_op<const PyTensor&>(caster).tensor;
    } else if (PyFloat_Check(h.ptr())) {
      number = float_operand(PyFloat_AS_DOUBLE(h.ptr()), op);
    } else if (PyLong_Check(h.ptr())) {
      const double v = PyLong_AsDouble(h.ptr());
      if (v == -1.0 && PyErr_Occurred()) throw py::error_already_set();
      number = float_operand(v, op);
    } else {
      owned = Tensor(array_from(h, std::string(op) + ": operand"));
      tensor = &owned;
    }
  }
  void make_tensor() {
    Array a = Array::from_shape(Shape{});
    a() = number;
    owned = Tensor(std::move(a));
    tensor = &owned;
  }
};

// a OP b with Tensors or numbers on either side (two numbers: a becomes a 0-d constant).
template <class F>
PyTensor binary(const char* op, const F& f, Tape* explicit_tape, py::handle a, py::handle b) {
  Operand x(a, op);
  Operand y(b, op);
  if (!x.tensor && !y.tensor) x.make_tensor();
  Tape& tape = explicit_tape ? *explicit_tape : tape_for_py(op, {x.tensor, y.tensor});
  if (!y.tensor) return op_result(f(tape, *x.tensor, y.number), tape);
  if (!x.tensor) return op_result(f(tape, x.number, *y.tensor), tape);
  return op_result(f(tape, *x.tensor, *y.tensor), tape);
}

Tape& pick(Tape* explicit_tape, const char* op, std::initializer_list<const Tensor*> inputs) {
  return explicit_tape ? *explicit_tape : tape_for_py(op, inputs);
}

// axis=None (every axis), an int, or a sequence of ints.
Axes axes_from(const py::handle& axis, std::size_t rank) {
  Axes axes;
  if (axis.is_none()) {
    for (std::size_t i = 0; i < rank; ++i) axes.push_back(static_cast<std::int64_t>(i));
  } else if (PyIndex_Check(axis.ptr())) {
    axes.push_back(py::cast<std::int64_t>(py::reinterpret_steal<py::object>(PyNumber_Index(axis.ptr()))));
  } else {
    for (const py::handle item : py::iter(axis)) axes.push_back(py::cast<std::int64_t>(item));
  }
  return axes;
}

using Reduce = Tensor (*)(Tape&, const Tensor&, const Axes&, bool);
using WholeReduce = Tensor (*)(Tape&, const Tensor&);

PyTensor reduce(const char* op, Reduce f, WholeReduce whole, Tape* t, const PyTensor& x, const py::object& axis,
                bool keepdims) {
  Tape& tape = pick(t, op, {&x.tensor});
  if (axis.is_none() && !keepdims && whole) return op_result(whole(tape, x.tensor), tape);
  return op_result(f(tape, x.tensor, axes_from(axis, x.tensor.shape().size()), keepdims), tape);
}

std::vector<std::int64_t> extents_from(const py::handle& shape) {
  std::vector<std::int64_t> out;
  if (PyIndex_Check(shape.ptr())) {
    out.push_back(py::cast<std::int64_t>(py::reinterpret_steal<py::object>(PyNumber_Index(shape.ptr()))));
    return out;
  }
  for (const py::handle item : py::iter(shape)) out.push_back(py::cast<std::int64_t>(item));
  return out;
}

// A method's *args: x.reshape(2, 3) or x.reshape((2, 3)); x.transpose(1, 0) or ((1, 0)).
py::object unpack_single_sequence(const py::args& args) {
  if (args.size() == 1 && !PyIndex_Check(args[0].ptr())) return py::reinterpret_borrow<py::object>(args[0]);
  return std::move(args);
}

std::optional<std::int64_t> optional_index(const py::handle& h) {
  if (h.is_none()) return std::nullopt;
  return py::cast<std::int64_t>(py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr())));
}

Slice slice_from(const py::handle& item) {
  if (PyIndex_Check(item.ptr())) {
    return Slice::index(py::cast<std::int64_t>(py::reinterpret_steal<py::object>(PyNumber_Index(item.ptr()))));
  }
  if (PySlice_Check(item.ptr())) {
    const py::object start = item.attr("start"), stop = item.attr("stop"), step = item.attr("step");
    return Slice::range(optional_index(start), optional_index(stop), step.is_none() ? 1 : *optional_index(step));
  }
  if (item.is_none()) {
    throw py::index_error("xgrad indexing does not add axes (None / np.newaxis): use reshape");
  }
  throw py::index_error("xgrad indexing takes ints, slices and ... (NumPy's basic indexing), got " +
                        py::repr(item).cast<std::string>() + "; use xgrad.take(x, indices, axis) to gather");
}

// x[index] as Slice specs: an int, a slice, ..., or a tuple of them.
std::vector<Slice> specs_from(const py::handle& index, const Shape& shape) {
  const std::size_t rank = shape.size();
  std::vector<py::handle> items;
  if (PyTuple_Check(index.ptr())) {
    for (const py::handle item : py::reinterpret_borrow<py::tuple>(index)) items.push_back(item);
  } else {
    items.push_back(index);
  }
  std::size_t ellipses = 0;
  for (const py::handle item : items) ellipses += item.is(py::ellipsis()) ? 1 : 0;
  if (ellipses > 1) throw py::index_error("an index can only have a single ellipsis ('...')");
  std::vector<Slice> specs;
  const std::size_t explicit_axes = items.size() - ellipses;
  if (explicit_axes > rank) {
    throw py::index_error("too many indices for tensor: tensor is " + std::to_string(rank) + "-dimensional, but " +
                          std::to_string(explicit_axes) + " were indexed");
  }
  for (const py::handle item : items) {
    if (item.is(py::ellipsis())) {
      for (std::size_t i = explicit_axes; i < rank; ++i) specs.push_back(Slice::all());
    } else {
      specs.push_back(slice_from(item));
    }
  }
  // An integer outside the axis is an IndexError, as in NumPy (and what ends a for loop
  // over the tensor's first axis).
  for (std::size_t k = 0; k < specs.size(); ++k) {
    if (!specs[k].is_index()) continue;
    const std::int64_t i = *specs[k].start();
    const auto n = static_cast<std::int64_t>(shape[k]);
    if (i < -n || i >= n) {
      throw py::index_error("index " + std::to_string(i) + " is out of bounds for axis " + std::to_string(k) +
                            " with size " + std::to_string(n));
    }
  }
  return specs;
}

PyTensor index_tensor(Tape* t, const PyTensor& x, const py::object& index) {
  // A single integer array or list gathers along axis 0, as NumPy's x[[2, 0]] does.
  if (!PyTuple_Check(index.ptr()) && !PyIndex_Check(index.ptr()) && !PySlice_Check(index.ptr()) &&
      !index.is(py::ellipsis()) && !index.is_none()) {
    Tape& tape = pick(t, "take", {&x.tensor});
    return op_result(take(tape, x.tensor, token_ids_from(index), 0), tape);
  }
  Tape& tape = pick(t, "slice", {&x.tensor});
  return op_result(slice(tape, x.tensor, specs_from(index, x.tensor.shape())), tape);
}

std::vector<PyTensor> results(std::vector<Tensor> ts, Tape& tape) {
  std::vector<PyTensor> out;
  out.reserve(ts.size());
  for (Tensor& t : ts) out.push_back(op_result(std::move(t), tape));
  return out;
}

// A Python callable that may be released without the GIL held (a tape destroyed by C++).
struct HeldCallable {
  py::object f;
  explicit HeldCallable(py::object callable) : f(std::move(callable)) {}
  ~HeldCallable() {
    py::gil_scoped_acquire gil;
    f = py::object();
  }
};

PyTensor record_python_op(Tape* t, const std::string& name, const std::vector<PyTensor>& inputs,
                          const py::object& value, const py::object& backward) {
  if (!PyCallable_Check(backward.ptr())) {
    throw py::type_error("record: backward must be callable as backward(y, dy), got " +
                         py::repr(backward).cast<std::string>());
  }
  std::vector<Tensor> ins = tensors_of(inputs);
  Array out = array_from(value, name + ": the forward value");
  Tape& tape = t ? *t : tape_for_py(name.c_str(), ins);
  auto held = std::make_shared<HeldCallable>(backward);
  Tape::Backward fn = [held](const Array& y, const Array& dy) {
    py::gil_scoped_acquire gil;
    const Shape shape(y.shape().begin(), y.shape().end());
    held->f(copy_to_numpy(y.data(), shape), copy_to_numpy(dy.data(), shape));
  };
  return op_result(tape.record(name, std::move(ins), std::move(out), std::move(fn)), tape);
}

// ---- The op bodies, each f(Tape* explicit_or_null, ...) ----

using Unary = Tensor (*)(Tape&, const Tensor&);

struct UnaryOp {
  const char* name;
  Unary f;
  PyTensor operator()(Tape* t, const PyTensor& x) const {
    Tape& tape = pick(t, name, {&x.tensor});
    return op_result(f(tape, x.tensor), tape);
  }
};

const UnaryOp unary_ops[] = {
    {"neg", static_cast<Unary>(&neg)},         {"exp", static_cast<Unary>(&exp)},
    {"log", static_cast<Unary>(&log)},         {"sqrt", static_cast<Unary>(&sqrt)},
    {"relu", static_cast<Unary>(&relu)},       {"sigmoid", static_cast<Unary>(&sigmoid)},
    {"abs", static_cast<Unary>(&abs)},         {"tanh", static_cast<Unary>(&tanh)},
    {"gelu", static_cast<Unary>(&gelu)},       {"mean_square", static_cast<Unary>(&mean_square)},
};

const UnaryOp& unary(const char* name) {
  for (const UnaryOp& op : unary_ops) {
    if (std::string(op.name) == name) return op;
  }
  throw std::logic_error(std::string("no unary op ") + name);
}

#define XGRAD_BINARY(NAME)                                                                             \
  [](Tape* t, const py::object& a, const py::object& b) {                                             \
    return binary(#NAME, [](Tape& tape, const auto& x, const auto& y) { return NAME(tape, x, y); }, t, a, b); \
  }

const auto add_op = XGRAD_BINARY(add);
const auto sub_op = XGRAD_BINARY(sub);
const auto mul_op = XGRAD_BINARY(mul);
const auto div_op = XGRAD_BINARY(div);
const auto pow_op = XGRAD_BINARY(pow);
const auto maximum_op = XGRAD_BINARY(maximum);
const auto minimum_op = XGRAD_BINARY(minimum);
#undef XGRAD_BINARY

const auto matmul_op = [](Tape* t, const py::object& a, const py::object& b) {
  Operand x(a, "matmul"), w(b, "matmul");
  if (!x.tensor) x.make_tensor();
  if (!w.tensor) w.make_tensor();
  Tape& tape = pick(t, "matmul", {x.tensor, w.tensor});
  return op_result(matmul(tape, *x.tensor, *w.tensor), tape);
};

const auto sum_op = [](Tape* t, const PyTensor& x, const py::object& axis, bool keepdims) {
  return reduce("sum", &sum, &sum, t, x, axis, keepdims);
};
const auto mean_op = [](Tape* t, const PyTensor& x, const py::object& axis, bool keepdims) {
  return reduce("mean", &mean, &mean, t, x, axis, keepdims);
};
const auto max_op = [](Tape* t, const PyTensor& x, const py::object& axis, bool keepdims) {
  return reduce("max", &max, nullptr, t, x, axis, keepdims);
};
const auto logsumexp_op = [](Tape* t, const PyTensor& x, const py::object& axis, bool keepdims) {
  return reduce("logsumexp", &logsumexp, nullptr, t, x, axis, keepdims);
};
const auto softmax_op = [](Tape* t, const PyTensor& x, std::int64_t axis) {
  Tape& tape = pick(t, "softmax", {&x.tensor});
  return op_result(softmax(tape, x.tensor, axis), tape);
};
const auto log_softmax_op = [](Tape* t, const PyTensor& x, std::int64_t axis) {
  Tape& tape = pick(t, "log_softmax", {&x.tensor});
  return op_result(log_softmax(tape, x.tensor, axis), tape);
};
const auto reshape_op = [](Tape* t, const PyTensor& x, const py::object& shape) {
  Tape& tape = pick(t, "reshape", {&x.tensor});
  return op_result(reshape(tape, x.tensor, extents_from(shape)), tape);
};
const auto transpose_op = [](Tape* t, const PyTensor& x, const py::object& axes) {
  Tape& tape = pick(t, "transpose", {&x.tensor});
  if (axes.is_none()) return op_result(transpose(tape, x.tensor), tape);
  return op_result(transpose(tape, x.tensor, axes_from(axes, 0)), tape);
};

}  // namespace

void bind_ops_and_operators(py::module_& m, py::class_<PyTensor>& tensor, py::class_<Tape>& tape_class) {
  // ---- `with` blocks ----
  // The tape of the block that closed last on each thread stays alive until the next one
  // closes, so that `with xgrad.Tape(): loss = f()` then `loss.backward()` finds it (an op's
  // output holds its tape only weakly; see PyTensor).
  const py::object thread_state = py::module_::import("threading").attr("local")();
  m.attr("_thread_state") = thread_state;
  tape_class
      .def("__enter__",
           [](const py::object& self) {
             Tape& tape = self.cast<Tape&>();
             open_scopes.push_back(OpenScope{self, &tape, std::make_unique<TapeScope>(tape)});
             return self;
           },
           "Makes this tape current on this thread: operators and op functions inside the\n"
           "`with` block record on it. Blocks nest; the innermost is current.")
      .def("__exit__",
           [thread_state](const py::object& self, const py::args&) {
             if (open_scopes.empty() || !open_scopes.back().py_tape.is(self)) {
               throw std::runtime_error("Tape.__exit__: this tape's `with` block is not the innermost open one on this thread");
             }
             open_scopes.pop_back();
             thread_state.attr("last_tape") = self;
             return false;
           })
      .def("record",
           [](Tape& tape, const std::string& name, const std::vector<PyTensor>& inputs, const py::object& value,
              const py::object& backward) { return record_python_op(&tape, name, inputs, value, backward); },
           "name"_a, "inputs"_a, "value"_a, "backward"_a,
           "An op written in Python: returns a tensor holding value (an array, the op's forward\n"
           "result computed from the inputs' .value) and, when an input requires a gradient,\n"
           "records backward(y, dy) to run in the backward pass: y is the output's value and dy\n"
           "its gradient (float32 NumPy copies, y's shape); it adds each input's share with\n"
           "xgrad.accumulate_grad(x, contribution). See xgrad.Function for the class form.");
  m.def("current_tape", &current_py_tape,
        "The tape of the innermost `with xgrad.Tape()` block open on this thread, or None.");
  def_both(m, "record",
           "record(name, inputs, value, backward): Tape.record on the current tape (outside every\n"
           "`with` block, inputs that require a gradient raise RuntimeError).",
           [](Tape* t, const std::string& name, const std::vector<PyTensor>& inputs, const py::object& value,
              const py::object& backward) { return record_python_op(t, name, inputs, value, backward); },
           "name"_a, "inputs"_a, "value"_a, "backward"_a);
  m.def(
      "accumulate_grad",
      [](const PyTensor& x, const py::object& contribution) {
        accumulate_grad(x.tensor, array_from(contribution, "accumulate_grad: contribution"));
      },
      "x"_a, "contribution"_a,
      "grad(x) += contribution, for the backward of an op written in Python (core/op.hpp's\n"
      "accumulate_grad): contribution must have exactly x's shape (ValueError naming both\n"
      "shapes otherwise, checked even when x requires no gradient); adds nothing when x\n"
      "requires no gradient. Gradients always accumulate: an input used twice gets both shares.");

  // ---- Module functions ----
  for (const UnaryOp& op : unary_ops) {
    def_both(m, op.name, op_doc(op.name, std::string(op.name) + "(x)"), op, "x"_a);
  }
  const std::pair<const char*, PyTensor (*)(Tape*, const py::object&, const py::object&)> binaries[] = {
      {"add", add_op}, {"sub", sub_op}, {"mul", mul_op}, {"div", div_op},
      {"pow", pow_op}, {"maximum", maximum_op}, {"minimum", minimum_op},
  };
  for (const auto& [name, f] : binaries) {
    def_both(m, name,
             op_doc(name, std::string(name) +
                              "(a, b): a and b are Tensors, Python numbers (the float forms) or arrays\n"
                              "(constants); NumPy broadcasting."),
             [f = f](Tape* t, const py::object& a, const py::object& b) { return f(t, a, b); }, "a"_a, "b"_a);
  }
  def_both(m, "matmul", op_doc("matmul", "matmul(x, w): x @ w (the @ operator)."), matmul_op, "x"_a, "w"_a);
  def_both(m, "matmul_transposed", op_doc("matmul_transposed", "matmul_transposed(x, w): x @ w^T."),
           [](Tape* t, const PyTensor& x, const PyTensor& w) {
             Tape& tape = pick(t, "matmul_transposed", {&x.tensor, &w.tensor});
             return op_result(matmul_transposed(tape, x.tensor, w.tensor), tape);
           },
           "x"_a, "w"_a);
  def_both(m, "linear", op_doc("linear", "linear(x, w, b): x @ w + b as one op."),
           [](Tape* t, const PyTensor& x, const PyTensor& w, const PyTensor& b) {
             Tape& tape = pick(t, "linear", {&x.tensor, &w.tensor, &b.tensor});
             return op_result(linear(tape, x.tensor, w.tensor, b.tensor), tape);
           },
           "x"_a, "w"_a, "bias"_a);
  def_both(m, "add_bias", op_doc("add_bias", "add_bias(x, bias)"),
           [](Tape* t, const PyTensor& x, const PyTensor& b) {
             Tape& tape = pick(t, "add_bias", {&x.tensor, &b.tensor});
             return op_result(add_bias(tape, x.tensor, b.tensor), tape);
           },
           "x"_a, "bias"_a);
  def_both(m, "add_broadcast", op_doc("add_broadcast", "add_broadcast(x, rows)"),
           [](Tape* t, const PyTensor& x, const PyTensor& rows) {
             Tape& tape = pick(t, "add_broadcast", {&x.tensor, &rows.tensor});
             return op_result(add_broadcast(tape, x.tensor, rows.tensor), tape);
           },
           "x"_a, "rows"_a);
  def_both(m, "embedding_lookup",
           op_doc("embedding_lookup", "embedding_lookup(table, ids, padding_idx=None): ids any integer array-like."),
           [](Tape* t, const PyTensor& table, const py::object& ids, std::optional<std::int32_t> padding_idx) {
             const TokenIds checked = token_ids_from(ids);
             Tape& tape = pick(t, "embedding_lookup", {&table.tensor});
             return op_result(embedding_lookup(tape, table.tensor, checked, padding_idx), tape);
           },
           "table"_a, "ids"_a, "padding_idx"_a = py::none());
  const char* axis_doc =
      "(x, axis=None, keepdims=False): NumPy's arguments; axis is None (every axis), an int or a\n"
      "tuple of ints.";
  def_both(m, "sum", op_doc("sum", std::string("sum") + axis_doc), sum_op, "x"_a, "axis"_a = py::none(),
           "keepdims"_a = false);
  def_both(m, "mean", op_doc("mean", std::string("mean") + axis_doc), mean_op, "x"_a, "axis"_a = py::none(),
           "keepdims"_a = false);
  def_both(m, "max", op_doc("max", std::string("max") + axis_doc), max_op, "x"_a, "axis"_a = py::none(),
           "keepdims"_a = false);
  def_both(m, "logsumexp", op_doc("logsumexp", std::string("logsumexp") + axis_doc), logsumexp_op, "x"_a,
           "axis"_a = py::none(), "keepdims"_a = false);
  def_both(m, "softmax", op_doc("softmax", "softmax(x, axis=-1)"), softmax_op, "x"_a, "axis"_a = -1);
  def_both(m, "log_softmax", op_doc("log_softmax", "log_softmax(x, axis=-1)"), log_softmax_op, "x"_a,
           "axis"_a = -1);
  def_both(m, "softmax_cross_entropy",
           op_doc("softmax_cross_entropy",
                  "softmax_cross_entropy(logits, targets, ignore_index=None): targets any integer array-like."),
           [](Tape* t, const PyTensor& logits, const py::object& targets, std::optional<std::int32_t> ignore_index) {
             const TokenIds checked = token_ids_from(targets);
             Tape& tape = pick(t, "softmax_cross_entropy", {&logits.tensor});
             return op_result(softmax_cross_entropy(tape, logits.tensor, checked, ignore_index), tape);
           },
           "logits"_a, "targets"_a, "ignore_index"_a = py::none());
  def_both(m, "layer_norm", op_doc("layer_norm", "layer_norm(x, weight, bias, eps=1e-5)"),
           [](Tape* t, const PyTensor& x, const PyTensor& w, const PyTensor& b, float eps) {
             Tape& tape = pick(t, "layer_norm", {&x.tensor, &w.tensor, &b.tensor});
             return op_result(layer_norm(tape, x.tensor, w.tensor, b.tensor, eps), tape);
           },
           "x"_a, "weight"_a, "bias"_a, "eps"_a = 1e-5f);
  def_both(m, "causal_self_attention",
           op_doc("causal_self_attention",
                  "causal_self_attention(qkv, heads, attention_dropout=0.0, key=None): key (an\n"
                  "xgrad.random.Key) is required when attention_dropout > 0."),
           [](Tape* t, const PyTensor& qkv, std::size_t heads, float rate, std::optional<Key> key) {
             Tape& tape = pick(t, "causal_self_attention", {&qkv.tensor});
             if (!key) {
               if (rate != 0.0f) {
                 throw py::value_error("causal_self_attention: attention_dropout " + std::to_string(rate) +
                                       " needs a key (xgrad.random.Key)");
               }
               return op_result(causal_self_attention(tape, qkv.tensor, heads), tape);
             }
             return op_result(causal_self_attention(tape, qkv.tensor, heads, rate, *key), tape);
           },
           "qkv"_a, "heads"_a, "attention_dropout"_a = 0.0f, "key"_a = py::none());
  def_both(m, "dropout", op_doc("dropout", "dropout(x, rate, key): key an xgrad.random.Key."),
           [](Tape* t, const PyTensor& x, float rate, const Key& key) {
             Tape& tape = pick(t, "dropout", {&x.tensor});
             return op_result(dropout(tape, x.tensor, rate, key), tape);
           },
           "x"_a, "rate"_a, "key"_a);
  def_both(m, "reshape",
           op_doc("reshape", "reshape(x, shape): shape a tuple of ints, at most one of them -1 (NumPy's)."),
           reshape_op, "x"_a, "shape"_a);
  def_both(m, "transpose",
           op_doc("transpose", "transpose(x, axes=None): NumPy's; None reverses the axes (x.T)."), transpose_op,
           "x"_a, "axes"_a = py::none());
  def_both(m, "permute", op_doc("permute", "permute(x, axes)"),
           [](Tape* t, const PyTensor& x, const py::object& axes) {
             Tape& tape = pick(t, "permute", {&x.tensor});
             return op_result(permute(tape, x.tensor, axes_from(axes, 0)), tape);
           },
           "x"_a, "axes"_a);
  def_both(m, "slice",
           op_doc("slice",
                  "slice(x, index): x[index] (what the [] operator calls), index an int, a slice, ...\n"
                  "or a tuple of them, e.g. xgrad.slice(x, (slice(1, 3), -1)) is x[1:3, -1]. A single\n"
                  "integer list or array gathers along axis 0 (xgrad.take)."),
           [](Tape* t, const PyTensor& x, const py::object& index) { return index_tensor(t, x, index); }, "x"_a,
           "index"_a);
  def_both(m, "concat", op_doc("concat", "concat(tensors, axis=0): np.concatenate."),
           [](Tape* t, const std::vector<PyTensor>& xs, std::int64_t axis) {
             const std::vector<Tensor> ins = tensors_of(xs);
             Tape& tape = t ? *t : tape_for_py("concat", ins);
             return op_result(concat(tape, ins, axis), tape);
           },
           "tensors"_a, "axis"_a = 0);
  def_both(m, "stack", op_doc("stack", "stack(tensors, axis=0): np.stack."),
           [](Tape* t, const std::vector<PyTensor>& xs, std::int64_t axis) {
             const std::vector<Tensor> ins = tensors_of(xs);
             Tape& tape = t ? *t : tape_for_py("stack", ins);
             return op_result(stack(tape, ins, axis), tape);
           },
           "tensors"_a, "axis"_a = 0);
  def_both(m, "split", op_doc("split", "split(x, sections, axis=0) -> list of tensors: np.split with a count."),
           [](Tape* t, const PyTensor& x, std::size_t sections, std::int64_t axis) {
             Tape& tape = pick(t, "split", {&x.tensor});
             return results(split(tape, x.tensor, sections, axis), tape);
           },
           "x"_a, "sections"_a, "axis"_a = 0);
  // jax.random.split(key, num) was at the top level before the split op: a Key first still
  // means it (an overload of the same function).
  const py::object random_split = m.attr("random").attr("split");
  m.def(
      "split",
      [random_split](const Key& key, const py::object& num, const py::object& layout) {
        return random_split(key, num, layout);
      },
      "key"_a, "num"_a = 2, "layout"_a = py::none(), "With a Key: xgrad.random.split (jax.random.split).");
  def_both(m, "split_sizes",
           op_doc("split_sizes", "split_sizes(x, sizes, axis=0) -> list of tensors: torch.split with sizes."),
           [](Tape* t, const PyTensor& x, const std::vector<std::size_t>& sizes, std::int64_t axis) {
             Tape& tape = pick(t, "split_sizes", {&x.tensor});
             return results(split_sizes(tape, x.tensor, sizes, axis), tape);
           },
           "x"_a, "sizes"_a, "axis"_a = 0);
  def_both(m, "broadcast_to", op_doc("broadcast_to", "broadcast_to(x, shape)"),
           [](Tape* t, const PyTensor& x, const Shape& shape) {
             Tape& tape = pick(t, "broadcast_to", {&x.tensor});
             return op_result(broadcast_to(tape, x.tensor, shape), tape);
           },
           "x"_a, "shape"_a);
  def_both(m, "take",
           op_doc("take", "take(x, indices, axis=None): np.take; axis=None takes from the flattened x."),
           [](Tape* t, const PyTensor& x, const py::object& indices, std::optional<std::int64_t> axis) {
             const TokenIds checked = token_ids_from(indices);
             Tape& tape = pick(t, "take", {&x.tensor});
             if (!axis) {
               return op_result(take(tape, reshape(tape, x.tensor, std::vector<std::int64_t>{-1}), checked, 0), tape);
             }
             return op_result(take(tape, x.tensor, checked, *axis), tape);
           },
           "x"_a, "indices"_a, "axis"_a = py::none());

  // ---- Operators and methods ----
  const auto method_doc = [](const char* op, const std::string& python) { return op_doc(op, python); };
  tensor.attr("__array_ufunc__") = py::none();  // `np.float32(2) * x` calls Tensor.__rmul__
  tensor
      .def("__add__", [](const py::object& a, const py::object& b) { return add_op(nullptr, a, b); })
      .def("__radd__", [](const py::object& a, const py::object& b) { return add_op(nullptr, b, a); })
      .def("__sub__", [](const py::object& a, const py::object& b) { return sub_op(nullptr, a, b); })
      .def("__rsub__", [](const py::object& a, const py::object& b) { return sub_op(nullptr, b, a); })
      .def("__mul__", [](const py::object& a, const py::object& b) { return mul_op(nullptr, a, b); })
      .def("__rmul__", [](const py::object& a, const py::object& b) { return mul_op(nullptr, b, a); })
      .def("__truediv__", [](const py::object& a, const py::object& b) { return div_op(nullptr, a, b); })
      .def("__rtruediv__", [](const py::object& a, const py::object& b) { return div_op(nullptr, b, a); })
      .def("__pow__", [](const py::object& a, const py::object& b) { return pow_op(nullptr, a, b); })
      .def("__rpow__", [](const py::object& a, const py::object& b) { return pow_op(nullptr, b, a); })
      .def("__matmul__", [](const py::object& a, const py::object& b) { return matmul_op(nullptr, a, b); })
      .def("__rmatmul__", [](const py::object& a, const py::object& b) { return matmul_op(nullptr, b, a); })
      .def("__neg__", [](const PyTensor& x) { return unary("neg")(nullptr, x); })
      .def("__getitem__", [](const PyTensor& x, const py::object& index) { return index_tensor(nullptr, x, index); },
           method_doc("slice", "x[index]: NumPy's basic indexing (ints, slices, ...), recorded as a slice op."));
  for (const char* name : {"relu", "tanh", "exp", "log", "sigmoid", "sqrt", "abs", "gelu"}) {
    const UnaryOp op = unary(name);
    tensor.def(name, [op](const PyTensor& x) { return op(nullptr, x); },
               method_doc(name, "x." + std::string(name) + "(): xgrad." + name + "(x)."));
  }
  tensor
      .def("sum", [](const PyTensor& x, const py::object& axis, bool k) { return sum_op(nullptr, x, axis, k); },
           "axis"_a = py::none(), "keepdims"_a = false, method_doc("sum", "x.sum(axis=None, keepdims=False)"))
      .def("mean", [](const PyTensor& x, const py::object& axis, bool k) { return mean_op(nullptr, x, axis, k); },
           "axis"_a = py::none(), "keepdims"_a = false, method_doc("mean", "x.mean(axis=None, keepdims=False)"))
      .def("max", [](const PyTensor& x, const py::object& axis, bool k) { return max_op(nullptr, x, axis, k); },
           "axis"_a = py::none(), "keepdims"_a = false, method_doc("max", "x.max(axis=None, keepdims=False)"))
      .def("logsumexp",
           [](const PyTensor& x, const py::object& axis, bool k) { return logsumexp_op(nullptr, x, axis, k); },
           "axis"_a = py::none(), "keepdims"_a = false,
           method_doc("logsumexp", "x.logsumexp(axis=None, keepdims=False)"))
      .def("softmax", [](const PyTensor& x, std::int64_t axis) { return softmax_op(nullptr, x, axis); },
           "axis"_a = -1, method_doc("softmax", "x.softmax(axis=-1)"))
      .def("log_softmax", [](const PyTensor& x, std::int64_t axis) { return log_softmax_op(nullptr, x, axis); },
           "axis"_a = -1, method_doc("log_softmax", "x.log_softmax(axis=-1)"))
      .def("reshape",
           [](const PyTensor& x, const py::args& shape) { return reshape_op(nullptr, x, unpack_single_sequence(shape)); },
           method_doc("reshape", "x.reshape(*shape): x.reshape(2, -1) or x.reshape((2, -1)), at most one -1."))
      .def("transpose",
           [](const PyTensor& x, const py::args& axes) {
             return transpose_op(nullptr, x, axes.size() == 0 ? py::object(py::none()) : unpack_single_sequence(axes));
           },
           method_doc("transpose", "x.transpose(*axes): NumPy's; no axes reverses them."))
      .def_property_readonly("T", [](const PyTensor& x) { return transpose_op(nullptr, x, py::none()); },
                             "The axes reversed (a 2-D transpose), as NumPy's .T.")
      .def("item",
           [](const PyTensor& x) {
             if (x.tensor.size() != 1) {
               throw py::value_error("item(): the tensor has shape " + shape_string(x.tensor.shape()) + " (" +
                                     std::to_string(x.tensor.size()) + " elements); item() needs exactly one");
             }
             return static_cast<double>(*x.tensor.value().data());
           },
           "The one element of a tensor of size 1 as a Python float (ValueError otherwise).");
}

}  // namespace xgrad::python
