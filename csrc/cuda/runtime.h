// The CUDA runtime as the kernel table sees it: checked calls, the device count, the device guard, the
// caching allocator over cudaMalloc, transfers and synchronisation. Only cuda/*.cu include this.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "core/storage.h"
#include "cuda/caching_allocator.h"

namespace ember {
namespace cuda {

[[noreturn]] void throw_cuda_error(cudaError_t e, const char* what, const char* file, int line);

}  // namespace cuda
}  // namespace ember

// Every CUDA call and launch is checked; the message names the call and the CUDA error.
#define EMBER_CUDA_CHECK(call)                                                            \
  do {                                                                                    \
    cudaError_t ember_err_ = (call);                                                      \
    if (ember_err_ != cudaSuccess) ::ember::cuda::throw_cuda_error(ember_err_, #call, __FILE__, __LINE__); \
  } while (0)
#define EMBER_CUDA_CHECK_LAUNCH() EMBER_CUDA_CHECK(cudaGetLastError())

namespace ember {
namespace cuda {

int device_count();  // 0 without a driver or a device (never throws)
int multiprocessor_count(int device);

// Makes `device` current for the scope, restoring the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = -1;
};

CachingAllocator& device_allocator();

// Kernel table entries (cuda/table.cu puts them in the CUDA slot).
Storage allocate(size_t nbytes, Device device);
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes);
void synchronize(Device device);
MemoryStats memory_stats(int device);
void empty_cache(int device);
void reset_peak_memory(int device);

}  // namespace cuda
}  // namespace ember
