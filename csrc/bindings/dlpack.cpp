// DLPack interop: Tensor.__dlpack__ / __dlpack_device__ and ember.from_dlpack, zero-copy both ways, with the
// legacy ("dltensor") and versioned ("dltensor_versioned", DLPack 1.x) capsules. The structs follow the
// DLPack specification's ABI (dlpack.h); the capsule protocol is the Python array API standard's.
#include <Python.h>

#include <cstring>

#include "bindings/casters.h"
#include "core/kernel_table.h"

namespace ember {
namespace py {

namespace {

// ---- the DLPack ABI (version 1.1)
enum DLDeviceKind : int32_t { kDLCPU = 1, kDLCUDA = 2, kDLCUDAHost = 3, kDLCUDAManaged = 13 };
enum DLTypeCode : uint8_t { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBfloat = 4, kDLBool = 6 };
struct DLDevice {
  int32_t device_type;
  int32_t device_id;
};
struct DLDataType {
  uint8_t code, bits;
  uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;  // in elements; may be null (C order)
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};
struct DLPackVersion {
  uint32_t major, minor;
};
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned* self);
  uint64_t flags;  // bit 0: read only, bit 1: is a copy
  DLTensor dl_tensor;
};
constexpr uint32_t kDLPackMajor = 1, kDLPackMinor = 1;

DLDataType to_dl(ScalarType t) {
  switch (t) {
    case ScalarType::Bool: return {kDLBool, 8, 1};
    case ScalarType::UInt8: return {kDLUInt, 8, 1};
    case ScalarType::Int8: return {kDLInt, 8, 1};
    case ScalarType::Int16: return {kDLInt, 16, 1};
    case ScalarType::Int32: return {kDLInt, 32, 1};
    case ScalarType::Int64: return {kDLInt, 64, 1};
    case ScalarType::Float16: return {kDLFloat, 16, 1};
    case ScalarType::BFloat16: return {kDLBfloat, 16, 1};
    case ScalarType::Float32: return {kDLFloat, 32, 1};
    case ScalarType::Float64: return {kDLFloat, 64, 1};
  }
  throw TypeError("__dlpack__: unsupported dtype");
}

ScalarType from_dl(DLDataType d) {
  EMBER_TYPE_CHECK(d.lanes == 1, "from_dlpack: vector dtypes (lanes=", d.lanes, ") are not supported");
  if (d.code == kDLBool && d.bits == 8) return ScalarType::Bool;
  if (d.code == kDLUInt && d.bits == 8) return ScalarType::UInt8;
  if (d.code == kDLInt && d.bits == 8) return ScalarType::Int8;
  if (d.code == kDLInt && d.bits == 16) return ScalarType::Int16;
  if (d.code == kDLInt && d.bits == 32) return ScalarType::Int32;
  if (d.code == kDLInt && d.bits == 64) return ScalarType::Int64;
  if (d.code == kDLFloat && d.bits == 16) return ScalarType::Float16;
  if (d.code == kDLBfloat && d.bits == 16) return ScalarType::BFloat16;
  if (d.code == kDLFloat && d.bits == 32) return ScalarType::Float32;
  if (d.code == kDLFloat && d.bits == 64) return ScalarType::Float64;
  throw TypeError(str("from_dlpack: unsupported DLPack dtype (code ", int(d.code), ", ", int(d.bits),
                      " bits); Ember has bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32 and float64"));
}

// What an exported capsule owns: a reference to the tensor (so its storage lives) and the shape arrays.
struct Export {
  Tensor t;
  std::vector<int64_t> shape, strides;
};

void fill_dl(DLTensor& dl, Export* e) {
  const Tensor& t = e->t;
  dl.data = t.storage()->data;
  dl.byte_offset = uint64_t(t.offset()) * t.itemsize();
  if (t.numel() == 0 || !dl.data) {  // consumers may not accept a null data pointer with an offset
    dl.data = t.numel() ? t.data_ptr() : t.storage()->data;
    dl.byte_offset = 0;
  }
  dl.device = t.device().is_cpu() ? DLDevice{kDLCPU, 0} : DLDevice{kDLCUDA, t.device().index};
  dl.ndim = int32_t(t.dim());
  dl.dtype = to_dl(t.dtype());
  e->shape.assign(t.sizes().begin(), t.sizes().end());
  e->strides.assign(t.strides().begin(), t.strides().end());
  dl.shape = e->shape.data();
  dl.strides = e->strides.data();
}

void delete_legacy(DLManagedTensor* m) {
  delete static_cast<Export*>(m->manager_ctx);
  delete m;
}
void delete_versioned(DLManagedTensorVersioned* m) {
  delete static_cast<Export*>(m->manager_ctx);
  delete m;
}

// A capsule nobody consumed frees what it holds.
void capsule_legacy_dtor(PyObject* cap) {
  if (PyCapsule_IsValid(cap, "dltensor")) {
    auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, "dltensor"));
    if (m && m->deleter) m->deleter(m);
  }
}
void capsule_versioned_dtor(PyObject* cap) {
  if (PyCapsule_IsValid(cap, "dltensor_versioned")) {
    auto* m = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(cap, "dltensor_versioned"));
    if (m && m->deleter) m->deleter(m);
  }
}

pyb::object to_dlpack(const Tensor& t, bool versioned) {
  auto* e = new Export{t, {}, {}};
  if (versioned) {
    auto* m = new DLManagedTensorVersioned();
    m->version = {kDLPackMajor, kDLPackMinor};
    m->manager_ctx = e;
    m->deleter = delete_versioned;
    m->flags = t.storage()->read_only ? 1 : 0;  // DLPACK_FLAG_BITMASK_READ_ONLY
    fill_dl(m->dl_tensor, e);
    return pyb::reinterpret_steal<pyb::object>(PyCapsule_New(m, "dltensor_versioned", capsule_versioned_dtor));
  }
  auto* m = new DLManagedTensor();
  m->manager_ctx = e;
  m->deleter = delete_legacy;
  fill_dl(m->dl_tensor, e);
  return pyb::reinterpret_steal<pyb::object>(PyCapsule_New(m, "dltensor", capsule_legacy_dtor));
}

// The imported tensor's storage calls the producer's deleter (under the GIL: producers may touch Python).
struct Import {
  void* managed;
  bool versioned;
};
void release_import(void* ctx) {
  auto* im = static_cast<Import*>(ctx);
  PyGILState_STATE g = PyGILState_Ensure();
  if (im->versioned) {
    auto* m = static_cast<DLManagedTensorVersioned*>(im->managed);
    if (m->deleter) m->deleter(m);
  } else {
    auto* m = static_cast<DLManagedTensor*>(im->managed);
    if (m->deleter) m->deleter(m);
  }
  PyGILState_Release(g);
  delete im;
}

Tensor from_capsule(pyb::capsule cap) {
  const char* name = PyCapsule_GetName(cap.ptr());
  const bool versioned = name && std::strcmp(name, "dltensor_versioned") == 0;
  EMBER_TYPE_CHECK(versioned || (name && std::strcmp(name, "dltensor") == 0),
                   "from_dlpack: expected a DLPack capsule ('dltensor' or 'dltensor_versioned'), got ",
                   name ? name : "an unnamed capsule", name && std::strncmp(name, "used_", 5) == 0 ?
                   " (this capsule was already consumed)" : "");
  void* managed = PyCapsule_GetPointer(cap.ptr(), name);
  if (!managed) throw pyb::error_already_set();
  DLTensor* dl;
  if (versioned) {
    auto* m = static_cast<DLManagedTensorVersioned*>(managed);
    EMBER_RUNTIME_CHECK(m->version.major == kDLPackMajor, "from_dlpack: unsupported DLPack version ",
                        m->version.major, ".", m->version.minor, " (Ember reads 1.x)");
    dl = &m->dl_tensor;
  } else {
    dl = &static_cast<DLManagedTensor*>(managed)->dl_tensor;
  }
  // check everything before the capsule is marked consumed, so a refusal leaves it to its owner
  const ScalarType st = from_dl(dl->dtype);
  Device device;
  if (dl->device.device_type == kDLCUDA || dl->device.device_type == kDLCUDAManaged) {
    device.type = DeviceType::CUDA;
    device.index = int16_t(dl->device.device_id);
  } else {
    EMBER_RUNTIME_CHECK(dl->device.device_type == kDLCPU || dl->device.device_type == kDLCUDAHost,
                        "from_dlpack: unsupported device type ", dl->device.device_type, " (Ember has cpu and cuda)");
  }
  EMBER_RUNTIME_CHECK(dl->ndim >= 0 && dl->ndim <= kMaxDims, "from_dlpack: ndim ", dl->ndim, " out of range");
  const size_t isz = itemsize(st);
  EMBER_RUNTIME_CHECK(dl->byte_offset % isz == 0, "from_dlpack: byte_offset ", dl->byte_offset,
                      " is not a multiple of the element size ", isz);
  DimVector sizes, strides;
  int64_t extent = 0, expected = 1;
  bool empty_t = false;
  for (int d = dl->ndim - 1; d >= 0; --d) {
    const int64_t s = dl->shape[d];
    EMBER_RUNTIME_CHECK(s >= 0, "from_dlpack: negative size ", s, " in dim ", d);
    const int64_t st_d = dl->strides ? dl->strides[d] : expected;
    EMBER_RUNTIME_CHECK(st_d >= 0 || s <= 1, "from_dlpack: negative strides are not supported");
    expected *= s;
    if (s == 0) empty_t = true;
    extent += (s - 1) * std::max<int64_t>(st_d, 0);
  }
  for (int d = 0; d < dl->ndim; ++d) {
    sizes.push_back(dl->shape[d]);
    strides.push_back(dl->strides ? std::max<int64_t>(dl->strides[d], 0) : 0);
  }
  if (!dl->strides) {  // C order
    int64_t acc = 1;
    for (int d = dl->ndim - 1; d >= 0; --d) {
      strides[size_t(d)] = acc;
      acc *= std::max<int64_t>(dl->shape[d], 1);
    }
  }
  const size_t nbytes = empty_t ? 0 : size_t(extent + 1) * isz;
  char* base = static_cast<char*>(dl->data) + dl->byte_offset;
  PyCapsule_SetName(cap.ptr(), versioned ? "used_dltensor_versioned" : "used_dltensor");
  const bool read_only = versioned && (static_cast<DLManagedTensorVersioned*>(managed)->flags & 1);
  Storage s = wrap_storage(base, nbytes, release_import, new Import{managed, versioned}, device);
  s->read_only = read_only;
  return Tensor(std::move(s), new_version_counter(), sizes, strides, 0, st);
}

}  // namespace

void bind_dlpack(pyb::module_& m) {
  m.def("_to_dlpack", &to_dlpack, pyb::arg("tensor"), pyb::arg("versioned"),
        "A DLPack capsule over the tensor's memory (no copy).");
  m.def("_dlpack_device", [](const Tensor& t) {
    return t.device().is_cpu() ? std::make_tuple(int(kDLCPU), 0) : std::make_tuple(int(kDLCUDA), int(t.device().index));
  });
  m.def("_from_dlpack_capsule", &from_capsule, "A tensor over a DLPack capsule's memory (consumes the capsule).");
}

}  // namespace py
}  // namespace ember
