// The per-device kernel tables: lookup, the test hook for the CUDA slot, and the entries that raise for a
// kernel a device lacks.
#include "core/kernel_table.h"

#include <atomic>
#include <string>

#include "core/error.h"

namespace ember {

const std::vector<const char*>& kernel_entry_names() {
  static const std::vector<const char*> names = {
#define EMBER_KERNEL_NAME(name, ret, params) #name,
      EMBER_KERNEL_ENTRIES(EMBER_KERNEL_NAME)
#undef EMBER_KERNEL_NAME
  };
  return names;
}

namespace {

[[noreturn]] void throw_missing(const char* name) {
  if (!cuda_built())
    throw NotImplementedError(str("\"", name, "\" not implemented for 'cuda': Ember was built without CUDA"));
  throw NotImplementedError(str("\"", name, "\" not implemented for 'cuda'"));
}

#define EMBER_MISSING_KERNEL(name, ret, params) \
  [[noreturn]] ret missing_##name params { throw_missing(#name); }
EMBER_KERNEL_ENTRIES(EMBER_MISSING_KERNEL)
#undef EMBER_MISSING_KERNEL

std::atomic<const KernelTable*> g_cuda_override{nullptr};
std::atomic<bool> g_float32_matmul_tf32{false};

}  // namespace

// Every entry raises; cuda/ starts from this table and fills what it implements.
const KernelTable& cuda_missing_table() {
  static const KernelTable t = [] {
    KernelTable k;
    k.device_name = "cuda";
#define EMBER_MISSING_SLOT(name, ret, params) k.name = &missing_##name;
    EMBER_KERNEL_ENTRIES(EMBER_MISSING_SLOT)
#undef EMBER_MISSING_SLOT
    return k;
  }();
  return t;
}

std::vector<std::string> missing_kernels(const KernelTable& table) {
  const KernelTable& m = cuda_missing_table();
  std::vector<std::string> out;
#define EMBER_MISSING_CHECK(name, ret, params) \
  if (!table.name || table.name == m.name) out.emplace_back(#name);
  EMBER_KERNEL_ENTRIES(EMBER_MISSING_CHECK)
#undef EMBER_MISSING_CHECK
  return out;
}

const KernelTable& kernels_for(Device device) {
  if (device.type == DeviceType::CPU) return cpu_kernel_table();
  const KernelTable* t = g_cuda_override.load(std::memory_order_acquire);
  return t ? *t : cuda_kernel_table();
}

void set_cuda_kernel_table_for_testing(const KernelTable* table) {
  g_cuda_override.store(table, std::memory_order_release);
}

void set_float32_matmul_tf32(bool allowed) { g_float32_matmul_tf32 = allowed; }
bool float32_matmul_tf32() { return g_float32_matmul_tf32; }

}  // namespace ember
