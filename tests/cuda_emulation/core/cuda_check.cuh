// Host emulation of the CUDA kernels (scripts/cuda-emulate.sh): replaces core/cuda_check.cuh
// so that kernels/*.cu compile as plain C++. Kernels run serially, one thread per block
// (blockDim = 1, every block in turn), which is exact for the grid-stride and block-per-item
// kernels of cuviz; "device" memory is host memory. Checks index maths, not races or speed.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(x)
#define __shared__
#define __syncthreads()
// With one thread per block the block-wide votes are that thread's predicate.
inline int __syncthreads_or(int p) { return p != 0; }
inline int __syncthreads_and(int p) { return p != 0; }
inline int __syncthreads_count(int p) { return p != 0; }

enum cudaError_t { cudaSuccess = 0 };
// Streams exist only as handles: everything runs in order on the host.
using cudaStream_t = struct CUstream_st*;
enum cudaMemcpyKind { cudaMemcpyDeviceToDevice };
struct int2 {
  int x, y;
};
inline int2 make_int2(int a, int b) { return int2{a, b}; }
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3() = default;
  dim3(long a, long b = 1, long c = 1) : x(unsigned(a)), y(unsigned(b)), z(unsigned(c)) {}
};
namespace emu {
inline dim3 blockIdx, threadIdx, blockDim, gridDim;
}
using emu::blockDim;
using emu::blockIdx;
using emu::gridDim;
using emu::threadIdx;
inline int min(int a, int b) { return a < b ? a : b; }

// kernel<<<grid, block>>>(args) is rewritten to emu_launch(grid, block, [&] { kernel(args); }),
// kernel<<<grid, block, smem, stream>>>(args) to emu_launch(grid, block, smem, stream, [&] { ... }).
template <class F>
void emu_launch(dim3 grid, dim3, F run_block) {
  emu::blockDim = dim3(1);
  emu::gridDim = grid;
  emu::threadIdx = dim3(0, 0, 0);
  for (unsigned b = 0; b < grid.x; ++b) {
    emu::blockIdx = dim3(b, 0, 0);
    run_block();
  }
}
template <class F>
void emu_launch(dim3 grid, dim3 block, size_t, cudaStream_t, F run_block) {
  emu_launch(grid, block, run_block);
}

// Fresh allocations are filled with NaN bytes, so reading unwritten workspace shows up.
template <class T>
cudaError_t cudaMallocAsync(T** p, size_t bytes, cudaStream_t) {
  *p = static_cast<T*>(std::malloc(bytes));
  std::memset(static_cast<void*>(*p), 0xff, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaFreeAsync(void* p, cudaStream_t) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                                     size_t height, cudaMemcpyKind, cudaStream_t) {
  CUVIZ_CHECK(dpitch >= width && spitch >= width, "cudaMemcpy2DAsync (emulated): pitch smaller than width");
  for (size_t r = 0; r < height; ++r)
    std::memmove(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
  return cudaSuccess;
}

#define CUVIZ_CUDA_CHECK(call) (void)(call)
#define CUVIZ_CUDA_LAUNCH_CHECK() (void)0
