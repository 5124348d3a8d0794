// Bindings for factories, random sampling (Generator), sorting, numpy interop and runtime settings.
#include <pybind11/numpy.h>

#include <random>

#include "bindings/casters.h"
#include "core/cpu_features.h"
#include "core/parallel.h"
#include "core/shape.h"
#include "cpu/kernels.h"
#include "ops/factory.h"
#include "ops/pointwise.h"

namespace ember {
namespace py {

using namespace ops;

namespace {

const char* numpy_format(ScalarType st) {
  switch (st) {
    case ScalarType::Bool: return "?";
    case ScalarType::UInt8: return "u1";
    case ScalarType::Int8: return "i1";
    case ScalarType::Int16: return "i2";
    case ScalarType::Int32: return "i4";
    case ScalarType::Int64: return "i8";
    case ScalarType::Float16: return "f2";
    case ScalarType::Float32: return "f4";
    case ScalarType::Float64: return "f8";
    default: break;
  }
  throw TypeError(str("Got unsupported ScalarType ", dtype_name(st), " (numpy has no ", dtype_name(st),
                      "; convert with .float() first)"));
}

pyb::array to_numpy(const Tensor& t) {
  EMBER_TYPE_CHECK(t.device().is_cpu(), "can't convert ", t.device().str(),
                   " device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.");
  pyb::dtype dt(numpy_format(t.dtype()));
  std::vector<pyb::ssize_t> shape(t.sizes().begin(), t.sizes().end()), strides;
  for (auto s : t.strides()) strides.push_back(pyb::ssize_t(s * int64_t(t.itemsize())));
  // the capsule keeps the storage alive for as long as numpy uses the memory
  auto* keep = new Storage(t.storage());
  pyb::capsule owner(keep, [](void* p) { delete static_cast<Storage*>(p); });
  pyb::array arr(dt, shape, strides, t.numel() ? t.data_ptr() : t.storage()->data, owner);
  if (t.storage()->read_only)  // numpy must not write where the tensor may not
    pyb::detail::array_proxy(arr.ptr())->flags &= ~pyb::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return arr;
}

void release_numpy(void* ctx) {
  if (!Py_IsInitialized()) return;
  PyGILState_STATE s = PyGILState_Ensure();
  Py_DECREF(static_cast<PyObject*>(ctx));
  PyGILState_Release(s);
}

Tensor from_numpy(pyb::array arr) {
  pyb::dtype dt = arr.dtype();
  char kind = dt.kind();
  ssize_t isz = dt.itemsize();
  ScalarType st;
  if (kind == 'b' && isz == 1) st = ScalarType::Bool;
  else if (kind == 'u' && isz == 1) st = ScalarType::UInt8;
  else if (kind == 'i' && isz == 1) st = ScalarType::Int8;
  else if (kind == 'i' && isz == 2) st = ScalarType::Int16;
  else if (kind == 'i' && isz == 4) st = ScalarType::Int32;
  else if (kind == 'i' && isz == 8) st = ScalarType::Int64;
  else if (kind == 'f' && isz == 2) st = ScalarType::Float16;
  else if (kind == 'f' && isz == 4) st = ScalarType::Float32;
  else if (kind == 'f' && isz == 8) st = ScalarType::Float64;
  else
    throw TypeError(str("can't convert np.ndarray of type ", std::string(pyb::str(dt)),
                        ". The only supported types are: float64, float32, float16, int64, int32, int16, int8, uint8, and bool."));
  EMBER_VALUE_CHECK(dt.byteorder() != '>', "from_numpy: big-endian arrays are not supported; use arr.astype(arr.dtype.newbyteorder('='))");
  const int64_t nd = arr.ndim();
  DimVector sizes, strides;
  int64_t extent = 0;
  bool empty_arr = false;
  for (int64_t d = 0; d < nd; ++d) {
    int64_t s = arr.shape(d), b = arr.strides(d);
    EMBER_VALUE_CHECK(b >= 0, "At least one stride in the given numpy array is negative, and tensors with negative "
                      "strides are not currently supported. (You can probably work around this by making a copy of "
                      "your array  with array.copy().)");
    EMBER_VALUE_CHECK(b % isz == 0, "given numpy array strides not a multiple of the element byte size. Copy the "
                      "numpy array to reallocate the memory.");
    sizes.push_back(s);
    strides.push_back(b / isz);
    if (s == 0) empty_arr = true;
    extent += (s - 1) * (b / isz);
  }
  size_t nbytes = empty_arr ? 0 : size_t(extent + 1) * size_t(isz);
  PyObject* owner = arr.ptr();
  Py_INCREF(owner);
  Storage s = wrap_storage(const_cast<void*>(arr.data()), nbytes, release_numpy, owner);
  s->read_only = !arr.writeable();
  return Tensor(std::move(s), new_version_counter(), sizes, strides, 0, st);
}

pyb::object item(const Tensor& t) {
  EMBER_RUNTIME_CHECK(t.numel() == 1, "a Tensor with ", t.numel(), " elements cannot be converted to Scalar");
  if (t.dtype() == ScalarType::Bool) return pyb::bool_(item_int(t) != 0);
  if (is_floating(t.dtype())) return pyb::float_(item_double(t));
  return pyb::int_(item_int(t));
}

}  // namespace

void bind_factory(pyb::module_& m) {
  m.def(
      "empty", [](const DimVector& shape, ScalarType dt, const std::string& device) {
        return empty(shape, dt, parse_device(device));
      },
      pyb::arg("shape"), pyb::arg("dtype"), pyb::arg("device") = "cpu");
  m.def(
      "empty_strided", [](const DimVector& shape, const DimVector& strides, ScalarType dt, const std::string& device) {
        return empty_strided(shape, strides, dt, parse_device(device));
      },
      pyb::arg("shape"), pyb::arg("strides"), pyb::arg("dtype"), pyb::arg("device") = "cpu");
  m.def("full", &full);
  // meta: (shape, dtype) or (shape, dtype, device) as _attach records it
  m.def("zeros_meta", [](const pyb::tuple& meta) {
    EMBER_TYPE_CHECK(meta.size() == 2 || meta.size() == 3, "zeros_meta: expected (shape, dtype[, device])");
    Device dev = meta.size() == 3 ? parse_device(meta[2].cast<std::string>()) : Device();
    Tensor t = empty(meta[0].cast<DimVector>(), meta[1].cast<ScalarType>(), dev);
    fill_(t, scalar_tensor(0.0, ScalarType::Float64));
    return t;
  });
  m.def("arange", &arange);
  m.def("linspace", &linspace);
  m.def("eye", &eye);

  pyb::class_<Generator, std::shared_ptr<Generator>>(m, "Generator")
      .def(pyb::init([](pyb::object device) {
             (void)device;
             return std::make_shared<Generator>();
           }),
           pyb::arg("device") = pyb::none())
      .def("manual_seed",
           [](std::shared_ptr<Generator> g, uint64_t seed) {
             g->manual_seed(seed);
             return g;
           })
      .def("seed",
           [](Generator& g) {
             std::random_device rd;
             uint64_t s = (uint64_t(rd()) << 32) ^ rd();
             g.manual_seed(s);
             return s;
           })
      .def("initial_seed", &Generator::seed)
      .def("_offset", &Generator::offset)
      .def("_set_state", &Generator::set_state);
  m.def("default_generator", &default_generator);

  m.def("uniform_", &uniform_, pyb::arg("self"), pyb::arg("from"), pyb::arg("to"), pyb::arg("generator") = nullptr);
  m.def("normal_", &normal_, pyb::arg("self"), pyb::arg("mean"), pyb::arg("std"), pyb::arg("generator") = nullptr);
  m.def("random_int_", &random_int_, pyb::arg("self"), pyb::arg("low"), pyb::arg("high"),
        pyb::arg("generator") = nullptr);
  m.def("bernoulli_scalar_", &bernoulli_scalar_, pyb::arg("self"), pyb::arg("p"), pyb::arg("generator") = nullptr);
  m.def("exponential_", &exponential_, pyb::arg("self"), pyb::arg("rate"), pyb::arg("generator") = nullptr);
  m.def("bernoulli", &bernoulli, pyb::arg("p"), pyb::arg("generator") = nullptr);
  m.def("randperm", &randperm, pyb::arg("n"), pyb::arg("dtype"), pyb::arg("generator") = nullptr);
  m.def("multinomial", &multinomial, pyb::arg("probs"), pyb::arg("num_samples"), pyb::arg("replacement"),
        pyb::arg("generator") = nullptr);
  m.def("sort", &sort);
  m.def("topk", &topk);

  m.def("to_numpy", &to_numpy);
  m.def("from_numpy", &from_numpy);
  m.def("item", &item);

  m.def("set_num_threads", &set_num_threads);
  m.def("get_num_threads", &get_num_threads);
  m.def("get_default_dtype", &default_dtype);
  m.def("set_default_dtype", [](ScalarType st) {
    EMBER_TYPE_CHECK(is_floating(st), "only floating-point types are supported as the default type");
    set_default_dtype(st);
  });
  m.def("cpu_capability", [] { return std::string(cpu_capability_name(cpu_capability())); });
  m.def("cpu_bf16_dot", [] { return cpu_bf16_dot(); });  // whether bfloat16 GEMMs use AVX512-BF16 now
  m.def("set_cpu_bf16_dot", [](bool enabled) { set_cpu_bf16_dot(enabled); });  // capped at what the CPU has
  m.def("set_cpu_capability", [](const std::string& name) {
    CpuCapability c;
    if (name == "default") c = CpuCapability::Default;
    else if (name == "avx2") c = CpuCapability::AVX2;
    else if (name == "avx512") c = CpuCapability::AVX512;
    else throw std::invalid_argument("unknown CPU capability '" + name + "' (expected default, avx2 or avx512)");
    set_cpu_capability(c);
  });
  m.def("_set_conv_algorithm", [](const std::string& name) {
    if (name == "auto") cpu::set_conv_algorithm(cpu::ConvAlgorithm::Auto);
    else if (name == "gemm") cpu::set_conv_algorithm(cpu::ConvAlgorithm::Gemm);
    else if (name == "direct") cpu::set_conv_algorithm(cpu::ConvAlgorithm::Direct);
    else throw std::invalid_argument("unknown convolution algorithm '" + name + "' (expected auto, gemm or direct)");
  });
}

}  // namespace py
}  // namespace ember
