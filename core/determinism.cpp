#include "core/determinism.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace cuviz {

namespace {

bool from_environment() {
  const char* v = std::getenv("CUVIZ_DETERMINISTIC");
  return v && *v && std::strcmp(v, "0") != 0;
}

std::atomic<bool>& mode() {
  static std::atomic<bool> on{from_environment()};
  return on;
}

}  // namespace

bool deterministic() { return mode().load(std::memory_order_relaxed); }
void set_deterministic(bool on) { mode().store(on, std::memory_order_relaxed); }

}  // namespace cuviz
