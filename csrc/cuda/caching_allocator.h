// The device memory cache: blocks freed by tensors stay in a pool per (device, stream) and are handed out
// again by size class, so a training loop stops calling the raw allocator (cudaMalloc) after its first step.
// Plain C++ over a raw allocate/free pair, so its bookkeeping is tested on the CPU with host memory.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/device.h"
#include "core/error.h"

namespace ember {
namespace cuda {

// A device ran out of memory even after the cache was emptied (ember.cuda.OutOfMemoryError in Python).
struct DeviceOutOfMemoryError : OutOfMemoryError {
  using OutOfMemoryError::OutOfMemoryError;
};

struct RawAllocator {
  void* (*alloc)(size_t nbytes, int device, void* ctx) = nullptr;  // nullptr when the device is out of memory
  void (*free)(void* ptr, int device, void* ctx) = nullptr;
  void* ctx = nullptr;
};

using AllocatorStats = MemoryStats;

class CachingAllocator {
 public:
  // caching=false hands every block straight back to the raw allocator (EMBER_CUDA_NO_CACHING=1, for sanitizers).
  CachingAllocator(RawAllocator raw, bool caching) : raw_(raw), caching_(caching) {}
  ~CachingAllocator() { empty_cache(); }
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // A block of at least nbytes on `device` for work ordered on `stream` (nullptr for 0 bytes). When the raw
  // allocator refuses, the cache of that device is freed and the request retried once, then
  // DeviceOutOfMemoryError names the sizes.
  void* allocate(size_t nbytes, int device, uintptr_t stream);
  // Returns a block from allocate() to its pool (or to the raw allocator without caching).
  void release(void* ptr);
  // Raw-frees every cached block (all devices, or one).
  void empty_cache(int device = -1);

  AllocatorStats stats(int device) const;
  void reset_peak(int device);
  bool caching() const { return caching_; }

  // Size classes: multiples of 512 bytes below 1 MiB, of 2 MiB above.
  static size_t round_size(size_t nbytes);

 private:
  struct Block {
    size_t size;
    int device;
    uintptr_t stream;
  };
  using PoolKey = std::pair<int, uintptr_t>;
  void* raw_alloc(size_t size, int device);
  void free_cached(int device);
  AllocatorStats& st(int device) { return stats_[device]; }

  RawAllocator raw_;
  bool caching_;
  mutable std::mutex mu_;
  std::unordered_map<void*, Block> live_;
  std::map<PoolKey, std::multimap<size_t, void*>> pools_;  // cached blocks by size, per (device, stream)
  std::map<int, AllocatorStats> stats_;
};

// "1" in EMBER_CUDA_NO_CACHING turns caching off.
bool caching_disabled_by_env();

}  // namespace cuda
}  // namespace ember
