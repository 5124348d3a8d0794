// Bindings for devices: a tensor's device, moving tensors between devices, the kernel tables (which entries a
// device lacks) and the tests' host-backed CUDA slot.
#include <memory>
#include <string>
#include <vector>

#include <cstdlib>

#include "bindings/casters.h"
#include "core/kernel_table.h"
#include "cuda/blas_plan.h"
#include "cuda/caching_allocator.h"
#include "cuda/library_locator.h"
#include "cuda/launch.h"
#include "ops/common.h"

namespace ember {
namespace py {

// "cpu", "cuda", "cuda:1" (ember.device's str()); a bare "cuda" means device 0.
Device parse_device(const std::string& s) {
  Device d;
  std::string type = s, index;
  size_t colon = s.find(':');
  if (colon != std::string::npos) {
    type = s.substr(0, colon);
    index = s.substr(colon + 1);
  }
  if (type == "cpu") {
    EMBER_RUNTIME_CHECK(index.empty() || index == "0", "Invalid device string: '", s, "'");
    return d;
  }
  EMBER_RUNTIME_CHECK(type == "cuda", "Expected one of cpu, cuda device type at start of device string: ", s);
  d.type = DeviceType::CUDA;
  d.index = 0;
  if (!index.empty()) {
    size_t used = 0;
    int v = -1;
    try {
      v = std::stoi(index, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    EMBER_RUNTIME_CHECK(used == index.size() && v >= 0 && v < 32768, "Invalid device string: '", s, "'");
    d.index = int16_t(v);
  }
  return d;
}

namespace {

// The tests' host backend: the CPU's kernels in the CUDA slot, on host memory labelled cuda:0, handed out by
// the real caching allocator over a host "device" of limited capacity. Exercises the device plumbing and the
// allocator's bookkeeping in CI; reachable only from tests and never evidence that anything runs on a GPU.
struct HostDevice {
  size_t capacity = size_t(1) << 40;  // bytes the pretend device holds (tests shrink it to provoke OOM)
  size_t used = 0;
};
HostDevice g_host_device;

// Each raw block carries its size in a kAlignment-byte header, so a free gives its bytes back to the capacity.
void* host_raw_alloc(size_t nbytes, int, void*) {
  if (g_host_device.used + nbytes > g_host_device.capacity) return nullptr;
  auto* p = static_cast<char*>(std::aligned_alloc(kAlignment, kAlignment + (nbytes + kAlignment - 1) / kAlignment * kAlignment));
  if (!p) return nullptr;
  g_host_device.used += nbytes;
  *reinterpret_cast<size_t*>(p) = nbytes;
  return p + kAlignment;
}
void host_raw_free(void* q, int, void*) {
  char* p = static_cast<char*>(q) - kAlignment;
  g_host_device.used -= *reinterpret_cast<size_t*>(p);
  std::free(p);
}

cuda::CachingAllocator& host_allocator() {
  // g_host_device.used is only touched under the allocator's lock (raw calls happen inside it)
  static cuda::CachingAllocator a(cuda::RawAllocator{host_raw_alloc, host_raw_free, nullptr},
                                  !cuda::caching_disabled_by_env());
  return a;
}

Storage host_cuda_allocate(size_t nbytes, Device device) {
  void* p = host_allocator().allocate(nbytes, device.index, 0);
  return wrap_storage(p, nbytes, [](void* q) { host_allocator().release(q); }, p, device);
}
MemoryStats host_cuda_stats(int device) { return host_allocator().stats(device); }
void host_cuda_empty_cache(int device) { host_allocator().empty_cache(device); }
void host_cuda_reset_peak(int device) { host_allocator().reset_peak(device); }

const KernelTable& host_cuda_table() {
  static const KernelTable t = [] {
    KernelTable k = cpu_kernel_table();
    k.device_name = "cuda (host test backend)";
    k.allocate = &host_cuda_allocate;
    k.memory_stats = &host_cuda_stats;
    k.empty_cache = &host_cuda_empty_cache;
    k.reset_peak_memory = &host_cuda_reset_peak;
    return k;
  }();
  return t;
}

}  // namespace

// Tests only: the byte offsets the CUDA offset calculator gives each element of an iteration over (out, in),
// and the offsets TensorIter's own loop visits, in the same linear order, so CI checks one against the other.
template <class IndexT>
std::vector<int64_t> calc_offsets(const TensorIter& it) {
  auto oc = cuda::make_offset_calc<2, IndexT>(it);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < it.numel; ++i) {
    IndexT off[2];
    oc.get(IndexT(i), off);
    out.push_back(int64_t(off[0]));
    out.push_back(int64_t(off[1]));
  }
  return out;
}

pyb::tuple offset_calc_check(const Tensor& out, const Tensor& in) {
  TensorIter it = TensorIter::build({&out, &in}, out.sizes());
  std::vector<int64_t> iter;
  char* base0 = it.data[0];
  char* base1 = it.data[1];
  it.serial_for_each(
      [&](char** d, const int64_t* s, int64_t n) {
        for (int64_t i = 0; i < n; ++i) {
          iter.push_back(int64_t(d[0] - base0) + i * s[0]);
          iter.push_back(int64_t(d[1] - base1) + i * s[1]);
        }
      },
      0, it.numel);
  const bool small = cuda::fits_32bit(it);
  return pyb::make_tuple(iter, small ? calc_offsets<uint32_t>(it) : calc_offsets<int64_t>(it), calc_offsets<int64_t>(it),
                         small, it.ndim);
}

void bind_device(pyb::module_& m) {
  m.def("_cuda_offset_calc_check", &offset_calc_check,
        "Tests only: (TensorIter's offsets, the CUDA offset calculator's with its chosen index width, with 64-bit "
        "indexing, whether 32-bit indexing was chosen, coalesced ndim) for an iteration over (out, in).");
  m.def("_cuda_launch_config", [](int64_t n, int per_thread, int64_t max_blocks) {
    cuda::LaunchConfig c = cuda::launch_config(n, per_thread, max_blocks);
    return std::make_tuple(c.blocks, c.threads);
  });
  m.def(
      "_cublas_gemm_plan",
      [](int64_t B, int64_t M, int64_t N, int64_t K, std::vector<int64_t> sa, std::vector<int64_t> sb,
         std::vector<int64_t> sc) -> pyb::object {
        EMBER_VALUE_CHECK(sa.size() == 3 && sb.size() == 3 && sc.size() == 3 && B >= 0 && M >= 0 && N >= 0 && K >= 0,
                          "_cublas_gemm_plan: expected sizes >= 0 and 3 strides per operand");
        auto p = cuda::plan_blas_gemm(B, M, N, K, sa.data(), sb.data(), sc.data());
        if (!p) return pyb::none();
        pyb::dict r;
        r["trans_a"] = p->trans_a;
        r["trans_b"] = p->trans_b;
        r["swapped"] = p->swapped;
        for (auto kv : {std::pair<const char*, int64_t>{"m", p->m}, {"n", p->n}, {"k", p->k}, {"lda", p->lda},
                        {"ldb", p->ldb}, {"ldc", p->ldc}, {"stride_a", p->stride_a}, {"stride_b", p->stride_b},
                        {"stride_c", p->stride_c}, {"batch", p->batch}})
          r[kv.first] = kv.second;
        return std::move(r);
      },
      "Tests only: the cublasGemmStridedBatchedEx arguments for a row-major batched product with these element "
      "strides ({batch, row, column} of A, B, C), or None when an operand must be copied first.");
  m.def(
      "_set_cuda_library_locator",
      [](pyb::function f) {
        // keeps f alive for the process; asked from C++ without the GIL held
        auto held = std::make_shared<pyb::function>(std::move(f));
        cuda::set_library_locator([held](const std::string& name) {
          pyb::gil_scoped_acquire gil;
          try {
            pyb::object r = (*held)(name);
            return r.is_none() ? std::string() : r.cast<std::string>();
          } catch (pyb::error_already_set& e) {
            return std::string();  // the locator reports nothing found; the caller's error says what to install
          }
        });
      },
      "Registers name -> absolute path (or '') for the NVIDIA libraries the CUDA module opens at run time.");
  m.def("_set_float32_matmul_tf32", &set_float32_matmul_tf32,
        "set_float32_matmul_precision's effect below Python: whether float32 CUDA GEMMs may use TF32.");
  m.def("_float32_matmul_tf32", &float32_matmul_tf32);
  m.def("_locate_cuda_library", &cuda::locate_library, pyb::call_guard<pyb::gil_scoped_release>(),
        "Tests only: asks the registered locator for a library, as the CUDA module does.");
  m.def("_to_device", [](const Tensor& t, const std::string& device) { return ops::to_device(t, parse_device(device)); },
        "A copy of t on `device` (t itself when it is already there).");
  m.def("_cuda_built", &cuda_built, "Whether this build has the CUDA kernel module.");
  m.def("_cuda_device_count", &cuda_device_count, "Usable CUDA devices (0 without the module, a driver or a GPU).");
  m.def("_cuda_device_properties", [](int device) {
    CudaDeviceProperties p = cuda_device_properties(device);
    pyb::dict r;
    r["name"] = p.name;
    r["major"] = p.major;
    r["minor"] = p.minor;
    r["multi_processor_count"] = p.multi_processor_count;
    r["total_memory"] = p.total_memory;
    r["L2_cache_size"] = p.l2_cache_size;
    return r;
  });
  m.def("_synchronize", [](const std::string& device) {
    Device d = parse_device(device);
    kernels_for(d).synchronize(d);
  });
  m.def("_kernel_entries", [] {
    std::vector<std::string> out;
    for (const char* n : kernel_entry_names()) out.emplace_back(n);
    return out;
  });
  m.def(
      "_missing_kernels", [](const std::string& device) { return missing_kernels(kernels_for(parse_device(device))); },
      "Entries of a device's kernel table that raise instead of running.");
  m.def(
      "_set_host_cuda_backend", [](bool on) { set_cuda_kernel_table_for_testing(on ? &host_cuda_table() : nullptr); },
      "Tests only: run 'cuda' tensors on host memory with the CPU kernels (device plumbing without a GPU).");
  m.def(
      "_set_host_cuda_capacity", [](size_t bytes) { g_host_device.capacity = bytes; },
      "Tests only: how many bytes the host backend's pretend device holds.");
  m.def(
      "_memory_stats", [](const std::string& device) {
        Device d = parse_device(device);
        MemoryStats s = kernels_for(d).memory_stats(d.index);
        pyb::dict r;
        r["allocated_bytes.all.current"] = s.allocated;
        r["allocated_bytes.all.peak"] = s.max_allocated;
        r["reserved_bytes.all.current"] = s.reserved;
        r["reserved_bytes.all.peak"] = s.max_reserved;
        r["num_alloc_retries"] = s.num_ooms;
        r["num_device_alloc"] = s.raw_allocs;
        r["num_device_free"] = s.raw_frees;
        r["num_ooms"] = s.num_ooms;
        return r;
      },
      "The allocator statistics of a device, with PyTorch's memory_stats() keys.");
  m.def("_empty_cache", [](const std::string& device) {
    Device d = parse_device(device);
    kernels_for(d).empty_cache(d.index);
  });
  m.def("_reset_peak_memory_stats", [](const std::string& device) {
    Device d = parse_device(device);
    kernels_for(d).reset_peak_memory(d.index);
  });
}

}  // namespace py
}  // namespace ember
