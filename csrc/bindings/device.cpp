// Bindings for devices: a tensor's device, moving tensors between devices, the kernel tables (which entries a
// device lacks) and the tests' host-backed CUDA slot.
#include <string>

#include "bindings/casters.h"
#include "core/kernel_table.h"
#include "ops/common.h"

namespace ember {
namespace py {

// "cpu", "cuda", "cuda:1" (ember.device's str()); a bare "cuda" means device 0.
Device parse_device(const std::string& s) {
  Device d;
  std::string type = s, index;
  size_t colon = s.find(':');
  if (colon != std::string::npos) {
    type = s.substr(0, colon);
    index = s.substr(colon + 1);
  }
  if (type == "cpu") {
    EMBER_RUNTIME_CHECK(index.empty() || index == "0", "Invalid device string: '", s, "'");
    return d;
  }
  EMBER_RUNTIME_CHECK(type == "cuda", "Expected one of cpu, cuda device type at start of device string: ", s);
  d.type = DeviceType::CUDA;
  d.index = 0;
  if (!index.empty()) {
    size_t used = 0;
    int v = -1;
    try {
      v = std::stoi(index, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    EMBER_RUNTIME_CHECK(used == index.size() && v >= 0 && v < 32768, "Invalid device string: '", s, "'");
    d.index = int16_t(v);
  }
  return d;
}

namespace {

// The CPU's kernels in the CUDA slot, on host memory labelled cuda: exercises the device plumbing (allocation
// on the operands' device, device checks, transfers) in CI. Reachable only from tests; never GPU evidence.
const KernelTable& host_cuda_table() {
  static const KernelTable t = [] {
    KernelTable k = cpu_kernel_table();
    k.device_name = "cuda (host test backend)";
    return k;
  }();
  return t;
}

}  // namespace

void bind_device(pyb::module_& m) {
  m.def("_to_device", [](const Tensor& t, const std::string& device) { return ops::to_device(t, parse_device(device)); },
        "A copy of t on `device` (t itself when it is already there).");
  m.def("_cuda_built", &cuda_built, "Whether this build has the CUDA kernel module.");
  m.def("_kernel_entries", [] {
    std::vector<std::string> out;
    for (const char* n : kernel_entry_names()) out.emplace_back(n);
    return out;
  });
  m.def(
      "_missing_kernels", [](const std::string& device) { return missing_kernels(kernels_for(parse_device(device))); },
      "Entries of a device's kernel table that raise instead of running.");
  m.def(
      "_set_host_cuda_backend", [](bool on) { set_cuda_kernel_table_for_testing(on ? &host_cuda_table() : nullptr); },
      "Tests only: run 'cuda' tensors on host memory with the CPU kernels (device plumbing without a GPU).");
}

}  // namespace py
}  // namespace ember
