// Aligned allocation with a size sanity check, so absurd requests fail fast instead of overcommitting.
#include "core/storage.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <new>

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

// Header rounded up to the alignment so the data that follows it stays 64-byte aligned.
static constexpr size_t kHeader = (sizeof(StorageImpl) + kAlignment - 1) / kAlignment * kAlignment;

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
  size_t total = (kHeader + nbytes + align - 1) / align * align;
  void* block = std::aligned_alloc(align, total);
  if (!block) throw OutOfMemoryError(str("ember: can't allocate memory: you tried to allocate ", nbytes, " bytes"));
#ifdef MADV_HUGEPAGE
  if (huge) madvise(block, total, MADV_HUGEPAGE);
#endif
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
    s->~StorageImpl();
    std::free(s);
    return;
  }
  if (s->deleter) s->deleter(s->deleter_ctx);
  delete s;
}

}  // namespace ember
