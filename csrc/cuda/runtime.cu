// CUDA runtime services behind the kernel table: device discovery, the device guard, the caching allocator
// over cudaMalloc/cudaFree, host<->device copies and synchronisation. The runtime is linked statically and
// first touched here, on first use, so `import ember` works on machines with no GPU or driver.
#include "cuda/runtime.h"

#include <mutex>

namespace ember {
namespace cuda {

void throw_cuda_error(cudaError_t e, const char* what, const char* file, int line) {
  if (e == cudaErrorMemoryAllocation)
    throw DeviceOutOfMemoryError(str("CUDA out of memory (", what, ")"));
  throw std::runtime_error(str("CUDA error: ", cudaGetErrorString(e), " (", cudaGetErrorName(e), ") in ", what, " at ",
                               file, ":", line));
}

int device_count() {
  static int n = [] {
    int c = 0;
    if (cudaGetDeviceCount(&c) != cudaSuccess) {
      (void)cudaGetLastError();  // no driver / no device: report none, leave no sticky error
      return 0;
    }
    return c;
  }();
  return n;
}

int multiprocessor_count(int device) {
  static int counts[64] = {};
  if (device < 0 || device >= 64) return 1;
  if (!counts[device]) {
    int v = 0;
    EMBER_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, device));
    counts[device] = v > 0 ? v : 1;
  }
  return counts[device];
}

DeviceGuard::DeviceGuard(int device) {
  EMBER_CUDA_CHECK(cudaGetDevice(&prev_));
  if (prev_ != device) EMBER_CUDA_CHECK(cudaSetDevice(device));
  else prev_ = -1;
}

DeviceGuard::~DeviceGuard() {
  if (prev_ >= 0) (void)cudaSetDevice(prev_);
}

namespace {

void* raw_alloc(size_t nbytes, int device, void*) {
  DeviceGuard g(device);
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, nbytes);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // the allocator empties its cache and retries
    return nullptr;
  }
  EMBER_CUDA_CHECK(e);
  return p;
}

void raw_free(void* p, int device, void*) {
  DeviceGuard g(device);
  EMBER_CUDA_CHECK(cudaFree(p));
}

void release_block(void* p) { device_allocator().release(p); }

void check_device(Device device) {
  EMBER_RUNTIME_CHECK(device_count() > 0, "CUDA is not available: no CUDA device was found");
  EMBER_RUNTIME_CHECK(device.index >= 0 && device.index < device_count(), "CUDA error: invalid device ordinal (",
                      device.str(), " requested, ", device_count(), " device(s) visible)");
}

}  // namespace

CachingAllocator& device_allocator() {
  // never destroyed: at exit the CUDA runtime may already be gone, and the driver frees device memory anyway
  static CachingAllocator* a = new CachingAllocator(RawAllocator{raw_alloc, raw_free, nullptr}, !caching_disabled_by_env());
  return *a;
}

Storage allocate(size_t nbytes, Device device) {
  check_device(device);
  // one stream per device for now (the legacy default stream), so blocks never cross streams
  void* p = device_allocator().allocate(nbytes, device.index, 0);
  return wrap_storage(p, nbytes, release_block, p, device);
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) {
  if (!nbytes) return;
  const Device d = dst_device.is_cpu() ? src_device : dst_device;
  DeviceGuard g(d.index);
  // unified addressing tells the runtime each pointer's side; the copy is synchronous for pageable memory
  EMBER_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDefault));
}

void synchronize(Device device) {
  check_device(device);
  DeviceGuard g(device.index);
  EMBER_CUDA_CHECK(cudaDeviceSynchronize());
}

MemoryStats memory_stats(int device) { return device_allocator().stats(device); }
void empty_cache(int device) { device_allocator().empty_cache(device); }
void reset_peak_memory(int device) { device_allocator().reset_peak(device); }

}  // namespace cuda
}  // namespace ember
