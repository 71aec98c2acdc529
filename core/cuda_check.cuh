// Error checking for every CUDA call and kernel launch (llm.c's cudaCheck, tiny-cuda-nn's
// CUDA_CHECK_THROW): failures throw cuviz::Error naming the call, the file and the line.
#pragma once

#include <cuda_runtime.h>

#include "core/error.h"

namespace cuviz {
// Throws with the call text, location and CUDA's error string when `err` is not cudaSuccess.
inline void cuda_check(cudaError_t err, const char* call, const char* file, int line) {
  if (err != cudaSuccess)
    throw Error(cat("CUDA error: ", call, " failed at ", file, ":", line, ": ", cudaGetErrorName(err), " (",
                    cudaGetErrorString(err), ")"));
}
}  // namespace cuviz

#define CUVIZ_CUDA_CHECK(call) ::cuviz::cuda_check((call), #call, __FILE__, __LINE__)
// After every kernel launch: catches bad launch configurations at once.
#define CUVIZ_CUDA_LAUNCH_CHECK() ::cuviz::cuda_check(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
