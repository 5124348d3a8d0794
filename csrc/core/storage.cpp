// Aligned allocation with a size sanity check, so absurd requests fail fast instead of overcommitting.
#include "core/storage.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/kernel_table.h"

namespace ember {

static std::atomic<int64_t> g_live_storages{0};
int64_t live_storage_count() { return g_live_storages.load(); }

static size_t physical_memory_bytes() {
  static size_t bytes = [] {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    return (pages > 0 && page > 0) ? size_t(pages) * size_t(page) : size_t(1) << 62;
  }();
  return bytes;
}

static constexpr size_t kHugePage = size_t(2) << 20;
static constexpr size_t kHugeThreshold = size_t(4) << 20;
// glibc serves requests from this size up with fresh mappings (its default mmap threshold): the blocks worth caching
static constexpr size_t kCacheThreshold = size_t(128) << 10;

// Header rounded up to the alignment so the data that follows it stays 64-byte aligned.
static constexpr size_t kHeader = (sizeof(StorageImpl) + kAlignment - 1) / kAlignment * kAlignment;

// Freed large blocks (128 KiB and up) are kept for reuse. A training step allocates the same large outputs every iteration, and
// a fresh block costs a page fault and the kernel zeroing every page (about 1 ms per 16 MiB on a server core),
// more than a memory-bound kernel writing it. glibc maps each such block anew (an aligned request is larger
// than the block it freed, so its adaptive mmap threshold never covers it). Blocks are matched by their exact
// (2 MiB-rounded) size; the oldest are released first when the total would pass the limit: min(RAM / 16,
// 1 GiB), or EMBER_CPU_CACHE_MB (0 turns the cache off; it is off in sanitizer builds, which must see frees).
namespace {
struct HostBlockCache {
  std::mutex mu;
  std::deque<std::pair<size_t, void*>> blocks;  // (total size, block), oldest first
  size_t bytes = 0;
  size_t limit = 0;
};

HostBlockCache& host_cache() {
  static HostBlockCache* c = [] {
    auto* cache = new HostBlockCache;  // never destroyed: storages may be freed during interpreter exit
#if defined(__SANITIZE_ADDRESS__)
    cache->limit = 0;
#else
    cache->limit = std::min<size_t>(physical_memory_bytes() / 16, size_t(1) << 30);
    if (const char* env = std::getenv("EMBER_CPU_CACHE_MB")) {
      char* end = nullptr;
      unsigned long long mb = std::strtoull(env, &end, 10);
      if (end != env && *end == '\0') cache->limit = size_t(std::min<unsigned long long>(mb, 1ull << 30)) << 20;
    }
#endif
    return cache;
  }();
  return *c;
}

void* take_cached_block(size_t total) {
  HostBlockCache& c = host_cache();
  if (c.limit == 0) return nullptr;
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto it = c.blocks.rbegin(); it != c.blocks.rend(); ++it) {  // newest first: likeliest still in cache
    if (it->first == total) {
      void* block = it->second;
      c.bytes -= total;
      c.blocks.erase(std::next(it).base());
      return block;
    }
  }
  return nullptr;
}

// Keeps the block (true) or leaves it to the caller to free (false).
bool keep_block(void* block, size_t total) {
  HostBlockCache& c = host_cache();
  if (total > c.limit) return false;
  std::vector<void*> evicted;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    while (c.bytes + total > c.limit && !c.blocks.empty()) {
      evicted.push_back(c.blocks.front().second);
      c.bytes -= c.blocks.front().first;
      c.blocks.pop_front();
    }
    c.blocks.emplace_back(total, block);
    c.bytes += total;
  }
  for (void* b : evicted) std::free(b);
  return true;
}

size_t block_total(size_t nbytes) {
  const size_t align = nbytes >= kHugeThreshold ? kHugePage : kAlignment;
  return (kHeader + nbytes + align - 1) / align * align;
}
}  // namespace

size_t host_cache_bytes() {
  HostBlockCache& c = host_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.bytes;
}

void host_cache_clear() {
  HostBlockCache& c = host_cache();
  std::deque<std::pair<size_t, void*>> blocks;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    blocks.swap(c.blocks);
    c.bytes = 0;
  }
  for (auto& b : blocks) std::free(b.second);
}

Storage allocate_storage(size_t nbytes, Device device) {
  if (!device.is_cpu()) return kernels_for(device).allocate(nbytes, device);
  return allocate_host_storage(nbytes, device);
}

Storage allocate_host_storage(size_t nbytes, Device device) {
  if (nbytes > physical_memory_bytes()) {
    throw OutOfMemoryError(str("ember: can't allocate memory: you tried to allocate ", nbytes,
                               " bytes, more than this machine's ", physical_memory_bytes(), " bytes of RAM"));
  }
  // Large blocks are 2 MiB aligned and marked for transparent huge pages (as numpy does): first-touch
  // page faults drop 512-fold, which is most of the cost of writing a fresh large output.
  const bool huge = nbytes >= kHugeThreshold;
  const size_t align = huge ? kHugePage : kAlignment;
  const size_t total = block_total(nbytes);
  void* block = nbytes >= kCacheThreshold ? take_cached_block(total) : nullptr;
  if (!block) {
    block = std::aligned_alloc(align, total);
    if (!block && nbytes >= kCacheThreshold) {  // the cache may hold what the system lacks
      host_cache_clear();
      block = std::aligned_alloc(align, total);
    }
    if (!block) throw OutOfMemoryError(str("ember: can't allocate memory: you tried to allocate ", nbytes, " bytes"));
#ifdef MADV_HUGEPAGE
    if (huge) madvise(block, total, MADV_HUGEPAGE);
#endif
  }
  auto* s = new (block) StorageImpl();
  s->data = static_cast<char*>(block) + kHeader;
  s->nbytes = nbytes;
  s->device = device;
  s->inline_block = true;
  g_live_storages.fetch_add(1, std::memory_order_relaxed);
  return Storage::adopt(s);
}

Storage wrap_storage(void* data, size_t nbytes, void (*deleter)(void*), void* ctx, Device device) {
  auto* s = new StorageImpl();
  s->data = data;
  s->nbytes = nbytes;
  s->device = device;
  s->deleter = deleter;
  s->deleter_ctx = ctx;
  g_live_storages.fetch_add(1, std::memory_order_relaxed);
  return Storage::adopt(s);
}

void StorageImpl::destroy(StorageImpl* s) {
  g_live_storages.fetch_sub(1, std::memory_order_relaxed);
  if (s->inline_block) {
    const size_t nbytes = s->nbytes;
    s->~StorageImpl();
    if (nbytes < kCacheThreshold || !keep_block(s, block_total(nbytes))) std::free(s);
    return;
  }
  if (s->deleter) s->deleter(s->deleter_ctx);
  delete s;
}

}  // namespace ember
