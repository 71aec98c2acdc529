// The device side of core/exec_context.h for the launchers: the stream to launch on and scratch
// memory for an op's temporaries, taken from the plan's workspace (no allocation) when the op runs
// inside a plan, else from CUDA's stream-ordered pool (direct calls: tests, benchmarks).
#pragma once

#include "core/exec_context.h"
#include "core/cuda_check.cuh"

namespace cuviz {

// The stream of the calling thread's context (0: the legacy default stream).
inline cudaStream_t current_stream() { return static_cast<cudaStream_t>(exec_context().stream); }

// `bytes` of device memory for the lifetime of the object, on the current stream. Inside a stream
// capture (the render step's CUDA graph) cudaMallocAsync / cudaFreeAsync are legal in every
// capture mode (CUDA >= 11.4): they become the graph's memory alloc / free nodes, so a replay
// allocates and frees in stream order too. Plans size their workspace so that this never happens
// in a network's forward or backward; only direct calls (tests, benchmarks) reach the pool.
class DeviceScratch {
 public:
  explicit DeviceScratch(size_t bytes) {
    const ExecContext& c = exec_context();
    if (bytes <= c.workspace_bytes) {
      data_ = c.workspace;
    } else {
      CUVIZ_CUDA_CHECK(cudaMallocAsync(&data_, bytes, current_stream()));
      owned_ = true;
    }
  }
  ~DeviceScratch() {
    if (owned_) cudaFreeAsync(data_, current_stream());
  }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;

  float* data() const { return data_; }

 private:
  float* data_ = nullptr;
  bool owned_ = false;
};

}  // namespace cuviz
