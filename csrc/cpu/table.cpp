// The CPU kernel table: every entry of EMBER_KERNEL_ENTRIES taken from namespace cpu (a missing one fails to
// compile), plus the CPU's memory entries.
#include <cstring>

#include "core/kernel_table.h"
#include "cpu/kernels.h"
#include "cpu/optim.h"

namespace ember {
namespace cpu {

Storage allocate(size_t nbytes, Device device) { return allocate_host_storage(nbytes, device); }
void copy_bytes(void* dst, Device, const void* src, Device, size_t nbytes) {
  if (nbytes) std::memcpy(dst, src, nbytes);
}
void synchronize(Device) {}
// host memory is not cached: nothing to report or empty
MemoryStats memory_stats(int) { return MemoryStats(); }
void empty_cache(int) {}
void reset_peak_memory(int) {}

}  // namespace cpu

const KernelTable& cpu_kernel_table() {
  static const KernelTable t = [] {
    KernelTable k;
    k.device_name = "cpu";
#define EMBER_CPU_SLOT(name, ret, params) k.name = &cpu::name;
    EMBER_KERNEL_ENTRIES(EMBER_CPU_SLOT)
#undef EMBER_CPU_SLOT
    return k;
  }();
  return t;
}

}  // namespace ember
