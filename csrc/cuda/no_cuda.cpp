// A build without the CUDA kernel module: every CUDA entry raises "... Ember was built without CUDA".
#include "core/kernel_table.h"

namespace ember {

const KernelTable& cuda_missing_table();

const KernelTable& cuda_kernel_table() { return cuda_missing_table(); }
bool cuda_built() { return false; }
int cuda_device_count() { return 0; }
CudaDeviceProperties cuda_device_properties(int) {
  throw std::runtime_error("Ember was built without CUDA support (ember.cuda.is_available() is False)");
}

}  // namespace ember
