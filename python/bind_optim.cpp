// xgrad.optim from Python: SGD (bound with the engine, re-exported here, state added),
// AdamW with parameter groups, clip_grad_norm and the learning-rate schedules. Python
// arguments are checked here only for their type and for fitting float32; the values
// themselves are judged by the C++ constructors, whose std::invalid_argument is a ValueError.
#include <pybind11/stl.h>

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "python/convert.hpp"

using namespace pybind11::literals;

namespace xgrad::python {
namespace {

std::string repr_of(const py::handle& value) {
  std::string text = py::repr(value).cast<std::string>();
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

// A Python real number (int, float, NumPy scalar; not bool, not str) as float32: TypeError
// for anything else, ValueError when a finite value overflows float32 (it would become an
// inf the C++ check would then report as if the caller had written inf).
float float_from(const py::handle& value, const std::string& what) {
  if (PyBool_Check(value.ptr()) || !PyNumber_Check(value.ptr()) || PyComplex_Check(value.ptr()) ||
      py::isinstance(value, py::module_::import("numpy").attr("complexfloating"))) {
    throw py::type_error(what + " must be a real number, got " + repr_of(value));
  }
  const double d = py::float_(py::reinterpret_borrow<py::object>(value)).cast<double>();
  const auto f = static_cast<float>(d);
  if (std::isfinite(d) && !std::isfinite(f)) {
    throw py::value_error(what + " " + repr_of(value) + " does not fit float32");
  }
  return f;
}

// A Python integer (int or NumPy integer, not bool, not 2.0) that is >= 0.
std::size_t count_from(const py::handle& value, const std::string& what) {
  if (PyBool_Check(value.ptr()) || !PyIndex_Check(value.ptr())) {
    throw py::type_error(what + " must be an integer, got " + repr_of(value));
  }
  const py::int_ as_int = py::reinterpret_steal<py::int_>(PyNumber_Index(value.ptr()));
  if (py::int_(0) > as_int) throw py::value_error(what + " must be >= 0, got " + repr_of(value));
  const unsigned long long v = PyLong_AsUnsignedLongLong(as_int.ptr());
  if ((v == static_cast<unsigned long long>(-1) && PyErr_Occurred()) || v > std::numeric_limits<std::size_t>::max()) {
    PyErr_Clear();
    throw py::value_error(what + " " + repr_of(value) + " is too large");
  }
  return static_cast<std::size_t>(v);
}

// An iterable of xgrad.Tensor (not a single tensor, not a string) as tensors.
std::vector<Tensor> tensors_from(const py::handle& items, const std::string& what) {
  if (py::isinstance<PyTensor>(items) || py::isinstance<py::str>(items) || !py::isinstance<py::iterable>(items)) {
    throw py::type_error(what + " must be a list of xgrad.Tensor, got " + repr_of(items));
  }
  std::vector<PyTensor> tensors;
  std::size_t k = 0;
  for (const py::handle item : items) {
    if (!py::isinstance<PyTensor>(item)) {
      throw py::type_error(what + "[" + std::to_string(k) + "] must be an xgrad.Tensor, got " + repr_of(item));
    }
    tensors.push_back(item.cast<PyTensor>());
    ++k;
  }
  require_distinct(tensors, what);
  return tensors_of(tensors);
}

// PyTorch's parameter groups: [{"params": [...], "weight_decay": 0.1}, ...]. Only the
// weight decay is per group in xgrad (optim/adamw.hpp); any other key is refused rather
// than silently ignored. A group without "weight_decay" gets the constructor's.
std::vector<optim::ParameterGroup> groups_from(const py::list& groups, float default_weight_decay) {
  std::vector<optim::ParameterGroup> out;
  std::vector<PyTensor> all;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const std::string where = "AdamW: params[" + std::to_string(g) + "]";
    if (!py::isinstance<py::dict>(groups[g])) {
      throw py::type_error(where + " must be a dict (a parameter group) like the other items, got " + repr_of(groups[g]));
    }
    const auto group = groups[g].cast<py::dict>();
    for (const auto item : group) {
      const std::string key = py::str(item.first).cast<std::string>();
      if (key != "params" && key != "weight_decay") {
        throw py::value_error(where + " has the key '" + key +
                              "': a group sets only 'params' and 'weight_decay' (lr, betas and eps are the optimiser's)");
      }
    }
    if (!group.contains("params")) throw py::value_error(where + " has no 'params'");
    optim::ParameterGroup converted{tensors_from(group["params"], where + "['params']"), default_weight_decay};
    if (group.contains("weight_decay")) converted.weight_decay = float_from(group["weight_decay"], where + "['weight_decay']");
    for (const Tensor& t : converted.parameters) all.push_back(leaf(t));
    out.push_back(std::move(converted));
  }
  require_distinct(all, "AdamW: parameters (over all groups)");
  return out;
}

py::dict state_to_python(const optim::OptimizerState& state) {
  py::dict arrays;
  for (const auto& [name, array] : state.arrays) arrays[py::str(name)] = copy_to_numpy(array.data(), shape_of(array));
  py::dict out;
  out["kind"] = state.kind;
  out["step"] = state.step;
  out["arrays"] = arrays;
  return out;
}

optim::OptimizerState state_from_python(const py::handle& value, const std::string& who) {
  if (!py::isinstance<py::dict>(value)) {
    throw py::type_error(who + ": state must be a dict as state() returns, got " + repr_of(value));
  }
  const auto d = value.cast<py::dict>();
  for (const char* key : {"kind", "step", "arrays"}) {
    if (!d.contains(key)) throw py::value_error(who + ": state has no '" + key + "'");
  }
  optim::OptimizerState state;
  if (!py::isinstance<py::str>(d["kind"])) throw py::type_error(who + ": state['kind'] must be a str, got " + repr_of(d["kind"]));
  state.kind = d["kind"].cast<std::string>();
  state.step = count_from(d["step"], who + ": state['step']");
  if (!py::isinstance<py::dict>(d["arrays"])) {
    throw py::type_error(who + ": state['arrays'] must be a dict of name -> array, got " + repr_of(d["arrays"]));
  }
  for (const auto item : d["arrays"].cast<py::dict>()) {
    if (!py::isinstance<py::str>(item.first)) {
      throw py::type_error(who + ": state['arrays'] has a key that is not a str: " + repr_of(item.first));
    }
    const std::string name = item.first.cast<std::string>();
    state.arrays.emplace_back(name, array_from(item.second, who + ": state['arrays']['" + name + "']"));
  }
  return state;
}

template <class Optimizer, class Class>
void def_state(Class& c, const char* who, const char* state_doc) {
  c.def("state", [](const Optimizer& o) { return state_to_python(o.state()); }, state_doc)
      .def(
          "load_state",
          [who](Optimizer& o, const py::handle& state) { o.load_state(state_from_python(state, who)); }, "state"_a,
          "Restores a state() dict (its arrays as any float array-likes). Everything is checked\n"
          "first (kind, names, shapes, finite values); ValueError or TypeError naming the first\n"
          "problem, and then nothing has changed.")
      .def_property_readonly("steps", [](const Optimizer& o) { return o.steps(); }, "step() calls so far (or loaded).");
}

void bind_adamw(py::module_& m) {
  py::class_<optim::AdamW> c(m, "AdamW", R"(AdamW (PyTorch 1.13's torch.optim.AdamW, float32) for dense and row-sparse gradients.
A row-sparse gradient's step is lazy, as torch.optim.SparseAdam's: only the stored rows'
values, moments and weight decay change, so its cost follows the rows, not V x D.

AdamW(params, lr, *, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01). Per step t, per element:
  p = p * (1 - lr * wd); m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
  p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
in PyTorch's operation order, giving PyTorch's bits for the same decimal options.

params is a list of tensors or, as in PyTorch, a list of parameter groups
{"params": [...], "weight_decay": wd}. With a plain list, weight_decay applies only to
parameters of 2 or more dimensions (nanoGPT's rule; biases and norms get none), unlike
PyTorch, which decays every parameter: pass groups for PyTorch's behaviour. A group's
weight_decay applies to all of its parameters (default: the weight_decay argument); lr,
betas and eps are the optimiser's, not per group.

The step count t is the optimiser's, shared by every parameter: one with no gradient in a
step is left as it is but the count still advances. ValueError for an lr, eps or weight
decay that is negative or not finite, a beta outside [0, 1), a parameter that does not
require a gradient, a parameter listed twice, and a name that is empty or used twice
(names key the state).)");
  c.def(py::init([](const py::handle& params, const py::handle& lr, const py::handle& betas, const py::handle& eps,
                    const py::handle& weight_decay) {
          optim::AdamWOptions options;
          const float rate = float_from(lr, "AdamW: lr");
          if (py::isinstance<py::str>(betas) || !py::isinstance<py::sequence>(betas) || py::len(betas) != 2) {
            throw py::type_error("AdamW: betas must be a pair (beta1, beta2), got " + repr_of(betas));
          }
          const auto pair = betas.cast<py::sequence>();
          options.beta1 = float_from(pair[0], "AdamW: betas[0]");
          options.beta2 = float_from(pair[1], "AdamW: betas[1]");
          options.eps = float_from(eps, "AdamW: eps");
          options.weight_decay = float_from(weight_decay, "AdamW: weight_decay");
          if (py::isinstance<py::list>(params) || py::isinstance<py::tuple>(params)) {
            const py::list items(py::reinterpret_borrow<py::object>(params));
            if (items.size() > 0 && py::isinstance<py::dict>(items[0])) {
              return optim::AdamW(groups_from(items, options.weight_decay), rate, options);
            }
          }
          return optim::AdamW(tensors_from(params, "AdamW: params"), rate, options);
        }),
        "params"_a, "lr"_a, py::kw_only(), "betas"_a = py::make_tuple(0.9, 0.999), "eps"_a = 1e-8,
        "weight_decay"_a = 0.01)
      .def("step", &optim::AdamW::step,
           "One update from the current gradients; parameters with no gradient are left as they are.")
      .def("zero_grad", &optim::AdamW::zero_grad, "Clears every parameter's gradient; O(rows touched) for row-sparse ones.")
      .def_property(
          "lr", &optim::AdamW::lr, [](optim::AdamW& o, const py::handle& lr) { o.set_lr(float_from(lr, "AdamW: lr")); },
          "The learning rate of the next step (a schedule sets it before each step).")
      .def(
          "weight_decay",
          [](const optim::AdamW& o, const py::handle& index) { return o.weight_decay(count_from(index, "AdamW.weight_decay: index")); },
          "index"_a, "The weight decay the parameter at index (in construction order) gets.");
  def_state<optim::AdamW>(c, "AdamW.load_state",
                          "{'kind': 'adamw', 'step': steps, 'arrays': {'<name>.exp_avg': m, '<name>.exp_avg_sq': v, ...}}\n"
                          "in parameter order; the arrays are copies.");
}

void extend_sgd(py::module_& m, py::module_& optim_module) {
  // SGD is bound with the engine (python/bind_engine.cpp); its checkpoint methods are added
  // to that same class here, so xgrad.SGD and xgrad.optim.SGD are one type.
  auto c = py::reinterpret_borrow<py::class_<optim::SGD>>(m.attr("SGD"));
  def_state<optim::SGD>(c, "SGD.load_state",
                        "{'kind': 'sgd', 'step': steps, 'arrays': {'<name>.velocity': v, ...}} (no arrays without\n"
                        "momentum); with momentum every parameter needs a unique non-empty name (ValueError).");
  optim_module.attr("SGD") = c;
}

void bind_clip(py::module_& m) {
  m.def(
      "clip_grad_norm",
      [](const py::handle& parameters, const py::handle& max_norm) {
        const std::vector<Tensor> tensors = tensors_from(parameters, "clip_grad_norm: parameters");
        return optim::clip_grad_norm(tensors, float_from(max_norm, "clip_grad_norm: max_norm"));
      },
      "parameters"_a, "max_norm"_a,
      R"(PyTorch's clip_grad_norm_ with norm_type 2: the global L2 norm of all gradients (a row-sparse
gradient counted by its stored rows; none counts zero), summed in double in list order. When
it exceeds max_norm every gradient is scaled by max_norm / (norm + 1e-6); otherwise nothing
changes. Returns the norm before clipping. A non-finite norm is returned and the gradients
are left as they are (skip that step). ValueError for a max_norm that is not finite and > 0.)");
}

void bind_schedules(py::module_& m) {
  py::class_<optim::Schedule> base(m, "Schedule",
                                   "A learning rate per step number (from 0), computed in double and rounded to float.\n"
                                   "Stateless: set optimizer.lr = schedule(step) before each step.");
  const auto lr_of = [](const optim::Schedule& s, const py::handle& step) { return s.lr(count_from(step, "step")); };
  base.def("lr", lr_of, "step"_a, "The rate at step (an integer >= 0).").def("__call__", lr_of, "step"_a);

  py::class_<optim::ConstantSchedule, optim::Schedule>(m, "ConstantSchedule", "The same rate at every step.")
      .def(py::init([](const py::handle& lr) { return optim::ConstantSchedule(float_from(lr, "ConstantSchedule: lr")); }),
           "lr"_a);
  py::class_<optim::LinearDecaySchedule, optim::Schedule>(m, "LinearDecaySchedule", R"(lr_start at step 0, straight down (or up) to lr_end at step total_steps, lr_end after:
lr(s) = lr_start + (lr_end - lr_start) * min(s, total_steps) / total_steps.
ValueError unless both rates are finite and >= 0 and total_steps >= 1.)")
      .def(py::init([](const py::handle& lr_start, const py::handle& lr_end, const py::handle& total_steps) {
             return optim::LinearDecaySchedule(float_from(lr_start, "LinearDecaySchedule: lr_start"),
                                               float_from(lr_end, "LinearDecaySchedule: lr_end"),
                                               count_from(total_steps, "LinearDecaySchedule: total_steps"));
           }),
           "lr_start"_a, "lr_end"_a, "total_steps"_a);
  py::class_<optim::WarmupCosineSchedule, optim::Schedule>(m, "WarmupCosineSchedule", R"(nanoGPT's get_lr (warmup_iters = warmup_steps, lr_decay_iters = total_steps):
  s <  warmup_steps:                lr_max * (s + 1) / (warmup_steps + 1)
  warmup_steps <= s <= total_steps: lr_min + 0.5 * (1 + cos(pi * r)) * (lr_max - lr_min),
                                    r = (s - warmup_steps) / (total_steps - warmup_steps)
  s >  total_steps:                 lr_min
ValueError unless 0 <= lr_min <= lr_max (finite) and warmup_steps < total_steps.)")
      .def(py::init([](const py::handle& lr_max, const py::handle& warmup_steps, const py::handle& total_steps,
                       const py::handle& lr_min) {
             return optim::WarmupCosineSchedule(float_from(lr_max, "WarmupCosineSchedule: lr_max"),
                                                count_from(warmup_steps, "WarmupCosineSchedule: warmup_steps"),
                                                count_from(total_steps, "WarmupCosineSchedule: total_steps"),
                                                float_from(lr_min, "WarmupCosineSchedule: lr_min"));
           }),
           "lr_max"_a, "warmup_steps"_a, "total_steps"_a, "lr_min"_a);
}

}  // namespace

void bind_optim_submodule(py::module_& m) {
  py::module_ o = m.def_submodule(
      "optim",
      "Optimisers that understand row-sparse gradients (SGD, AdamW), gradient clipping, and\n"
      "learning-rate schedules. The training loop sets optimizer.lr = schedule(step), clips,\n"
      "then steps; state() / load_state() carry an optimiser across a checkpoint.");
  extend_sgd(m, o);
  bind_adamw(o);
  bind_clip(o);
  bind_schedules(o);
}

}  // namespace xgrad::python
