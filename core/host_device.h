// CUVIZ_HD marks small inline maths shared by the CPU loops and the CUDA kernels, so that the
// CPU tests exercise exactly the arithmetic the GPU runs (one source of truth per formula).
#pragma once

#if defined(__CUDACC__)
#define CUVIZ_HD __host__ __device__ __forceinline__
#else
#define CUVIZ_HD inline
#endif
