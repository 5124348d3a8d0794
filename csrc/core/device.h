// Device: where a tensor's memory lives (the CPU, or CUDA device `index`), and the memory statistics a
// device's allocator keeps.
#pragma once
#include <cstdint>
#include <string>

namespace ember {

enum class DeviceType : int8_t { CPU = 0, CUDA = 1 };

struct Device {
  DeviceType type = DeviceType::CPU;
  int16_t index = -1;
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const {
    std::string s = type == DeviceType::CPU ? "cpu" : "cuda";
    if (index >= 0) s += ":" + std::to_string(index);
    return s;
  }
};

// What a device allocator reports (ember.cuda.memory_allocated and friends).
struct MemoryStats {
  int64_t allocated = 0, max_allocated = 0;  // bytes of live blocks (rounded to their size class)
  int64_t reserved = 0, max_reserved = 0;    // bytes held from the raw allocator (live + cached)
  int64_t raw_allocs = 0, raw_frees = 0;     // calls into the raw allocator (cudaMalloc / cudaFree)
  int64_t num_ooms = 0;                       // raw allocations refused (each retried once after emptying the cache)
};

}  // namespace ember
