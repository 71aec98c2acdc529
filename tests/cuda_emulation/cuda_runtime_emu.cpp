// Host emulation of nn/cuda_runtime (scripts/cuda-emulate.sh): one "device" whose memory is
// host memory, so Buffer, copy and fill work on Device::cuda tensors and GPU tests run.
#include <cstdlib>
#include <cstring>

#include "core/cuda_runtime.h"

namespace cuviz::cuda_rt {

int device_count() { return 1; }
void* malloc(size_t bytes) { return std::malloc(bytes); }
void free(void* p) noexcept { std::free(p); }
void memcpy(void* dst, bool, const void* src, bool, size_t bytes) { std::memmove(dst, src, bytes); }
void fill(float* p, int64_t n, float v) {
  for (int64_t i = 0; i < n; ++i) p[i] = v;
}
void synchronize() {}
void* stream_create() { return nullptr; }
void stream_destroy(void*) noexcept {}
void stream_synchronize(void*) {}
void memcpy_2d(void* dst, bool, size_t dst_pitch, const void* src, bool, size_t src_pitch, size_t width, size_t rows) {
  for (size_t r = 0; r < rows; ++r)
    std::memmove(static_cast<char*>(dst) + r * dst_pitch, static_cast<const char*>(src) + r * src_pitch, width);
}
void memcpy_to_device_async(void* dst, const void* src, size_t bytes) { std::memmove(dst, src, bytes); }
void* host_alloc(size_t bytes) { return std::malloc(bytes); }
void host_free(void* p) noexcept { std::free(p); }
void profiler_start() {}
void profiler_stop() {}

}  // namespace cuviz::cuda_rt
