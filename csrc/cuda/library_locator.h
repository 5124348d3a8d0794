// Finding the NVIDIA libraries the CUDA module opens at run time (cuBLAS): the Python layer registers a
// locator (ember.cuda._find_nvidia_library, over cuda-python's cuda.pathfinder), so nothing is linked at build
// time and cuda-python is imported only when a library is first needed.
#pragma once
#include <functional>
#include <string>

namespace ember {
namespace cuda {

// name -> absolute path of the loaded library, or "" when it cannot be found.
using LibraryLocator = std::function<std::string(const std::string&)>;
void set_library_locator(LibraryLocator locator);
std::string locate_library(const std::string& name);

}  // namespace cuda
}  // namespace ember
