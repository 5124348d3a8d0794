// pybind11 type casters: ember::Tensor <-> TensorBase objects (Python numbers become "wrapped number"
// 0-d tensors), ScalarType <-> ember.dtype, DimVector <-> int sequences, and the exception translations.
#pragma once
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/tensor_type.h"
#include "core/tensor.h"
#include "ops/common.h"

namespace ember {
namespace py {
// A Python bool/int/float (or numpy scalar) as a wrapped-number 0-d tensor; false when o is not a number.
bool number_to_tensor(PyObject* o, Tensor* out);
}  // namespace py
}  // namespace ember

namespace pybind11 {
namespace detail {

template <>
struct type_caster<ember::Tensor> {
 public:
  static constexpr auto name = const_name("Tensor");
  bool load(handle src, bool convert) {
    PyObject* o = src.ptr();
    if (ember::py::is_tensor(o)) {
      if (ember::py::is_sparse_tensor(o)) {  // its C tensor is a stand-in: never compute on it
        ember::py::set_sparse_unsupported_error();
        throw pybind11::error_already_set();
      }
      ptr_ = &ember::py::unwrap(o);
      return true;
    }
    if (convert && ember::py::number_to_tensor(o, &holder_)) {
      ptr_ = &holder_;
      return true;
    }
    return false;
  }
  static handle cast(const ember::Tensor& src, return_value_policy, handle) { return ember::py::wrap(src); }
  static handle cast(ember::Tensor&& src, return_value_policy, handle) { return ember::py::wrap(std::move(src)); }

  template <typename T_>
  using cast_op_type = pybind11::detail::cast_op_type<T_>;
  operator ember::Tensor&() { return *ptr_; }
  operator ember::Tensor*() { return ptr_; }

 private:
  ember::Tensor* ptr_ = nullptr;
  ember::Tensor holder_;
};

template <>
struct type_caster<ember::ScalarType> {
  PYBIND11_TYPE_CASTER(ember::ScalarType, const_name("dtype"));
  bool load(handle src, bool) { return ember::py::dtype_from_object(src.ptr(), &value); }
  static handle cast(ember::ScalarType st, return_value_policy, handle) {
    PyObject* d = ember::py::dtype_object(st);
    Py_INCREF(d);
    return d;
  }
};

template <>
struct type_caster<ember::DimVector> {
  PYBIND11_TYPE_CASTER(ember::DimVector, const_name("Sequence[int]"));
  bool load(handle src, bool) {
    PyObject* o = src.ptr();
    value.clear();
    if (PyLong_Check(o)) {
      value.push_back(PyLong_AsLongLong(o));
      return !PyErr_Occurred();
    }
    if (!PyTuple_Check(o) && !PyList_Check(o)) return false;
    PyObject* seq = PySequence_Fast(o, "expected a sequence of ints");
    if (!seq) return false;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject** items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; ++i) {
      PyObject* it = items[i];
      long long v;
      if (PyLong_Check(it)) {
        v = PyLong_AsLongLong(it);
      } else if (PyIndex_Check(it) && !PyBool_Check(it) && !ember::py::is_tensor(it)) {
        PyObject* idx = PyNumber_Index(it);
        if (!idx) {
          PyErr_Clear();
          Py_DECREF(seq);
          return false;
        }
        v = PyLong_AsLongLong(idx);
        Py_DECREF(idx);
      } else if (ember::py::is_tensor(it) && !ember::py::is_sparse_tensor(it) &&
                 ember::py::unwrap(it).numel() == 1 && !ember::is_floating(ember::py::unwrap(it).dtype())) {
        v = ember::ops::item_int(ember::py::unwrap(it));
      } else {
        Py_DECREF(seq);
        return false;
      }
      if (v == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        Py_DECREF(seq);
        return false;
      }
      value.push_back(v);
    }
    Py_DECREF(seq);
    return true;
  }
  static handle cast(const ember::DimVector& v, return_value_policy, handle) {
    PyObject* t = PyTuple_New(Py_ssize_t(v.size()));
    for (size_t i = 0; i < v.size(); ++i) PyTuple_SET_ITEM(t, Py_ssize_t(i), PyLong_FromLongLong(v[i]));
    return t;
  }
};

}  // namespace detail
}  // namespace pybind11

namespace ember {
namespace py {
namespace pyb = pybind11;
// Registers the family bindings; each lives in its own file to keep compile units small.
void bind_pointwise(pyb::module_& m);
void bind_reduce(pyb::module_& m);
void bind_shape(pyb::module_& m);
void bind_index(pyb::module_& m);
void bind_factory(pyb::module_& m);
void bind_misc(pyb::module_& m);
void bind_nn(pyb::module_& m);
void bind_autograd(pyb::module_& m);
void bind_optim(pyb::module_& m);
void bind_storage(pyb::module_& m);
void bind_device(pyb::module_& m);
void bind_dlpack(pyb::module_& m);
Device parse_device(const std::string& s);
}  // namespace py
}  // namespace ember
