// The process-wide default generator (ember.manual_seed).
#include "core/generator.h"

namespace ember {

std::shared_ptr<Generator> default_generator() {
  static std::shared_ptr<Generator> g = std::make_shared<Generator>();
  return g;
}

}  // namespace ember
