// Gram matrices and the style loss on CUDA (kernels/gram.h), as problems of the tiled GEMM of
// kernels/gemm_tile.cuh (one product per image, blockIdx.z):
//   forward        G_z[a, b] = sum_k F_z[a, k] F_z[b, k] / D            (M = N = C, K = H*W)
//   backward       dF_z[a, k] = sum_b (dG_z[a, b] + dG_z[b, a]) F_z[b, k] / D   (M = C, N = H*W, K = C)
//   style backward dF_z[a, k] += sum_b coef w_z (R_ab + R_ba) F_z[b, k], R = G_z - T  (dE/dG formed as
//                  the A operand is staged: the loss's gradient is never written out)
// and a per-image reduction of s sum (G - T)^2 in double (fixed tree order).
#include "core/cuda_context.cuh"
#include "kernels/cuda_ops.h"
#include "kernels/gemm_tile.cuh"
#include "kernels/gram.h"

namespace cuviz {

namespace {

struct GramForward : gemm::Dims {
  const float* f;
  int64_t f_stride;
  float* g;
  float inv;

  struct Col {
    const float* row;  // row n of image z's F
  };
  __device__ Col b_col(int z, int n) const { return Col{f + z * f_stride + int64_t(n) * K}; }
  __device__ float a(int z, int m, int k) const { return f[z * f_stride + int64_t(m) * K + k]; }
  __device__ float b(const Col& c, int k) const { return c.row[k]; }
  __device__ void store(int z, int m, int n, float acc) const { g[int64_t(z) * M * M + int64_t(m) * M + n] = acc * inv; }
};

struct GramBackward : gemm::Dims {
  const float* f;
  int64_t f_stride;
  const float* dg;
  float* df;
  int64_t df_stride;
  float inv;

  struct Col {
    const float* col;  // column n of image z's F
  };
  __device__ Col b_col(int z, int n) const { return Col{f + z * f_stride + n}; }
  __device__ float a(int z, int m, int k) const {
    const float* d = dg + int64_t(z) * M * M;
    return (d[int64_t(m) * M + k] + d[int64_t(k) * M + m]) * inv;
  }
  __device__ float b(const Col& c, int k) const { return c.col[int64_t(k) * N]; }
  __device__ void store(int z, int m, int n, float acc) const { df[z * df_stride + int64_t(m) * N + n] = acc; }
};

struct StyleBackward : gemm::Dims {
  const float* f;
  int64_t f_stride;
  const float* g;
  const float* t;
  const float* weights;
  const int* slots;
  float coef;
  float* df;
  int64_t df_stride;

  struct Col {
    const float* col;
  };
  __device__ Col b_col(int z, int n) const { return Col{f + z * f_stride + n}; }
  __device__ float a(int z, int m, int k) const {
    const float w = weights[slots ? slots[z] : z];
    const int64_t e = int64_t(m) * M + k, et = int64_t(k) * M + m;
    const float* gz = g + int64_t(z) * M * M;
    return coef * w * ((gz[e] - t[e]) + (gz[et] - t[et]));
  }
  __device__ float b(const Col& c, int k) const { return c.col[int64_t(k) * N]; }
  __device__ void store(int z, int m, int n, float acc) const { df[z * df_stride + int64_t(m) * N + n] += acc; }
};

constexpr int kThreads = 256;

// One block per image: values[slot] = s * sum (G - T)^2.
__global__ void style_values_kernel(const float* g, const float* t, int64_t cc, float s, float* values,
                                    const int* slots) {
  __shared__ double part[kThreads];
  const float* gi = g + blockIdx.x * cc;
  double e = 0;
  for (int64_t k = threadIdx.x; k < cc; k += blockDim.x) {
    const double d = double(gi[k]) - t[k];
    e += d * d;
  }
  part[threadIdx.x] = e;
  __syncthreads();
  for (int half = int(blockDim.x) / 2; half > 0; half /= 2) {  // blockDim.x: the emulation runs 1 thread
    if (int(threadIdx.x) < half) part[threadIdx.x] += part[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) values[slots ? slots[blockIdx.x] : blockIdx.x] = float(double(s) * part[0]);
}

}  // namespace

void gram_forward_cuda(GramNorm n, const Tensor& f, const Tensor& g) {
  GramForward p;
  p.M = p.N = f.c();
  p.K = f.h() * f.w();
  p.f = f.data();
  p.f_stride = f.batch_stride();
  p.g = g.data();
  p.inv = float(1.0 / gram_divisor(n, f.c(), f.h(), f.w()));
  gemm::launch(p, f.n());
}

void gram_backward_cuda(GramNorm n, const Tensor& f, const Tensor& dg, const Tensor& df) {
  GramBackward p;
  p.M = p.K = f.c();
  p.N = f.h() * f.w();
  p.f = f.data();
  p.f_stride = f.batch_stride();
  p.dg = dg.data();
  p.df = df.data();
  p.df_stride = df.batch_stride();
  p.inv = float(1.0 / gram_divisor(n, f.c(), f.h(), f.w()));
  gemm::launch(p, f.n());
}

void style_loss_values_cuda(const Tensor& gram, const Tensor& target, float s, float* values, const int* slots) {
  style_values_kernel<<<gram.n(), kThreads, 0, current_stream()>>>(gram.data(), target.data(),
                                                                   int64_t(gram.c()) * gram.c(), s, values, slots);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void style_loss_backward_cuda(const Tensor& f, const Tensor& gram, const Tensor& target, float coef,
                              const float* weights, const int* slots, const Tensor& df) {
  StyleBackward p;
  p.M = p.K = f.c();
  p.N = f.h() * f.w();
  p.f = f.data();
  p.f_stride = f.batch_stride();
  p.g = gram.data();
  p.t = target.data();
  p.weights = weights;
  p.slots = slots;
  p.coef = coef;
  p.df = df.data();
  p.df_stride = df.batch_stride();
  gemm::launch(p, f.n());
}

}  // namespace cuviz
