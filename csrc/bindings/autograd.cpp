// The recording step of ember.autograd.Function.apply in C: build the graph node, run forward with grad
// mode off, and attach the single-output result. Same logic as the Python fallback in autograd/function.py
// (which handles every other case: several outputs, dirty / non-differentiable outputs); this path exists
// because it runs once per recorded op and is most of the per-op overhead.
#include <Python.h>

#include "bindings/casters.h"
#include "bindings/tensor_type.h"

namespace ember {
namespace py {

namespace {

struct Names {
  PyObject *backward_cls, *uses_setup_context, *forward, *setup_context, *next_functions, *needs_input_grad, *saved,
      *saved_out, *saved_versions, *out_meta, *dirty, *non_diff, *enabled;
};
Names g_names;
PyObject* g_state = nullptr;          // ember.autograd.grad_mode._state (thread-local grad mode)
PyObject* g_grad_accumulator = nullptr;  // ember.autograd.function._grad_accumulator
PyObject* g_wrap_outputs = nullptr;   // ember.autograd.function._wrap_outputs (general case)
PyObject* g_no_edge = nullptr;        // (None, 0)

PyObject* intern(const char* s) { return PyUnicode_InternFromString(s); }

PyObject* alias(PyObject* t) { return wrap(unwrap(t).as_view(unwrap(t).sizes(), unwrap(t).strides(), unwrap(t).offset())); }

bool set_attr(PyObject* o, PyObject* name, PyObject* v) { return PyObject_SetAttr(o, name, v) == 0; }

// edge (next function, input nr) for one forward argument; new reference, nullptr on error
PyObject* edge_for(PyObject* a, bool* requires) {
  *requires = false;
  if (!is_tensor(a)) {
    Py_INCREF(g_no_edge);
    return g_no_edge;
  }
  const int req = requires_grad_refreshed(a);
  if (req < 0) return nullptr;
  if (!req) {
    Py_INCREF(g_no_edge);
    return g_no_edge;
  }
  *requires = true;
  PyTensor* t = reinterpret_cast<PyTensor*>(a);
  if (t->grad_fn) {
    PyObject* nr = PyLong_FromLong(t->output_nr);
    PyObject* e = PyTuple_Pack(2, t->grad_fn, nr);
    Py_DECREF(nr);
    return e;
  }
  PyObject* acc = PyObject_CallOneArg(g_grad_accumulator, a);
  if (!acc) return nullptr;
  PyObject* zero = PyLong_FromLong(0);
  PyObject* e = PyTuple_Pack(2, acc, zero);
  Py_DECREF(acc);
  Py_DECREF(zero);
  return e;
}

// Replaces saved outputs by aliases (a node must not keep its own output alive) and records versions.
bool process_saved(PyObject* node, PyObject* out) {
  PyObject* saved = PyObject_GetAttr(node, g_names.saved);
  if (!saved) return false;
  if (saved == Py_None) {
    Py_DECREF(saved);
    return true;
  }
  const Py_ssize_t n = PyTuple_GET_SIZE(saved);
  PyObject* versions = PyList_New(n);
  PyObject* kept = nullptr;
  PyObject* out_idx = nullptr;
  for (Py_ssize_t j = 0; j < n; ++j) {
    PyObject* s = PyTuple_GET_ITEM(saved, j);
    if (s == Py_None) {
      PyList_SET_ITEM(versions, j, PyLong_FromLong(0));
      continue;
    }
    if (s == out) {
      if (!kept) {
        kept = PyList_New(n);
        for (Py_ssize_t k = 0; k < n; ++k) {
          Py_INCREF(PyTuple_GET_ITEM(saved, k));
          PyList_SET_ITEM(kept, k, PyTuple_GET_ITEM(saved, k));
        }
        out_idx = PyTuple_New(n);
        for (Py_ssize_t k = 0; k < n; ++k) PyTuple_SET_ITEM(out_idx, k, PyLong_FromLong(-1));
      }
      PyObject* a = alias(out);
      PyList_SetItem(kept, j, a);  // steals a
      Py_DECREF(PyTuple_GET_ITEM(out_idx, j));
      PyTuple_SET_ITEM(out_idx, j, PyLong_FromLong(0));
      s = a;
    }
    PyList_SET_ITEM(versions, j, PyLong_FromLongLong(unwrap(s).version()));
  }
  bool ok = set_attr(node, g_names.saved_versions, versions);
  Py_DECREF(versions);
  if (ok && kept) {
    PyObject* t = PyList_AsTuple(kept);
    ok = set_attr(node, g_names.saved, t) && set_attr(node, g_names.saved_out, out_idx);
    Py_DECREF(t);
  }
  Py_XDECREF(kept);
  Py_XDECREF(out_idx);
  Py_DECREF(saved);
  return ok;
}

// _record(cls, args) -> output of cls.forward with the graph recorded
PyObject* record(PyObject*, PyObject* const* argv, Py_ssize_t nargs) {
  if (nargs != 2 || !PyTuple_Check(argv[1])) {
    PyErr_SetString(PyExc_TypeError, "_record(cls, args_tuple)");
    return nullptr;
  }
  PyObject *cls = argv[0], *args = argv[1];
  PyObject* bcls = PyObject_GetAttr(cls, g_names.backward_cls);
  if (!bcls) return nullptr;
  PyObject* node = PyObject_CallNoArgs(bcls);
  Py_DECREF(bcls);
  if (!node) return nullptr;
  const Py_ssize_t n = PyTuple_GET_SIZE(args);
  PyObject* edges = PyTuple_New(n);
  PyObject* needs = PyTuple_New(n);
  PyObject* out = nullptr;
  PyObject* result = nullptr;
  bool uses_setup = false;
  for (Py_ssize_t i = 0; i < n; ++i) {
    bool req;
    PyObject* e = edge_for(PyTuple_GET_ITEM(args, i), &req);
    if (!e) goto done;
    PyTuple_SET_ITEM(edges, i, e);
    PyObject* b = req ? Py_True : Py_False;
    Py_INCREF(b);
    PyTuple_SET_ITEM(needs, i, b);
  }
  if (!set_attr(node, g_names.next_functions, edges) || !set_attr(node, g_names.needs_input_grad, needs) ||
      !set_attr(node, g_names.saved, Py_None) || !set_attr(node, g_names.saved_out, Py_None))
    goto done;
  {
    PyObject* u = PyObject_GetAttr(cls, g_names.uses_setup_context);
    if (!u) goto done;
    uses_setup = u == Py_True;
    Py_DECREF(u);
  }
  if (!set_attr(g_state, g_names.enabled, Py_False)) goto done;
  {
    PyObject* fwd = PyObject_GetAttr(cls, g_names.forward);
    if (fwd) {
      if (uses_setup) {
        out = PyObject_Call(fwd, args, nullptr);
        if (out) {
          PyObject* r = PyObject_CallMethodObjArgs(cls, g_names.setup_context, node, args, out, nullptr);
          if (!r) Py_CLEAR(out);
          Py_XDECREF(r);
        }
      } else {
        PyObject* full = PyTuple_New(n + 1);
        Py_INCREF(node);
        PyTuple_SET_ITEM(full, 0, node);
        for (Py_ssize_t i = 0; i < n; ++i) {
          Py_INCREF(PyTuple_GET_ITEM(args, i));
          PyTuple_SET_ITEM(full, i + 1, PyTuple_GET_ITEM(args, i));
        }
        out = PyObject_Call(fwd, full, nullptr);
        Py_DECREF(full);
      }
      Py_DECREF(fwd);
    }
    // restore grad mode even when forward raised (keep that exception)
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    bool restored = set_attr(g_state, g_names.enabled, Py_True);
    if (et) PyErr_Restore(et, ev, tb);
    if (!out || !restored) goto done;
  }
  {
    PyObject* dirty = PyObject_GetAttr(node, g_names.dirty);
    PyObject* non_diff = dirty ? PyObject_GetAttr(node, g_names.non_diff) : nullptr;
    const bool simple = dirty == Py_None && non_diff == Py_None && Py_TYPE(out) == tensor_class();
    Py_XDECREF(dirty);
    Py_XDECREF(non_diff);
    if (PyErr_Occurred()) goto done;
    if (!simple) {
      result = PyObject_CallFunctionObjArgs(g_wrap_outputs, node, args, out, nullptr);
      goto done;
    }
    for (Py_ssize_t i = 0; i < n; ++i)
      if (PyTuple_GET_ITEM(args, i) == out) {  // forward returned an input: give it its own tensor object
        PyObject* a = alias(out);
        Py_DECREF(out);
        out = a;
        break;
      }
    PyObject* meta = attach_output(out, node, 0);
    if (!meta) goto done;
    PyObject* metas = PyTuple_Pack(1, meta);
    Py_DECREF(meta);
    bool ok = set_attr(node, g_names.out_meta, metas);
    Py_DECREF(metas);
    if (!ok || !process_saved(node, out)) goto done;
    result = out;
    out = nullptr;
  }
done:
  Py_XDECREF(out);
  Py_DECREF(edges);
  Py_DECREF(needs);
  Py_DECREF(node);
  return result;
}

PyObject* init_record(PyObject*, PyObject* args) {
  PyObject *state, *acc, *wrap_outputs;
  if (!PyArg_ParseTuple(args, "OOO", &state, &acc, &wrap_outputs)) return nullptr;
  Py_INCREF(state);
  Py_INCREF(acc);
  Py_INCREF(wrap_outputs);
  Py_XSETREF(g_state, state);
  Py_XSETREF(g_grad_accumulator, acc);
  Py_XSETREF(g_wrap_outputs, wrap_outputs);
  Py_RETURN_NONE;
}

PyMethodDef methods[] = {
    {"_record", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(record)), METH_FASTCALL,
     "Runs Function.forward recording the autograd graph (single-output fast path)."},
    {"_init_record", init_record, METH_VARARGS, "Registers the Python objects _record needs."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

void bind_autograd(pyb::module_& m) {
  g_names = Names{intern("_backward_cls"), intern("_uses_setup_context"), intern("forward"), intern("setup_context"),
                  intern("next_functions"), intern("needs_input_grad"), intern("_saved"), intern("_saved_out"),
                  intern("_saved_versions"), intern("_out_meta"), intern("_dirty"), intern("_non_diff"),
                  intern("enabled")};
  PyObject* zero = PyLong_FromLong(0);
  g_no_edge = PyTuple_Pack(2, Py_None, zero);
  Py_DECREF(zero);
  PyModule_AddFunctions(m.ptr(), methods);
}

}  // namespace py
}  // namespace ember
