// The registered library locator of cuda/library_locator.h.
#include "cuda/library_locator.h"

#include <mutex>

namespace ember {
namespace cuda {

namespace {
std::mutex g_mutex;
LibraryLocator& locator() {
  static LibraryLocator* l = new LibraryLocator();  // leaked: may be asked during interpreter shutdown
  return *l;
}
}  // namespace

void set_library_locator(LibraryLocator l) {
  std::lock_guard<std::mutex> g(g_mutex);
  locator() = std::move(l);
}

std::string locate_library(const std::string& name) {
  LibraryLocator l;
  {
    std::lock_guard<std::mutex> g(g_mutex);
    l = locator();
  }
  return l ? l(name) : std::string();
}

}  // namespace cuda
}  // namespace ember
