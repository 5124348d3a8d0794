// Storage: a ref-counted, 64-byte-aligned block of bytes shared by a tensor and all its views,
// plus the version counter that autograd uses to detect in-place changes to saved tensors.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/device.h"
#include "core/intrusive_ptr.h"

namespace ember {

constexpr size_t kAlignment = 64;

struct StorageImpl {
  std::atomic<int64_t> refcount_{1};
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;
  // Frees `data` for storages that do not own an inline block (external memory such as numpy arrays).
  void (*deleter)(void* ctx) = nullptr;
  void* deleter_ctx = nullptr;
  bool inline_block = false;  // header and data were allocated together
  bool read_only = false;     // memory the owner marked read-only (a non-writeable numpy array): writes raise

  static void destroy(StorageImpl* s);
};
using Storage = intrusive_ptr<StorageImpl>;

// Allocates nbytes (zero allowed) on `device`, through that device's kernel table. Throws OutOfMemoryError
// with a clear message on failure.
Storage allocate_storage(size_t nbytes, Device device = Device());
// Host memory (64-byte aligned, huge pages for large blocks), labelled with `device` (the CPU, except for the
// tests' host-backed CUDA slot).
Storage allocate_host_storage(size_t nbytes, Device device = Device());
// Bytes of freed large host blocks held for reuse (see storage.cpp), and releasing them all.
size_t host_cache_bytes();
void host_cache_clear();
// Wraps memory owned elsewhere; deleter(ctx) runs when the last reference goes away.
Storage wrap_storage(void* data, size_t nbytes, void (*deleter)(void*), void* ctx, Device device = Device());

// Shared by a tensor and its views (not by .data / detach-less aliases that PyTorch gives a fresh counter).
struct VersionCounter {
  std::atomic<int64_t> refcount_{1};
  std::atomic<int64_t> version{0};
  static void destroy(VersionCounter* v) { delete v; }
};
using VersionPtr = intrusive_ptr<VersionCounter>;
inline VersionPtr new_version_counter() { return VersionPtr::adopt(new VersionCounter()); }

// Number of live storages (tests use it to prove saved tensors are freed after backward).
int64_t live_storage_count();

}  // namespace ember
