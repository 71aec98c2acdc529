// The handful of CUDA runtime services the CPU-side code needs (allocation, copies, fills).
// Implemented in nn/cuda_runtime.cu when cuviz is built with CUDA and in
// nn/cuda_runtime_disabled.cpp otherwise, where every call but device_count throws.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cuviz::cuda_rt {

// Number of usable devices; 0 when the runtime reports any error (no driver, no device).
int device_count();
// cudaMalloc that throws cuviz::Error with the size and the CUDA error on failure.
void* malloc(size_t bytes);
// cudaFree; never throws (used from destructors).
void free(void* p) noexcept;
// cudaMemcpy of `bytes` bytes; each side on the CPU or the device.
void memcpy(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t bytes);
// Sets n floats at p (device memory) to v.
void fill(float* p, int64_t n, float v);
// Waits for all work on the device (used by copies to the host and by tests).
void synchronize();
// Free and total bytes of the current device's memory.
void memory_info(size_t& free_bytes, size_t& total_bytes);
// The current device's name, e.g. "NVIDIA H100 80GB HBM3".
const char* device_name();

}  // namespace cuviz::cuda_rt
