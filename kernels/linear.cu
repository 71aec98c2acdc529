// Linear CUDA kernels on the tiled GEMM of kernels/gemm_tile.cuh (cuBLAS is only the oracle):
//   forward          y[n, o]  = b[o] + sum_k x[n, k] w[o, k]    (M = batch, N = O,  K = features)
//   backward-data    dx[n, k] = sum_o dy[n, o] w[o, k]          (M = batch, N = features, K = O)
//   backward-weight  dw[o, k] = sum_n dy[n, o] x[n, k]          (M = O, N = features, K = batch)
//   db[o] = sum_n dy[n, o]. Images are flattened (C*H*W features each) and may be batch-strided.
#include "core/cuda_context.cuh"
#include "kernels/cuda_ops.h"
#include "kernels/gemm_tile.cuh"
#include "kernels/linear.h"

namespace cuviz {

namespace {

struct LinearForward : gemm::Dims {
  const float* x;
  int64_t x_stride;
  const float* w;
  const float* bias;
  float* y;
  int64_t y_stride;

  struct Col {
    const float* w;  // row o of w
  };
  __device__ Col b_col(int, int n) const { return Col{w + int64_t(n) * K}; }
  __device__ float a(int, int m, int k) const { return x[m * x_stride + k]; }
  __device__ float b(const Col& c, int k) const { return c.w[k]; }
  __device__ void store(int, int m, int n, float acc) const { y[m * y_stride + n] = acc + (bias ? bias[n] : 0.f); }
};

struct LinearBackwardData : gemm::Dims {
  const float* dy;
  int64_t dy_stride;
  const float* w;
  float* dx;
  int64_t dx_stride;

  struct Col {
    int k;  // feature index
  };
  __device__ Col b_col(int, int n) const { return Col{n}; }
  __device__ float a(int, int m, int o) const { return dy[m * dy_stride + o]; }
  __device__ float b(const Col& c, int o) const { return w[int64_t(o) * N + c.k]; }
  __device__ void store(int, int m, int n, float acc) const { dx[m * dx_stride + n] = acc; }
};

struct LinearBackwardWeight : gemm::Dims {
  const float* x;
  int64_t x_stride;
  const float* dy;
  int64_t dy_stride;
  float* dw;

  struct Col {
    int k;  // feature index
  };
  __device__ Col b_col(int, int n) const { return Col{n}; }
  __device__ float a(int, int o, int img) const { return dy[img * dy_stride + o]; }
  __device__ float b(const Col& c, int img) const { return x[img * x_stride + c.k]; }
  __device__ void store(int, int m, int n, float acc) const { dw[int64_t(m) * N + n] = acc; }
};

// db[o] = sum_n dy[n, o], n in increasing order.
__global__ void linear_bias_grad_kernel(const float* dy, int64_t dy_stride, int n, int O, float* db) {
  for (int o = blockIdx.x * blockDim.x + threadIdx.x; o < O; o += gridDim.x * blockDim.x) {
    float s = 0.f;
    for (int img = 0; img < n; ++img) s += dy[img * dy_stride + o];
    db[o] = s;
  }
}

int features_of(const Tensor& t) {
  const int64_t k = t.shape().image_size();
  CUVIZ_CHECK(k < (int64_t(1) << 31), "linear (CUDA): ", k, " features per image exceed the 32-bit index");
  return int(k);
}

}  // namespace

// kernel launchers

void linear_forward_cuda(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) {
  LinearForward prob;
  prob.M = x.n();
  prob.N = w.n();
  prob.K = features_of(x);
  prob.x = x.data();
  prob.x_stride = x.batch_stride();
  prob.w = w.data();
  prob.bias = b.defined() ? b.data() : nullptr;
  prob.y = y.data();
  prob.y_stride = y.batch_stride();
  gemm::launch(prob, 1);
}

void linear_backward_data_cuda(const Tensor& dy, const Tensor& w, const Tensor& dx) {
  LinearBackwardData prob;
  prob.M = dx.n();
  prob.N = features_of(dx);
  prob.K = w.n();
  prob.dy = dy.data();
  prob.dy_stride = dy.batch_stride();
  prob.w = w.data();
  prob.dx = dx.data();
  prob.dx_stride = dx.batch_stride();
  gemm::launch(prob, 1);
}

void linear_backward_weight_cuda(const Tensor& x, const Tensor& dy, const Tensor& dw, const Tensor& db) {
  LinearBackwardWeight prob;
  prob.M = dw.n();
  prob.N = features_of(x);
  prob.K = x.n();
  prob.x = x.data();
  prob.x_stride = x.batch_stride();
  prob.dy = dy.data();
  prob.dy_stride = dy.batch_stride();
  prob.dw = dw.data();
  gemm::launch(prob, 1);
  if (db.defined()) {
    linear_bias_grad_kernel<<<(prob.M + 255) / 256, 256, 0, current_stream()>>>(dy.data(), dy.batch_stride(), dy.n(),
                                                                                prob.M, db.data());
    CUVIZ_CUDA_LAUNCH_CHECK();
  }
}

}  // namespace cuviz
