// The _C extension module: types, exception translation, number conversion and the family bindings.
#include <pybind11/pybind11.h>

#include "bindings/casters.h"
#include "cuda/caching_allocator.h"
#include "core/error.h"
#include "core/storage.h"

namespace ember {
namespace py {

namespace {
PyObject* g_np_generic = nullptr;
PyObject* g_np_bool = nullptr;
PyObject* g_np_integer = nullptr;
PyObject* g_np_floating = nullptr;

bool load_numpy_types() {
  if (g_np_generic) return true;
  PyObject* np = PyImport_ImportModule("numpy");
  if (!np) {
    PyErr_Clear();
    return false;
  }
  g_np_generic = PyObject_GetAttrString(np, "generic");
  g_np_bool = PyObject_GetAttrString(np, "bool_");
  g_np_integer = PyObject_GetAttrString(np, "integer");
  g_np_floating = PyObject_GetAttrString(np, "floating");
  Py_DECREF(np);
  return g_np_generic && g_np_bool && g_np_integer && g_np_floating;
}

Tensor wrapped(ScalarType st) {
  Tensor t = empty({}, st);
  t.set_wrapped_number(true);
  return t;
}
}  // namespace

bool number_to_tensor(PyObject* o, Tensor* out) {
  if (PyBool_Check(o)) {
    *out = wrapped(ScalarType::Bool);
    *out->data<bool>() = o == Py_True;
    return true;
  }
  if (PyLong_Check(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow) {
      *out = wrapped(ScalarType::Float64);
      *out->data<double>() = PyLong_AsDouble(o);
      return !PyErr_Occurred();
    }
    *out = wrapped(ScalarType::Int64);
    *out->data<int64_t>() = v;
    return true;
  }
  if (PyFloat_Check(o)) {
    *out = wrapped(ScalarType::Float64);
    *out->data<double>() = PyFloat_AS_DOUBLE(o);
    return true;
  }
  if (!load_numpy_types() || !PyObject_IsInstance(o, g_np_generic)) return false;
  if (PyObject_IsInstance(o, g_np_bool)) {
    *out = wrapped(ScalarType::Bool);
    *out->data<bool>() = PyObject_IsTrue(o) == 1;
    return true;
  }
  // a conversion that raises (a numpy subclass's __index__ / __float__) must not leave its error set when the
  // caster declines: pybind11 would go on to other overloads, and to repr() of the arguments, with it pending
  if (PyObject_IsInstance(o, g_np_integer)) {
    PyObject* i = PyNumber_Index(o);
    if (!i) {
      PyErr_Clear();
      return false;
    }
    *out = wrapped(ScalarType::Int64);
    *out->data<int64_t>() = PyLong_AsLongLong(i);
    Py_DECREF(i);
  } else if (PyObject_IsInstance(o, g_np_floating)) {
    *out = wrapped(ScalarType::Float64);
    *out->data<double>() = PyFloat_AsDouble(o);
  } else {
    return false;
  }
  if (PyErr_Occurred()) {
    PyErr_Clear();
    return false;
  }
  return true;
}

}  // namespace py
}  // namespace ember

PYBIND11_MODULE(_C, m) {
  namespace py = pybind11;
  m.doc() = "Ember's compiled core: strided tensors and CPU kernels";
  ember::py::init_types(m.ptr());
  // ember.cuda.OutOfMemoryError, a RuntimeError as in PyTorch
  static PyObject* cuda_oom = PyErr_NewException("ember.cuda.OutOfMemoryError", PyExc_RuntimeError, nullptr);
  m.attr("CudaOutOfMemoryError") = py::handle(cuda_oom);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ember::cuda::DeviceOutOfMemoryError& e) {
      PyErr_SetString(cuda_oom, e.what());
    } catch (const ember::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const ember::OutOfMemoryError& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const ember::NotImplementedError& e) {
      PyErr_SetString(PyExc_NotImplementedError, e.what());
    } catch (const ember::ZeroDivisionError& e) {
      PyErr_SetString(PyExc_ZeroDivisionError, e.what());
    }
  });
  m.def("_live_storages", &ember::live_storage_count, "Number of storages currently allocated (for leak tests).");
  m.def("_host_cache_bytes", &ember::host_cache_bytes, "Bytes of freed large host blocks kept for reuse.");
  m.def("_host_cache_clear", &ember::host_cache_clear, "Releases the freed large host blocks kept for reuse.");
  ember::py::bind_pointwise(m);
  ember::py::bind_reduce(m);
  ember::py::bind_shape(m);
  ember::py::bind_index(m);
  ember::py::bind_factory(m);
  ember::py::bind_misc(m);
  ember::py::bind_nn(m);
  ember::py::bind_autograd(m);
  ember::py::bind_optim(m);
  ember::py::bind_storage(m);
  ember::py::bind_device(m);
  ember::py::bind_dlpack(m);
}
