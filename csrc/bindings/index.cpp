// Bindings for indexing ops, including Python's x[index] / x[index] = v parsing: ints, slices, None,
// Ellipsis, bools, integer/bool tensors and sequences (converted by a Python callback).
#include "bindings/casters.h"
#include "core/shape.h"
#include "ops/index.h"
#include "ops/pointwise.h"
#include "ops/shape.h"

namespace ember {
namespace py {

using namespace ops;

namespace {

pyb::object g_index_converter;  // ember._tensor._index_to_tensor: sequences/ndarrays -> Tensor

struct Parsed {
  Tensor view;
  OptTensorList adv;  // one entry per consumed item over view's dims (masks consume several dims)
  bool has_adv = false;
};

bool is_int_like(PyObject* o) {
  if (PyBool_Check(o)) return false;
  if (PyLong_Check(o)) return true;
  return PyIndex_Check(o) && !is_tensor(o) && !PySequence_Check(o);
}

Parsed parse_index(const Tensor& self, PyObject* index) {
  // normalise to a list of items, converting sequences and bools to tensors
  std::vector<pyb::object> items;
  if (PyTuple_Check(index)) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(index); ++i)
      items.push_back(pyb::reinterpret_borrow<pyb::object>(PyTuple_GET_ITEM(index, i)));
  } else {
    items.push_back(pyb::reinterpret_borrow<pyb::object>(index));
  }
  int64_t consumed = 0;
  int ellipses = 0;
  for (auto& it : items) {
    PyObject* o = it.ptr();
    if (o == Py_None || o == Py_Ellipsis) {
      ellipses += o == Py_Ellipsis;
      continue;
    }
    if (PyBool_Check(o)) {
      Tensor b = empty({}, ScalarType::Bool);
      *b.data<bool>() = o == Py_True;
      it = pyb::reinterpret_steal<pyb::object>(wrap(b));
      continue;
    }
    if (is_int_like(o) || PySlice_Check(o)) {
      ++consumed;
      continue;
    }
    if (!is_tensor(o)) {
      if (!g_index_converter) throw TypeError("indexing: no converter registered for sequence indices");
      it = g_index_converter(it);
      o = it.ptr();
      EMBER_TYPE_CHECK(is_tensor(o), "indexing with an object of type ", Py_TYPE(o)->tp_name, " is not supported");
    }
    if (is_sparse_tensor(o)) {
      set_sparse_unsupported_error();
      throw pyb::error_already_set();
    }
    const Tensor& t = unwrap(o);
    bool mask = t.dtype() == ScalarType::Bool || t.dtype() == ScalarType::UInt8;
    consumed += mask ? t.dim() : 1;
  }
  EMBER_INDEX_CHECK(ellipses <= 1, "an index can only have a single ellipsis ('...')");
  EMBER_INDEX_CHECK(consumed <= self.dim(), "too many indices for tensor of dimension ", self.dim());

  Parsed p;
  p.view = self;
  int64_t dim = 0;
  int64_t orig = 0;  // dim of `self` the current item indexes (for error messages)
  std::vector<std::pair<int64_t, Tensor>> adv;  // (view dim, index tensor)
  for (auto& it : items) {
    PyObject* o = it.ptr();
    if (o == Py_None) {
      p.view = unsqueeze(p.view, dim);
      ++dim;
    } else if (o == Py_Ellipsis) {
      dim += self.dim() - consumed;
      orig += self.dim() - consumed;
    } else if (is_int_like(o)) {
      PyObject* idx = PyNumber_Index(o);
      if (!idx) throw pyb::error_already_set();
      int64_t v = PyLong_AsLongLong(idx);
      Py_DECREF(idx);
      if (v == -1 && PyErr_Occurred()) throw pyb::error_already_set();
      const int64_t n = p.view.sizes()[dim];
      EMBER_INDEX_CHECK(v >= -n && v < n, "index ", v, " is out of bounds for dimension ", orig, " with size ", n);
      p.view = select(p.view, dim, v);
      ++orig;
    } else if (PySlice_Check(o)) {
      Py_ssize_t start, stop, step;
      if (PySlice_Unpack(o, &start, &stop, &step) < 0) throw pyb::error_already_set();
      EMBER_VALUE_CHECK(step > 0, "step must be greater than zero");
      // start/stop keep Python's raw values (negative = from the end); slice() wraps and clamps them
      p.view = slice(p.view, dim, start, stop, step);
      ++dim;
      ++orig;
    } else {
      const Tensor& t = unwrap(o);
      bool mask = t.dtype() == ScalarType::Bool || t.dtype() == ScalarType::UInt8;
      if (!mask && t.dim() == 0 && !is_floating(t.dtype())) {  // 0-d integer tensor acts like an int
        const int64_t v = item_int(t), n = p.view.sizes()[dim];
        EMBER_INDEX_CHECK(v >= -n && v < n, "index ", v, " is out of bounds for dimension ", orig, " with size ", n);
        p.view = select(p.view, dim, v);
        ++orig;
        continue;
      }
      EMBER_INDEX_CHECK(mask || !is_floating(t.dtype()),
                        "tensors used as indices must be long, int, byte or bool tensors, got ", dtype_name(t.dtype()));
      adv.emplace_back(dim, t);
      dim += mask ? t.dim() : 1;
      orig += mask ? t.dim() : 1;
      if (mask && t.dim() == 0) {
        // x[True] / x[False] adds a dim of size 1 / 0 at this position
        p.view = unsqueeze(p.view, dim);
        adv.back().first = -1;
        if (!item_int(t)) p.view = narrow(p.view, dim, 0, 0);
        ++dim;
      }
    }
  }
  for (auto& a : adv)
    if (a.first >= 0) p.has_adv = true;
  if (p.has_adv) {
    int64_t d = 0;
    size_t k = 0;
    while (d < p.view.dim()) {
      while (k < adv.size() && adv[k].first < 0) ++k;
      if (k < adv.size() && adv[k].first == d) {
        const Tensor& t = adv[k].second;
        bool mask = t.dtype() == ScalarType::Bool || t.dtype() == ScalarType::UInt8;
        p.adv.emplace_back(t);
        d += mask ? t.dim() : 1;
        ++k;
      } else {
        p.adv.emplace_back(std::nullopt);
        ++d;
      }
    }
  }
  return p;
}

}  // namespace

void bind_index(pyb::module_& m) {
  m.def("_set_index_converter", [](pyb::object f) { g_index_converter = f; });
  m.def("index_select", &index_select);
  m.def("gather", &gather);
  m.def("scatter_", [](const Tensor& s, int64_t d, const Tensor& i, const Tensor& src) { scatter_(s, d, i, src, false); });
  m.def("scatter_add_", [](const Tensor& s, int64_t d, const Tensor& i, const Tensor& src) { scatter_(s, d, i, src, true); });
  m.def("index_add_", &index_add_);
  m.def("index_fill_", &index_fill_);
  m.def("index", &ops::index);
  m.def("index_put_", &index_put_);
  m.def("masked_fill_", &masked_fill_);
  m.def("masked_select", &masked_select);
  m.def("nonzero", &nonzero);
  m.def("take", &take);
  m.def("getitem", [](const Tensor& self, pyb::handle index) {
    Parsed p = parse_index(self, index.ptr());
    if (!p.has_adv) return p.view.is_same(self) ? self.as_view(self.sizes(), self.strides(), self.offset()) : p.view;
    return ops::index(p.view, p.adv);
  });
  // self[index] = value, or self[index] += value with accumulate (getitem's backward)
  m.def("setitem_", [](const Tensor& self, pyb::handle index, const Tensor& value, bool accumulate) {
    Parsed p = parse_index(self, index.ptr());
    if (p.has_adv) {
      index_put_(p.view, p.adv, value, accumulate);
    } else if (accumulate) {
      binary_(BinaryOp::add, p.view, value);
    } else {
      copy_(p.view, value);
    }
  });
  // True when indexing with `index` gives a view (no tensors/sequences/bools involved)
  m.def("is_basic_index", [](pyb::handle index) {
    auto basic = [](PyObject* o) {
      return o == Py_None || o == Py_Ellipsis || PySlice_Check(o) || (PyLong_Check(o) && !PyBool_Check(o));
    };
    PyObject* o = index.ptr();
    if (!PyTuple_Check(o)) return basic(o);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(o); ++i)
      if (!basic(PyTuple_GET_ITEM(o, i))) return false;
    return true;
  });
}

}  // namespace py
}  // namespace ember
