// TensorBase and dtype as plain CPython types. Attribute access on tensors is on the hot path of every op
// (requires_grad, grad_fn, shape), so these are C getters rather than Python properties.
#include "bindings/tensor_type.h"

#include <structmember.h>

#include <new>

#include "core/shape.h"

namespace ember {
namespace py {

namespace {

PyTypeObject* g_tensor_class = &TensorBaseType;  // replaced by ember.Tensor at import
PyTypeObject* g_size_class = &PyTuple_Type;      // replaced by ember.Size at import
PyObject* g_dtypes[kNumScalarTypes] = {};

PyTensor* T(PyObject* o) { return reinterpret_cast<PyTensor*>(o); }

PyObject* g_view_refresh = nullptr;  // ember.autograd.function._refresh_view

// A view whose storage changed (in place, through its base or a sibling view) since its grad_fn was made
// has stale history: PyTorch regenerates it from the base. Returns false with an exception set on error.
bool refresh_view(PyObject* self) {
  PyTensor* s = T(self);
  if (!s->base) return true;
  int64_t v = s->t.version();
  if (v == s->view_version) return true;
  s->view_version = v;
  PyTensor* b = T(s->base);
  if (!b->requires_grad || !g_view_refresh) return true;
  PyObject* r = PyObject_CallOneArg(g_view_refresh, self);
  if (!r) return false;
  Py_DECREF(r);
  return true;
}

PyObject* make_size(const DimVector& sizes) {
  const Py_ssize_t n = Py_ssize_t(sizes.size());
  PyObject* tup = g_size_class == &PyTuple_Type ? PyTuple_New(n) : g_size_class->tp_alloc(g_size_class, n);
  if (!tup) return nullptr;
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* v = PyLong_FromLongLong(sizes[size_t(i)]);
    if (!v) {
      Py_DECREF(tup);
      return nullptr;
    }
    PyTuple_SET_ITEM(tup, i, v);
  }
  return tup;
}

PyObject* make_tuple(const DimVector& v) {
  PyObject* tup = PyTuple_New(Py_ssize_t(v.size()));
  if (!tup) return nullptr;
  for (size_t i = 0; i < v.size(); ++i) PyTuple_SET_ITEM(tup, Py_ssize_t(i), PyLong_FromLongLong(v[i]));
  return tup;
}

// ------------------------------------------------------------------------------------------ lifecycle

PyObject* Tensor_new(PyTypeObject* type, PyObject*, PyObject*) {
  PyObject* obj = type->tp_alloc(type, 0);
  if (!obj) return nullptr;
  new (&T(obj)->t) Tensor(empty({0}, default_dtype()));
  return obj;
}

int Tensor_traverse(PyObject* self, visitproc visit, void* arg) {
  PyTensor* s = T(self);
  Py_VISIT(s->grad);
  Py_VISIT(s->grad_fn);
  Py_VISIT(s->hooks);
  Py_VISIT(s->grad_acc);
  Py_VISIT(s->base);
  Py_VISIT(s->dict);
  Py_VISIT(Py_TYPE(self));
  return 0;
}

int Tensor_clear(PyObject* self) {
  PyTensor* s = T(self);
  Py_CLEAR(s->grad);
  Py_CLEAR(s->grad_fn);
  Py_CLEAR(s->hooks);
  Py_CLEAR(s->grad_acc);
  Py_CLEAR(s->base);
  Py_CLEAR(s->dict);
  Py_CLEAR(s->shape_cache);
  return 0;
}

void Tensor_dealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  if (T(self)->weakreflist) PyObject_ClearWeakRefs(self);
  Tensor_clear(self);
  T(self)->t.~Tensor();
  PyTypeObject* tp = Py_TYPE(self);
  tp->tp_free(self);
}

// ------------------------------------------------------------------------------------------ getters

PyObject* get_shape(PyObject* self, void*) { return make_size(T(self)->t.sizes()); }
PyObject* get_shape_tuple(PyObject* self, void*) {
  PyTensor* s = T(self);
  if (!s->shape_cache) s->shape_cache = make_tuple(s->t.sizes());
  Py_XINCREF(s->shape_cache);
  return s->shape_cache;
}
PyObject* get_dtype(PyObject* self, void*) {
  PyObject* d = g_dtypes[int(T(self)->t.dtype())];
  Py_INCREF(d);
  return d;
}
PyObject* get_ndim(PyObject* self, void*) { return PyLong_FromLongLong(T(self)->t.dim()); }
PyObject* get_version(PyObject* self, void*) { return PyLong_FromLongLong(T(self)->t.version()); }
PyObject* get_is_leaf(PyObject* self, void*) {
  if (!refresh_view(self)) return nullptr;
  return PyBool_FromLong(T(self)->grad_fn == nullptr);
}

PyObject* get_requires_grad(PyObject* self, void*) {
  if (!refresh_view(self)) return nullptr;
  return PyBool_FromLong(T(self)->requires_grad);
}
int set_raw_requires_grad(PyObject* self, PyObject* value, void*) {
  int flag = value ? PyObject_IsTrue(value) : 0;
  if (flag < 0) return -1;
  T(self)->requires_grad = char(flag);
  return 0;
}
int set_requires_grad(PyObject* self, PyObject* value, void*) {
  if (!value) {
    PyErr_SetString(PyExc_TypeError, "can't delete requires_grad");
    return -1;
  }
  int flag = PyObject_IsTrue(value);
  if (flag < 0) return -1;
  PyTensor* s = T(self);
  if (s->grad_fn) {
    if (!flag) {
      PyErr_SetString(PyExc_RuntimeError,
                      "you can only change requires_grad flags of leaf variables. If you want to use a computed "
                      "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().");
      return -1;
    }
    return 0;
  }
  if (flag && !is_floating(s->t.dtype())) {
    PyErr_Format(PyExc_RuntimeError, "only Tensors of floating point dtype can require gradients (got %s)",
                 dtype_name(s->t.dtype()));
    return -1;
  }
  s->requires_grad = char(flag);
  return 0;
}

PyObject* get_grad(PyObject* self, void*) {
  PyTensor* s = T(self);
  if (s->grad_fn && !s->retains_grad && !s->grad &&
      PyErr_WarnEx(PyExc_UserWarning,
                   "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute "
                   "won't be populated during autograd.backward(). If you indeed want the .grad field to be populated "
                   "for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor.",
                   1) < 0)
    return nullptr;
  PyObject* g = T(self)->grad ? T(self)->grad : Py_None;
  Py_INCREF(g);
  return g;
}
int set_grad(PyObject* self, PyObject* value, void*) {
  PyTensor* s = T(self);
  if (!value || value == Py_None) {
    Py_CLEAR(s->grad);
    return 0;
  }
  if (!is_tensor(value)) {
    PyErr_Format(PyExc_TypeError, "assigned grad expected to be a Tensor or None but got grad of type %s",
                 Py_TYPE(value)->tp_name);
    return -1;
  }
  const Tensor& g = unwrap(value);
  if (g.dtype() != s->t.dtype()) {
    PyErr_Format(PyExc_RuntimeError, "assigned grad has data of a different type (%s) than the tensor (%s)",
                 dtype_name(g.dtype()), dtype_name(s->t.dtype()));
    return -1;
  }
  if (g.sizes() != s->t.sizes()) {
    PyErr_Format(PyExc_RuntimeError, "assigned grad has data of a different size: %s vs the tensor's %s",
                 shape_str(g.sizes()).c_str(), shape_str(s->t.sizes()).c_str());
    return -1;
  }
  Py_INCREF(value);
  Py_XSETREF(s->grad, value);
  return 0;
}

PyObject* get_grad_fn(PyObject* self, void*) {
  if (!refresh_view(self)) return nullptr;
  PyObject* g = T(self)->grad_fn ? T(self)->grad_fn : Py_None;
  Py_INCREF(g);
  return g;
}
int set_grad_fn(PyObject* self, PyObject* value, void*) {
  PyObject* v = (value && value != Py_None) ? value : nullptr;
  Py_XINCREF(v);
  Py_XSETREF(T(self)->grad_fn, v);
  return 0;
}

PyObject* get_data(PyObject* self, void*) { return wrap(T(self)->t.alias_with_new_version()); }
int set_data(PyObject* self, PyObject* value, void*) {
  if (!value || !is_tensor(value)) {
    PyErr_SetString(PyExc_TypeError, "Tensor.data must be set to a Tensor");
    return -1;
  }
  if (is_sparse_tensor(value)) {  // its C tensor is only a stand-in
    set_sparse_unsupported_error();
    return -1;
  }
  const Tensor& src = unwrap(value);
  PyTensor* s = T(self);
  if (s->requires_grad && !is_floating(src.dtype())) {
    PyErr_SetString(PyExc_RuntimeError, "data set to a tensor that requires gradients must be floating point");
    return -1;
  }
  s->t.set_data(src);
  Py_CLEAR(s->shape_cache);  // .data = other may change the sizes
  return 0;
}

PyObject* get_obj_field(PyObject* f) {
  PyObject* r = f ? f : Py_None;
  Py_INCREF(r);
  return r;
}
int set_obj_field(PyObject** slot, PyObject* value) {
  PyObject* v = (value && value != Py_None) ? value : nullptr;
  Py_XINCREF(v);
  Py_XSETREF(*slot, v);
  return 0;
}
PyObject* get_base(PyObject* self, void*) { return get_obj_field(T(self)->base); }
int set_base(PyObject* self, PyObject* v, void*) {
  T(self)->view_version = T(self)->t.version();
  return set_obj_field(&T(self)->base, v);
}
PyObject* get_hooks(PyObject* self, void*) { return get_obj_field(T(self)->hooks); }
int set_hooks(PyObject* self, PyObject* v, void*) { return set_obj_field(&T(self)->hooks, v); }
PyObject* get_grad_acc(PyObject* self, void*) { return get_obj_field(T(self)->grad_acc); }
int set_grad_acc(PyObject* self, PyObject* v, void*) { return set_obj_field(&T(self)->grad_acc, v); }
PyObject* get_retains_grad(PyObject* self, void*) { return PyBool_FromLong(T(self)->retains_grad); }
PyObject* get_device_str(PyObject* self, void*) {
  const Device d = T(self)->t.device();
  if (d.is_cpu()) return PyUnicode_FromString("cpu");
  return PyUnicode_FromString(d.str().c_str());
}

PyGetSetDef tensor_getset[] = {
    {"shape", get_shape, nullptr, "The tensor's sizes, as an ember.Size.", nullptr},
    {"_shape", get_shape_tuple, nullptr, nullptr, nullptr},
    {"dtype", get_dtype, nullptr, "The tensor's dtype.", nullptr},
    {"ndim", get_ndim, nullptr, "Number of dimensions.", nullptr},
    {"_version", get_version, nullptr, nullptr, nullptr},
    {"is_leaf", get_is_leaf, nullptr, "True for tensors not produced by a recorded operation.", nullptr},
    {"_requires_grad", get_requires_grad, set_raw_requires_grad, nullptr, nullptr},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {"requires_grad", get_requires_grad, set_requires_grad, "Whether autograd records operations on this tensor.",
     nullptr},
    {"grad", get_grad, set_grad, "The gradient accumulated by backward(), or None.", nullptr},
    {"grad_fn", get_grad_fn, nullptr, "The autograd node that produced this tensor, or None.", nullptr},
    {"_grad_fn", get_grad_fn, set_grad_fn, nullptr, nullptr},
    {"data", get_data, set_data, "The same data, detached from autograd.", nullptr},
    {"_base", get_base, set_base, nullptr, nullptr},
    {"_backward_hooks", get_hooks, set_hooks, nullptr, nullptr},
    {"_grad_accumulator", get_grad_acc, set_grad_acc, nullptr, nullptr},
    {"retains_grad", get_retains_grad, nullptr, "Whether this non-leaf tensor keeps its .grad.", nullptr},
    {"_device", get_device_str, nullptr, "The device as a string ('cpu', 'cuda:0').", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyMemberDef tensor_members[] = {
    {"_output_nr", T_INT, offsetof(PyTensor, output_nr), 0, nullptr},
    {"_view_version", T_LONGLONG, offsetof(PyTensor, view_version), 0, nullptr},
    {"_retains_grad", T_BOOL, offsetof(PyTensor, retains_grad), 0, nullptr},
    {nullptr, 0, 0, 0, nullptr}};

// ------------------------------------------------------------------------------------------ methods

PyObject* m_dim(PyObject* self, PyObject*) { return PyLong_FromLongLong(T(self)->t.dim()); }
PyObject* m_numel(PyObject* self, PyObject*) { return PyLong_FromLongLong(T(self)->t.numel()); }
PyObject* m_storage_offset(PyObject* self, PyObject*) { return PyLong_FromLongLong(T(self)->t.offset()); }
PyObject* m_data_ptr(PyObject* self, PyObject*) {
  return PyLong_FromVoidPtr(T(self)->t.numel() ? T(self)->t.data_ptr() : T(self)->t.storage()->data);
}
PyObject* m_element_size(PyObject* self, PyObject*) { return PyLong_FromSize_t(T(self)->t.itemsize()); }
PyObject* m_is_contiguous(PyObject* self, PyObject*, PyObject*) { return PyBool_FromLong(T(self)->t.is_contiguous()); }

bool dim_arg(PyObject* self, PyObject* args, PyObject* kw, int64_t* dim, bool* has) {
  static const char* kwlist[] = {"dim", nullptr};
  PyObject* d = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", const_cast<char**>(kwlist), &d)) return false;
  *has = d != Py_None;
  if (*has) {
    *dim = PyLong_AsLongLong(d);
    if (*dim == -1 && PyErr_Occurred()) return false;
  }
  (void)self;
  return true;
}

PyObject* m_size(PyObject* self, PyObject* args, PyObject* kw) {
  int64_t dim = 0;
  bool has = false;
  if (!dim_arg(self, args, kw, &dim, &has)) return nullptr;
  if (!has) return make_size(T(self)->t.sizes());
  try {
    return PyLong_FromLongLong(T(self)->t.size(dim));
  } catch (const std::out_of_range& e) {
    PyErr_SetString(PyExc_IndexError, e.what());
    return nullptr;
  }
}

PyObject* m_stride(PyObject* self, PyObject* args, PyObject* kw) {
  int64_t dim = 0;
  bool has = false;
  if (!dim_arg(self, args, kw, &dim, &has)) return nullptr;
  if (!has) return make_tuple(T(self)->t.strides());
  try {
    return PyLong_FromLongLong(T(self)->t.stride(dim));
  } catch (const std::out_of_range& e) {
    PyErr_SetString(PyExc_IndexError, e.what());
    return nullptr;
  }
}

PyMethodDef tensor_methods[] = {
    {"dim", m_dim, METH_NOARGS, "Number of dimensions."},
    {"ndimension", m_dim, METH_NOARGS, "Number of dimensions."},
    {"numel", m_numel, METH_NOARGS, "Number of elements."},
    {"nelement", m_numel, METH_NOARGS, "Number of elements."},
    {"storage_offset", m_storage_offset, METH_NOARGS, "Offset of the first element in the storage, in elements."},
    {"data_ptr", m_data_ptr, METH_NOARGS, "Address of the first element."},
    {"element_size", m_element_size, METH_NOARGS, "Size of one element in bytes."},
    {"is_contiguous", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(m_is_contiguous)),
     METH_VARARGS | METH_KEYWORDS, "Whether the tensor is contiguous in row-major order."},
    {"size", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(m_size)), METH_VARARGS | METH_KEYWORDS,
     "size(dim=None): the sizes, or the size of one dim."},
    {"stride", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(m_stride)),
     METH_VARARGS | METH_KEYWORDS, "stride(dim=None): the strides in elements, or the stride of one dim."},
    {nullptr, nullptr, 0, nullptr}};

// ------------------------------------------------------------------------------------------ dtype

PyObject* DType_repr(PyObject* self) {
  return PyUnicode_FromFormat("ember.%s", dtype_name(reinterpret_cast<PyDType*>(self)->st));
}
PyObject* dt_is_floating(PyObject* self, void*) { return PyBool_FromLong(is_floating(reinterpret_cast<PyDType*>(self)->st)); }
PyObject* dt_is_complex(PyObject*, void*) { Py_RETURN_FALSE; }
PyObject* dt_is_signed(PyObject* self, void*) {
  ScalarType st = reinterpret_cast<PyDType*>(self)->st;
  return PyBool_FromLong(st != ScalarType::Bool && st != ScalarType::UInt8);
}
PyObject* dt_itemsize(PyObject* self, void*) { return PyLong_FromSize_t(itemsize(reinterpret_cast<PyDType*>(self)->st)); }
PyObject* dt_name(PyObject* self, void*) { return PyUnicode_FromString(dtype_name(reinterpret_cast<PyDType*>(self)->st)); }
PyObject* dt_code(PyObject* self, void*) { return PyLong_FromLong(int(reinterpret_cast<PyDType*>(self)->st)); }
PyObject* DType_reduce(PyObject* self, PyObject*) {
  // pickles as a lookup of the module attribute of the same name
  return PyUnicode_FromString(dtype_name(reinterpret_cast<PyDType*>(self)->st));
}

PyGetSetDef dtype_getset[] = {{"is_floating_point", dt_is_floating, nullptr, nullptr, nullptr},
                              {"is_complex", dt_is_complex, nullptr, nullptr, nullptr},
                              {"is_signed", dt_is_signed, nullptr, nullptr, nullptr},
                              {"itemsize", dt_itemsize, nullptr, nullptr, nullptr},
                              {"_name", dt_name, nullptr, nullptr, nullptr},
                              {"_code", dt_code, nullptr, nullptr, nullptr},
                              {nullptr, nullptr, nullptr, nullptr, nullptr}};
PyMethodDef dtype_methods[] = {{"__reduce__", DType_reduce, METH_NOARGS, nullptr}, {nullptr, nullptr, 0, nullptr}};

}  // namespace

PyTypeObject TensorBaseType = {PyVarObject_HEAD_INIT(nullptr, 0)};
PyTypeObject DTypeType = {PyVarObject_HEAD_INIT(nullptr, 0)};

PyObject* wrap_as(PyTypeObject* cls, Tensor t) {
  PyObject* obj = cls->tp_alloc(cls, 0);
  if (!obj) throw std::bad_alloc();
  new (&T(obj)->t) Tensor(std::move(t));
  return obj;
}

PyObject* wrap(Tensor t) { return wrap_as(g_tensor_class, std::move(t)); }

PyObject* dtype_object(ScalarType st) { return g_dtypes[int(st)]; }

bool dtype_from_object(PyObject* o, ScalarType* out) {
  if (Py_TYPE(o) == &DTypeType) {
    *out = reinterpret_cast<PyDType*>(o)->st;
    return true;
  }
  if (o == reinterpret_cast<PyObject*>(&PyFloat_Type)) {
    *out = ScalarType::Float64;
    return true;
  }
  if (o == reinterpret_cast<PyObject*>(&PyLong_Type)) {
    *out = ScalarType::Int64;
    return true;
  }
  if (o == reinterpret_cast<PyObject*>(&PyBool_Type)) {
    *out = ScalarType::Bool;
    return true;
  }
  return false;
}

static PyObject* set_classes(PyObject*, PyObject* args) {
  PyObject *tensor_cls, *size_cls;
  if (!PyArg_ParseTuple(args, "OO", &tensor_cls, &size_cls)) return nullptr;
  if (!PyType_Check(tensor_cls) || !PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(tensor_cls), &TensorBaseType)) {
    PyErr_SetString(PyExc_TypeError, "_set_classes: expected a subclass of TensorBase");
    return nullptr;
  }
  if (!PyType_Check(size_cls) || !PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(size_cls), &PyTuple_Type)) {
    PyErr_SetString(PyExc_TypeError, "_set_classes: expected a subclass of tuple");
    return nullptr;
  }
  Py_INCREF(tensor_cls);
  Py_INCREF(size_cls);
  g_tensor_class = reinterpret_cast<PyTypeObject*>(tensor_cls);
  g_size_class = reinterpret_cast<PyTypeObject*>(size_cls);
  Py_RETURN_NONE;
}

// _attach(t, node, output_nr): makes t an output of an autograd node. Returns (shape, dtype), the metadata
// the engine checks incoming gradients against, or None for integer/bool tensors (never differentiable).
PyObject* attach_output(PyObject* t, PyObject* node, long nr) {
  PyTensor* s = T(t);
  if (!is_floating(s->t.dtype())) Py_RETURN_NONE;
  Py_INCREF(node);
  Py_XSETREF(s->grad_fn, node);
  s->output_nr = int(nr);
  s->requires_grad = 1;
  s->view_version = s->t.version();
  PyObject* shape = get_shape_tuple(t, nullptr);
  if (!shape) return nullptr;
  PyObject* dt = g_dtypes[int(s->t.dtype())];
  Py_INCREF(dt);
  // off the CPU the device joins the metadata, so a materialised zero gradient lands on it
  const bool cpu = s->t.device().is_cpu();
  PyObject* r = PyTuple_New(cpu ? 2 : 3);
  PyTuple_SET_ITEM(r, 0, shape);
  PyTuple_SET_ITEM(r, 1, dt);
  if (!cpu) PyTuple_SET_ITEM(r, 2, PyUnicode_FromString(s->t.device().str().c_str()));
  return r;
}

PyTypeObject* tensor_class() { return g_tensor_class; }

PyTypeObject* g_sparse_class = nullptr;

void set_sparse_unsupported_error() {
  PyErr_SetString(PyExc_NotImplementedError,
                  "this op does not support sparse COO tensors (layout=ember.sparse_coo); Ember's sparse tensors "
                  "carry sparse gradients (Embedding(sparse=True)) into the optimizers, and support coalesce, "
                  "to_dense, add, mul/div by a scalar and the methods listed in ember._sparse. Convert with "
                  ".to_dense() first");
}

static PyObject* set_sparse_class(PyObject*, PyObject* cls) {
  if (!PyType_Check(cls) || !PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(cls), &TensorBaseType)) {
    PyErr_SetString(PyExc_TypeError, "_set_sparse_class expects a subclass of TensorBase");
    return nullptr;
  }
  Py_INCREF(cls);
  g_sparse_class = reinterpret_cast<PyTypeObject*>(cls);
  Py_RETURN_NONE;
}

int requires_grad_refreshed(PyObject* t) {
  if (!refresh_view(t)) return -1;
  return T(t)->requires_grad ? 1 : 0;
}

// _attach(t, node, output_nr): makes t an output of an autograd node. Returns (shape, dtype), the metadata
// the engine checks incoming gradients against, or None for integer/bool tensors (never differentiable).
static PyObject* attach(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 3 || !is_tensor(args[0])) {
    PyErr_SetString(PyExc_TypeError, "_attach(tensor, node, output_nr)");
    return nullptr;
  }
  long nr = PyLong_AsLong(args[2]);
  if (nr == -1 && PyErr_Occurred()) return nullptr;
  return attach_output(args[0], args[1], nr);
}

static PyObject* set_view_refresh(PyObject*, PyObject* fn) {
  Py_INCREF(fn);
  Py_XSETREF(g_view_refresh, fn);
  Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"_set_view_refresh", set_view_refresh, METH_O, "Registers the callback that rebuilds stale view histories."},
    {"_attach", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(attach)), METH_FASTCALL,
     "Marks a tensor as output `nr` of an autograd node."},
    {"_set_classes", set_classes, METH_VARARGS, "Registers ember.Tensor and ember.Size with the extension."},
    {"_set_sparse_class", set_sparse_class, METH_O, "Registers the sparse COO tensor class (refused by C++ ops)."},
    {nullptr, nullptr, 0, nullptr}};

void init_types(PyObject* module) {
  TensorBaseType.tp_name = "ember._C.TensorBase";
  TensorBaseType.tp_basicsize = sizeof(PyTensor);
  TensorBaseType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC;
  TensorBaseType.tp_doc = "The C part of ember.Tensor: storage, sizes, strides, offset, dtype.";
  TensorBaseType.tp_new = Tensor_new;
  TensorBaseType.tp_dealloc = Tensor_dealloc;
  TensorBaseType.tp_traverse = Tensor_traverse;
  TensorBaseType.tp_clear = Tensor_clear;
  TensorBaseType.tp_getset = tensor_getset;
  TensorBaseType.tp_members = tensor_members;
  TensorBaseType.tp_methods = tensor_methods;
  TensorBaseType.tp_dictoffset = offsetof(PyTensor, dict);
  TensorBaseType.tp_weaklistoffset = offsetof(PyTensor, weakreflist);
  if (PyType_Ready(&TensorBaseType) < 0) throw std::runtime_error("TensorBase: PyType_Ready failed");

  DTypeType.tp_name = "ember.dtype";
  DTypeType.tp_basicsize = sizeof(PyDType);
  DTypeType.tp_flags = Py_TPFLAGS_DEFAULT;
  DTypeType.tp_doc = "A tensor element type (ember.float32, ember.int64, ...).";
  DTypeType.tp_repr = DType_repr;
  DTypeType.tp_getset = dtype_getset;
  DTypeType.tp_methods = dtype_methods;
  if (PyType_Ready(&DTypeType) < 0) throw std::runtime_error("dtype: PyType_Ready failed");

  Py_INCREF(&TensorBaseType);
  PyModule_AddObject(module, "TensorBase", reinterpret_cast<PyObject*>(&TensorBaseType));
  Py_INCREF(&DTypeType);
  PyModule_AddObject(module, "dtype", reinterpret_cast<PyObject*>(&DTypeType));
  for (int i = 0; i < kNumScalarTypes; ++i) {
    PyDType* d = PyObject_New(PyDType, &DTypeType);
    d->st = ScalarType(i);
    g_dtypes[i] = reinterpret_cast<PyObject*>(d);
    Py_INCREF(g_dtypes[i]);
    PyModule_AddObject(module, dtype_name(ScalarType(i)), g_dtypes[i]);
  }
  PyModule_AddFunctions(module, module_methods);
}

}  // namespace py
}  // namespace ember
