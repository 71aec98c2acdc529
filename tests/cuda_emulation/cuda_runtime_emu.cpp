// Host emulation of nn/cuda_runtime (scripts/cuda-emulate.sh): one "device" whose memory is
// host memory, so Buffer, copy and fill work on Device::cuda tensors and GPU tests run.
#include <cstdlib>
#include <cstring>

#include "nn/cuda_runtime.h"

namespace cuviz::cuda_rt {

int device_count() { return 1; }
void* malloc(size_t bytes) { return std::malloc(bytes); }
void free(void* p) noexcept { std::free(p); }
void memcpy(void* dst, bool, const void* src, bool, size_t bytes) { std::memmove(dst, src, bytes); }
void fill(float* p, int64_t n, float v) {
  for (int64_t i = 0; i < n; ++i) p[i] = v;
}
void synchronize() {}

}  // namespace cuviz::cuda_rt
