// libFuzzer target: the Python module's conversions from Python objects (python/convert.cpp),
// run in an embedded interpreter with NumPy. The bytes choose a Python object: a NumPy array
// of any dtype (numbers, complex, strings, bytes, void, datetimes, objects), byte order,
// alignment and layout (transposed, strided, reversed, broadcast), nested lists of mixed
// leaves (ragged too), or a scalar. Each object goes through array_from, ids_as_doubles,
// token_ids_from and int64_from. A conversion either returns what NumPy itself makes of the
// object (the same shape and the same float32/float64 bits) or raises one of the errors the
// module documents: TypeError or ValueError, xgrad's ShapeError and InvalidTokenId (and for
// int64_from, whatever int() itself raises). Anything else, a crash or a sanitizer report, is a bug.
#include <pybind11/embed.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/errors.hpp"
#include "fuzz_input.hpp"
#include "python/convert.hpp"

namespace py = pybind11;

namespace {

// Builds the object in Python, from the bytes; `reference` is NumPy's own conversion, the
// oracle. Every object is finite in size: at most 4 dimensions of at most 5 elements each.
constexpr const char* builder_source = R"PY(
import numpy as np

DTYPES = ['?', 'i1', 'u1', '<i2', '>u2', '<i4', '>i4', '<u4', '<i8', '>i8', '<u8', '<f2', '>f2',
          '<f4', '>f4', '<f8', '>f8', 'g', '<c8', '>c16', 'U1', 'U3', 'S1', 'S4', 'V4',
          'M8[s]', 'm8[ms]', 'O']

class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0
    def byte(self):
        if self.at >= len(self.data):
            return 0
        self.at += 1
        return self.data[self.at - 1]
    def take(self, n):
        chunk = self.data[self.at:self.at + n]
        self.at += len(chunk)
        return chunk + bytes(n - len(chunk))

def leaf(r):
    kind = r.byte() % 14
    if kind == 0: return r.byte() - 128
    if kind == 1: return int.from_bytes(r.take(r.byte() % 24), 'little', signed=True)
    if kind == 2: return np.frombuffer(r.take(8), '<f8')[0].item()
    if kind == 3: return np.frombuffer(r.take(4), '<f4')[0]
    if kind == 4: return bool(r.byte() & 1)
    if kind == 5: return None
    if kind == 6: return r.take(r.byte() % 4).decode('latin-1')
    if kind == 7: return r.take(r.byte() % 4)
    if kind == 8: return complex(r.byte() - 128, r.byte() - 128)
    if kind == 9: return float(['nan', 'inf', '-inf', '-0.0', '1e308', '5e-324'][r.byte() % 6])
    if kind == 10: return np.int64(int.from_bytes(r.take(8), 'little', signed=True))
    if kind == 11: return np.uint64(int.from_bytes(r.take(8), 'little'))
    if kind == 12: return array(r)
    return r.byte() / 4.0

def nested(r, depth):
    if depth >= 4 or r.byte() % 3 == 0:
        return leaf(r)
    items = [nested(r, depth + 1) for _ in range(r.byte() % 5)]
    return tuple(items) if r.byte() & 1 else items

def array(r):
    dtype = np.dtype(DTYPES[r.byte() % len(DTYPES)])
    shape = tuple(r.byte() % 6 for _ in range(r.byte() % 5))
    count = int(np.prod(shape, dtype=np.int64))
    if dtype.kind == 'O':
        flat = np.empty(count, dtype=object)
        for i in range(count):
            flat[i] = leaf(r)
        a = flat.reshape(shape)
    else:
        unaligned = r.byte() & 1
        raw = r.take(r.byte() % 64) or b'\0'
        need = unaligned + count * dtype.itemsize
        buffer = (raw * (need // len(raw) + 1))[:need]
        a = np.frombuffer(buffer, dtype, count, offset=unaligned).reshape(shape)
        if r.byte() & 1:
            a = a.copy()
    layout = r.byte() % 6
    if layout == 1: a = a.T
    elif layout == 2 and a.ndim: a = a[::2]
    elif layout == 3 and a.ndim: a = a[::-1]
    elif layout == 4: a = np.broadcast_to(a, (2,) + a.shape)
    elif layout == 5 and a.ndim >= 2: a = np.swapaxes(a, 0, a.ndim - 1)[..., ::2]
    return a

def make(data):
    r = Reader(data)
    mode = r.byte() % 3
    if mode == 0: return array(r)
    if mode == 1: return nested(r, 0)
    return leaf(r)

def reference(value, dtype):
    # What the module must produce: NumPy's array of the value, as C-ordered `dtype`.
    return np.asarray(value).astype(dtype, order='C')
)PY";

struct Interpreter {
  py::object make;
  py::object reference;
};

Interpreter& interpreter() {
  static Interpreter* const instance = [] {
    // CPython's own allocator hides objects' bounds from ASan, and its arenas (mmap) hide
    // the objects they point to from the leak checker.
    PyPreConfig preconfig;
    PyPreConfig_InitIsolatedConfig(&preconfig);
    preconfig.allocator = PYMEM_ALLOCATOR_MALLOC;
    if (PyStatus status = Py_PreInitialize(&preconfig); PyStatus_Exception(status)) Py_ExitStatusException(status);
    // One BLAS thread: NumPy's OpenBLAS would otherwise start a pool per core.
    ::setenv("OPENBLAS_NUM_THREADS", "1", 1);
    py::initialize_interpreter();
    py::dict scope;
    py::exec(builder_source, scope);
    return new Interpreter{scope["make"], scope["reference"]};
  }();
  return *instance;
}

bool python_error_is_documented(const py::error_already_set& e) {
  // NumPy's and int()'s own errors, passed through as they are.
  return e.matches(PyExc_TypeError) || e.matches(PyExc_ValueError) || e.matches(PyExc_OverflowError);
}

[[noreturn]] void undocumented(const char* conversion, const std::string& what) {
  fuzz::contract_broken(conversion, ("undocumented exception: " + what).c_str());
}

// Runs one conversion; a documented error is an accepted outcome, anything else aborts.
template <class Conversion>
void expect_documented(const char* name, Conversion&& conversion) {
  try {
    conversion();
  } catch (const py::type_error&) {
  } catch (const py::value_error&) {
  } catch (const xgrad::ShapeError&) {
  } catch (const xgrad::InvalidTokenId&) {
  } catch (py::error_already_set& e) {
    if (!python_error_is_documented(e)) undocumented(name, e.what());
  } catch (const std::exception& e) {
    undocumented(name, e.what());
  }
}

template <class T>
void same_as_reference(const char* name, const py::handle& value, const T* data, const xgrad::Shape& shape) {
  const auto expected = py::array_t<T>(interpreter().reference(value, py::dtype::of<T>()));
  const xgrad::Shape expected_shape(expected.shape(), expected.shape() + expected.ndim());
  if (shape != expected_shape) {
    const auto text = [](const xgrad::Shape& s) {
      std::string out = "(";
      for (const std::size_t extent : s) out += std::to_string(extent) + ",";
      return out + ")";
    };
    fuzz::contract_broken(name, ("the shape " + text(shape) + " differs from NumPy's " + text(expected_shape)).c_str());
  }
  const auto bytes = sizeof(T) * static_cast<std::size_t>(expected.size());
  if (bytes > 0 && std::memcmp(data, expected.data(), bytes) != 0) {
    fuzz::contract_broken(name, "the values differ from NumPy's");
  }
}

void convert(const py::handle& value) {
  expect_documented("array_from", [&] {
    const xgrad::Array a = xgrad::python::array_from(value, "fuzz");
    same_as_reference<float>("array_from", value, a.data(), xgrad::Shape(a.shape().begin(), a.shape().end()));
  });
  expect_documented("ids_as_doubles", [&] {
    xgrad::Shape shape;
    const std::vector<double> ids = xgrad::python::ids_as_doubles(value, &shape);
    same_as_reference<double>("ids_as_doubles", value, ids.data(), shape);
  });
  expect_documented("token_ids_from", [&] {
    const xgrad::TokenIds ids = xgrad::python::token_ids_from(value);
    const std::vector<double> doubles = xgrad::python::ids_as_doubles(value);
    if (ids.size() != doubles.size()) fuzz::contract_broken("token_ids_from", "the id count differs");
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (static_cast<double>(ids[i]) != doubles[i]) fuzz::contract_broken("token_ids_from", "an id changed");
    }
  });
  // int64_from is int(value) checked to fit: int()'s own errors, whatever they are (NumPy's
  // int() of a string array with an invalid code point raises SystemError), are its errors.
  bool int_fails = false;
  try {
    py::int_(py::reinterpret_borrow<py::object>(value));
  } catch (py::error_already_set&) {
    int_fails = true;
  }
  expect_documented("int64_from", [&] {
    try {
      const std::int64_t v = xgrad::python::int64_from(value, "fuzz");
      if (int_fails || !py::int_(py::reinterpret_borrow<py::object>(value)).equal(py::int_(v))) {
        fuzz::contract_broken("int64_from", "the integer differs from int(value)");
      }
    } catch (py::error_already_set&) {
      if (!int_fails) throw;
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Interpreter& python = interpreter();
  py::object value;
  try {
    value = python.make(py::bytes(reinterpret_cast<const char*>(data), size));
  } catch (py::error_already_set& e) {
    fuzz::contract_broken("the object builder", e.what());  // a bug of this target, not of xgrad
  }
  convert(value);
  return 0;
}
