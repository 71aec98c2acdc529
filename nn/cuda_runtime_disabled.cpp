// Stand-ins for nn/cuda_runtime.cu when cuviz is built without CUDA (CUVIZ_CUDA=OFF or no nvcc).
#include "nn/cuda_runtime.h"
#include "nn/error.h"

namespace cuviz::cuda_rt {

namespace {
[[noreturn]] void unavailable() {
  throw Error("this cuviz was built without CUDA (configure with -DCUVIZ_CUDA=ON on a machine with nvcc)");
}
}  // namespace

int device_count() { return 0; }
void* malloc(size_t) { unavailable(); }
void free(void*) noexcept {}
void memcpy(void*, bool, const void*, bool, size_t) { unavailable(); }
void fill(float*, int64_t, float) { unavailable(); }
void synchronize() { unavailable(); }
void memory_info(size_t&, size_t&) { unavailable(); }
const char* device_name() { unavailable(); }

}  // namespace cuviz::cuda_rt
