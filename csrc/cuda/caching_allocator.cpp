// The device memory cache (cuda/caching_allocator.h): size classes, per-(device, stream) pools, statistics,
// and the empty-the-cache-and-retry path on out-of-memory.
#include "cuda/caching_allocator.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace ember {
namespace cuda {

namespace {
constexpr size_t kSmall = size_t(1) << 20;
constexpr size_t kSmallRound = 512;
constexpr size_t kLargeRound = size_t(2) << 20;

std::string mib(double bytes) { return str(double(int64_t(bytes / 1048576.0 * 100 + 0.5)) / 100, " MiB"); }
}  // namespace

bool caching_disabled_by_env() {
  const char* v = std::getenv("EMBER_CUDA_NO_CACHING");
  return v && std::strcmp(v, "1") == 0;
}

size_t CachingAllocator::round_size(size_t nbytes) {
  if (nbytes < kSmall) return std::max<size_t>(kSmallRound, (nbytes + kSmallRound - 1) / kSmallRound * kSmallRound);
  EMBER_CHECK(nbytes <= SIZE_MAX - kLargeRound, DeviceOutOfMemoryError, "CUDA out of memory. Tried to allocate ",
              nbytes, " bytes");
  return (nbytes + kLargeRound - 1) / kLargeRound * kLargeRound;
}

void* CachingAllocator::raw_alloc(size_t size, int device) {
  void* p = raw_.alloc(size, device, raw_.ctx);
  AllocatorStats& s = st(device);
  if (!p) {
    ++s.num_ooms;
    free_cached(device);
    p = raw_.alloc(size, device, raw_.ctx);
  }
  if (!p) {
    throw DeviceOutOfMemoryError(str("CUDA out of memory. Tried to allocate ", mib(double(size)), " on device ",
                                     device, " (", mib(double(s.allocated)), " allocated by Ember, ",
                                     mib(double(s.reserved)), " reserved by Ember; the cache was emptied and the "
                                     "allocation retried). Free tensors or reduce the batch size."));
  }
  ++s.raw_allocs;
  s.reserved += int64_t(size);
  s.max_reserved = std::max(s.max_reserved, s.reserved);
  return p;
}

void* CachingAllocator::allocate(size_t nbytes, int device, uintptr_t stream) {
  if (nbytes == 0) return nullptr;
  const size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(mu_);
  void* p = nullptr;
  auto pool = pools_.find({device, stream});
  if (pool != pools_.end()) {
    // best fit, but never a block more than twice the request (a small tensor must not pin a huge block)
    auto it = pool->second.lower_bound(size);
    if (it != pool->second.end() && it->first <= 2 * size) {
      p = it->second;
      live_[p] = Block{it->first, device, stream};
      pool->second.erase(it);
    }
  }
  if (!p) {
    p = raw_alloc(size, device);
    live_[p] = Block{size, device, stream};
  }
  AllocatorStats& s = st(device);
  s.allocated += int64_t(live_[p].size);
  s.max_allocated = std::max(s.max_allocated, s.allocated);
  return p;
}

void CachingAllocator::release(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(ptr);
  EMBER_CHECK(it != live_.end(), std::logic_error, "CachingAllocator::release: unknown block");
  const Block b = it->second;
  live_.erase(it);
  AllocatorStats& s = st(b.device);
  s.allocated -= int64_t(b.size);
  if (caching_) {
    pools_[{b.device, b.stream}].emplace(b.size, ptr);
    return;
  }
  raw_.free(ptr, b.device, raw_.ctx);
  ++s.raw_frees;
  s.reserved -= int64_t(b.size);
}

void CachingAllocator::free_cached(int device) {
  for (auto& [key, blocks] : pools_) {
    if (device >= 0 && key.first != device) continue;
    AllocatorStats& s = st(key.first);
    for (auto& [size, p] : blocks) {
      raw_.free(p, key.first, raw_.ctx);
      ++s.raw_frees;
      s.reserved -= int64_t(size);
    }
    blocks.clear();
  }
}

void CachingAllocator::empty_cache(int device) {
  std::lock_guard<std::mutex> lock(mu_);
  free_cached(device);
}

AllocatorStats CachingAllocator::stats(int device) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = stats_.find(device);
  return it == stats_.end() ? AllocatorStats() : it->second;
}

void CachingAllocator::reset_peak(int device) {
  std::lock_guard<std::mutex> lock(mu_);
  AllocatorStats& s = st(device);
  s.max_allocated = s.allocated;
  s.max_reserved = s.reserved;
}

}  // namespace cuda
}  // namespace ember
