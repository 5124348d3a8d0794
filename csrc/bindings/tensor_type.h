// The Python tensor object: a C type `_C.TensorBase` that embeds an ember::Tensor plus the few fields
// autograd needs, so `class Tensor(_C.TensorBase)` in Python gets fast attribute access and C++ ops can
// return instances of that Python class directly.
#pragma once
#include <Python.h>

#include "core/dtype.h"
#include "core/tensor.h"

namespace ember {
namespace py {

struct PyTensor {
  PyObject_HEAD
  Tensor t;
  PyObject* grad;         // accumulated gradient (a tensor) or NULL
  PyObject* grad_fn;      // autograd Node that produced this tensor, or NULL for leaves
  PyObject* hooks;        // dict of backward hooks or NULL
  PyObject* grad_acc;     // weak reference to the leaf's AccumulateGrad node, or NULL
  PyObject* base;         // for differentiable views: the tensor they view, or NULL
  PyObject* shape_cache;  // the sizes as a tuple, built on first use (sizes never change in place)
  PyObject* dict;
  PyObject* weakreflist;
  int64_t view_version;   // version of the storage when this view's grad_fn was last made current
  int output_nr;
  char requires_grad;
  char retains_grad;
};

extern PyTypeObject TensorBaseType;

inline bool is_tensor(PyObject* o) { return PyObject_TypeCheck(o, &TensorBaseType); }
inline Tensor& unwrap(PyObject* o) { return reinterpret_cast<PyTensor*>(o)->t; }
// ember's sparse COO tensor class (a TensorBase whose C tensor is only a zero-stride stand-in carrying its size,
// dtype and device), registered at import; C++ ops refuse it rather than compute on the stand-in.
extern PyTypeObject* g_sparse_class;
inline bool is_sparse_tensor(PyObject* o) { return Py_TYPE(o) == g_sparse_class; }
// Sets NotImplementedError for a sparse tensor passed to an op that has no sparse kernel.
void set_sparse_unsupported_error();

// New reference to an instance of the registered Python Tensor class holding t.
PyObject* wrap(Tensor t);
// New reference to an instance of `cls` (a subclass of TensorBase) holding t.
PyObject* wrap_as(PyTypeObject* cls, Tensor t);

// dtype objects
struct PyDType {
  PyObject_HEAD
  ScalarType st;
};
extern PyTypeObject DTypeType;
PyObject* dtype_object(ScalarType st);  // borrowed singleton
bool dtype_from_object(PyObject* o, ScalarType* out);

void init_types(PyObject* module);

// For the autograd fast path (autograd.cpp): the registered Python Tensor class; requires_grad after
// refreshing a stale view's history (-1 on error); making t output `nr` of `node` (new ref to (shape, dtype)
// or None for non-float tensors, nullptr on error).
PyTypeObject* tensor_class();
int requires_grad_refreshed(PyObject* t);
PyObject* attach_output(PyObject* t, PyObject* node, long nr);

}  // namespace py
}  // namespace ember
