// Conv2d CUDA kernels: forward, backward-data and backward-weight, each an implicit GEMM on the
// shared tiled kernel of kernels/gemm_tile.cuh (operands gathered from the tensors on the fly).
// For group g (Cg = C/groups input and Og = O/groups output channels; o is an output channel of
// g, c = 0..Cg-1 an input channel within it), with x read as 0 outside the image (padding):
//   forward          y[o, i, j]       = b[o] + sum_{c,p,q} w[o, c, p, q] * x[g*Cg + c, i*sh - pt + p*dh, j*sw - pl + q*dw]
//   backward-data    dx[g*Cg + c, h, w] = sum over (o, p, q) and the output pixel (i, j) that tap (p, q) connects
//                                        to (h, w):  w[o, c, p, q] * dy[o, i, j],  where
//                                        i = (h + pt - p*dh) / sh and j = (w + pl - q*dw) / sw only when both
//                                        divisions are exact and 0 <= i < OH, 0 <= j < OW (else no term)
//   backward-weight  dw[o, c, p, q]   = sum_{n,i,j} dy[n, o, i, j] * x[n, g*Cg + c, i*sh - pt + p*dh, j*sw - pl + q*dw]
// (forward then applies max(y, 0) when the next ReLU is fused into it, Conv2dParams::fuse_relu),
// one product per (image, group) for the first two and per (K split, group) for the last.
// With a TF32/BF16 precision in the execution context (kernels/backend.h), forward and
// backward-data run the same problems on the tensor-core kernel; backward-weight stays FP32.
#include "kernels/conv2d.h"
#include "core/cuda_context.cuh"
#include "kernels/cuda_ops.h"
#include "kernels/gemm_tile.cuh"
#include "kernels/relu.h"

namespace cuviz {

namespace {

// Geometry shared by the three products (per group: Cg input and Og output channels).
struct ConvGeom {
  int C, H, W, O, OH, OW, KH, KW;
  int sh, sw, pt, pl, dh, dw;
  int groups, Cg, Og;
};

ConvGeom make_geom(const Conv2dParams& p, Shape x, Shape w, Shape y) {
  return ConvGeom{x.c,        x.h,        x.w,        y.c,      y.h,      y.w,        w.h,      w.w, p.stride_h,
                  p.stride_w, p.pad_top,  p.pad_left, p.dilation_h, p.dilation_w, p.groups, x.c / p.groups,
                  y.c / p.groups};
}

// y = w x (+ b, ReLU). z = image * groups + group; rows are the group's output channels, columns
// the output pixels, K runs over (input channel of the group, kernel row, kernel column).
struct ConvForward : gemm::Dims {
  ConvGeom g;
  const float* x;
  int64_t x_stride;
  const float* w;
  const float* bias;
  float* y;
  int64_t y_stride;
  bool relu;

  struct Col {
    const float* x;  // the image's first channel of this group
    int ih0, iw0;    // input coordinates of the kernel's (0, 0) tap
  };
  __device__ Col b_col(int z, int n) const {
    const int img = z / g.groups, grp = z % g.groups;
    const int i = n / g.OW, j = n % g.OW;
    return Col{x + img * x_stride + int64_t(grp) * g.Cg * g.H * g.W, i * g.sh - g.pt, j * g.sw - g.pl};
  }
  __device__ float a(int z, int m, int k) const {
    const int grp = z % g.groups;
    return w[int64_t(grp * g.Og + m) * K + k];
  }
  __device__ float b(const Col& c, int k) const {
    const int taps = g.KH * g.KW;
    const int ch = k / taps, r = k - ch * taps;
    const int p = r / g.KW, q = r - p * g.KW;
    const int ih = c.ih0 + p * g.dh, iw = c.iw0 + q * g.dw;
    return (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) ? c.x[(int64_t(ch) * g.H + ih) * g.W + iw] : 0.f;
  }
  __device__ void store(int z, int m, int n, float acc) const {
    const int img = z / g.groups, o = (z % g.groups) * g.Og + m;
    float v = acc + (bias ? bias[o] : 0.f);
    if (relu) v = relu_value(v);
    y[img * y_stride + int64_t(o) * g.OH * g.OW + n] = v;
  }
};

// dx = w^T dy in gather form: rows are the group's input channels, columns the input pixels, K
// runs over (output channel of the group, kernel row, kernel column). Input row h receives tap p
// from output row i exactly when h = i*sh - pt + p*dh, i.e. when (h + pt - p*dh) is a
// non-negative multiple of sh below sh*OH; all other (o, p, q) contribute zero. No atomics.
struct ConvBackwardData : gemm::Dims {
  ConvGeom g;
  const float* dy;
  int64_t dy_stride;
  const float* w;
  float* dx;
  int64_t dx_stride;

  struct Col {
    const float* dy;  // the image's first output channel of this group
    int hp, wp;       // h + pt, w + pl
  };
  __device__ Col b_col(int z, int n) const {
    const int img = z / g.groups, grp = z % g.groups;
    const int h = n / g.W, w_ = n % g.W;
    return Col{dy + img * dy_stride + int64_t(grp) * g.Og * g.OH * g.OW, h + g.pt, w_ + g.pl};
  }
  __device__ float a(int z, int m, int k) const {
    const int grp = z % g.groups, taps = g.KH * g.KW;
    const int o = k / taps, r = k - o * taps;
    return w[(int64_t(grp * g.Og + o) * g.Cg + m) * taps + r];
  }
  __device__ float b(const Col& c, int k) const {
    const int taps = g.KH * g.KW;
    const int o = k / taps, r = k - o * taps;
    const int p = r / g.KW, q = r - p * g.KW;
    const int th = c.hp - p * g.dh, tw = c.wp - q * g.dw;
    if (th < 0 || tw < 0 || th % g.sh != 0 || tw % g.sw != 0) return 0.f;
    const int i = th / g.sh, j = tw / g.sw;
    return (i < g.OH && j < g.OW) ? c.dy[(int64_t(o) * g.OH + i) * g.OW + j] : 0.f;
  }
  __device__ void store(int z, int m, int n, float acc) const {
    const int img = z / g.groups, ch = (z % g.groups) * g.Cg + m;
    dx[img * dx_stride + int64_t(ch) * g.H * g.W + n] = acc;
  }
};

// Partial dw over a slice of K = (image, output row, output column): z = split * groups + group.
// Rows are the group's output channels, columns (input channel of the group, p, q). Each split
// writes its own slab of the workspace; reduce_splits_kernel sums the slabs in a fixed order, so
// the result does not depend on scheduling (no atomics).
struct ConvBackwardWeight : gemm::Dims {
  ConvGeom g;
  const float* x;
  int64_t x_stride;
  const float* dy;
  int64_t dy_stride;
  float* partial;  // splits x O x (Cg*KH*KW)
  int split_len;

  __device__ int2 k_range(int z) const {
    const int s = z / g.groups;
    return make_int2(s * split_len, min(K, (s + 1) * split_len));
  }
  struct Col {
    const float* x;  // channel c of the group in image 0
    int oh, ow;      // p*dh - pt, q*dw - pl
  };
  __device__ Col b_col(int z, int n) const {
    const int grp = z % g.groups, taps = g.KH * g.KW;
    const int ch = n / taps, r = n - ch * taps;
    const int p = r / g.KW, q = r - p * g.KW;
    return Col{x + int64_t(grp * g.Cg + ch) * g.H * g.W, p * g.dh - g.pt, q * g.dw - g.pl};
  }
  __device__ float a(int z, int m, int k) const {
    const int grp = z % g.groups, pix = g.OH * g.OW;
    const int img = k / pix, ij = k - img * pix;
    return dy[img * dy_stride + int64_t(grp * g.Og + m) * pix + ij];
  }
  __device__ float b(const Col& c, int k) const {
    const int pix = g.OH * g.OW;
    const int img = k / pix, ij = k - img * pix;
    const int i = ij / g.OW, j = ij - i * g.OW;
    const int ih = i * g.sh + c.oh, iw = j * g.sw + c.ow;
    return (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) ? c.x[img * x_stride + int64_t(ih) * g.W + iw] : 0.f;
  }
  __device__ void store(int z, int m, int n, float acc) const {
    const int s = z / g.groups, o = (z % g.groups) * g.Og + m;
    partial[(int64_t(s) * g.O + o) * N + n] = acc;
  }
};

// dw[e] = sum_s partial[s][e], s in increasing order.
__global__ void reduce_splits_kernel(const float* partial, int splits, int64_t count, float* dw) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < count; e += int64_t(gridDim.x) * blockDim.x) {
    float s = 0.f;
    for (int k = 0; k < splits; ++k) s += partial[k * count + e];
    dw[e] = s;
  }
}

// db[o] = sum_{n, i, j} dy[n, o, i, j]: one block per output channel, a fixed-order tree sum.
__global__ void bias_grad_kernel(const float* dy, int64_t dy_stride, int n, int pix, float* db) {
  __shared__ float part[256];
  const int o = blockIdx.x;
  float s = 0.f;
  for (int img = 0; img < n; ++img) {
    const float* d = dy + img * dy_stride + int64_t(o) * pix;
    for (int k = threadIdx.x; k < pix; k += blockDim.x) s += d[k];
  }
  part[threadIdx.x] = s;
  __syncthreads();
  for (int h = blockDim.x / 2; h > 0; h /= 2) {
    if (int(threadIdx.x) < h) part[threadIdx.x] += part[threadIdx.x + h];
    __syncthreads();
  }
  if (threadIdx.x == 0) db[o] = part[0];
}

// Forward and backward-data: FP32 tiles, or the tensor cores at the context's precision.
template <class P>
void launch_product(const P& prob, int batches) {
  const Precision prec = exec_context().precision;
  if (prec == Precision::fp32)
    gemm::launch(prob, batches);
  else
    gemm::launch_tensor_core(prob, batches, prec);
}

// Images per launch so that images x groups fits the grid's z dimension (65535).
int images_per_launch(int groups) { return std::max(1, 65535 / groups); }

// Chunks of the weight gradient's K = batch x output pixels reduction, each summed into its own
// partial dw: enough that the grid covers the GPU about twice (264 blocks of 64 x 64), but at
// least 8 chunks of K per split so that each block does real work.
int weight_grad_splits(const ConvBackwardWeight& prob, int groups) {
  const int64_t tiles = int64_t((prob.M + 63) / 64) * ((prob.N + 63) / 64) * groups;
  const int64_t max_splits = std::max<int64_t>(1, prob.K / (8 * gemm::kBK));
  const int64_t grid_cap = std::max(1, 65535 / groups);
  return int(std::clamp<int64_t>((264 + tiles - 1) / tiles, 1, std::min<int64_t>({max_splits, 256, grid_cap})));
}

// The weight-gradient problem of x -> dy: geometry and GEMM sizes, without pointers.
ConvBackwardWeight weight_grad_problem(const Conv2dParams& p, Shape x, Shape dw, Shape dy) {
  ConvBackwardWeight prob;
  prob.g = make_geom(p, x, dw, dy);
  prob.M = prob.g.Og;
  prob.N = prob.g.Cg * prob.g.KH * prob.g.KW;
  const int64_t k_total = int64_t(x.n) * prob.g.OH * prob.g.OW;
  CUVIZ_CHECK(k_total < (int64_t(1) << 31), "conv2d_backward_weight (CUDA): batch x output pixels = ", k_total,
              " exceeds the 32-bit reduction index");
  prob.K = int(k_total);
  return prob;
}

}  // namespace

// kernel launchers

void conv2d_forward_cuda(const Conv2dParams& p, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) {
  ConvForward prob;
  prob.g = make_geom(p, x.shape(), w.shape(), y.shape());
  prob.M = prob.g.Og;
  prob.N = prob.g.OH * prob.g.OW;
  prob.K = prob.g.Cg * prob.g.KH * prob.g.KW;
  prob.x = x.data();
  prob.x_stride = x.batch_stride();
  prob.w = w.data();
  prob.bias = b.defined() ? b.data() : nullptr;
  prob.y = y.data();
  prob.y_stride = y.batch_stride();
  prob.relu = p.fuse_relu;
  for (int n0 = 0; n0 < x.n(); n0 += images_per_launch(p.groups)) {
    const int count = std::min(x.n() - n0, images_per_launch(p.groups));
    prob.x = x.image(n0);
    prob.y = y.image(n0);
    launch_product(prob, count * p.groups);
  }
}

void conv2d_backward_data_cuda(const Conv2dParams& p, const Tensor& dy, const Tensor& w, const Tensor& dx) {
  ConvBackwardData prob;
  prob.g = make_geom(p, dx.shape(), w.shape(), dy.shape());
  prob.M = prob.g.Cg;
  prob.N = prob.g.H * prob.g.W;
  prob.K = prob.g.Og * prob.g.KH * prob.g.KW;
  prob.dy = dy.data();
  prob.dy_stride = dy.batch_stride();
  prob.w = w.data();
  prob.dx = dx.data();
  prob.dx_stride = dx.batch_stride();
  for (int n0 = 0; n0 < dx.n(); n0 += images_per_launch(p.groups)) {
    const int count = std::min(dx.n() - n0, images_per_launch(p.groups));
    prob.dy = dy.image(n0);
    prob.dx = dx.image(n0);
    launch_product(prob, count * p.groups);
  }
}

size_t conv2d_backward_weight_cuda_workspace(const Conv2dParams& p, Shape x, Shape dw, Shape dy) {
  const ConvBackwardWeight prob = weight_grad_problem(p, x, dw, dy);
  return size_t(weight_grad_splits(prob, p.groups)) * prob.g.O * prob.N * sizeof(float);
}

void conv2d_backward_weight_cuda(const Conv2dParams& p, const Tensor& x, const Tensor& dy, const Tensor& dw,
                                 const Tensor& db) {
  ConvBackwardWeight prob = weight_grad_problem(p, x.shape(), dw.shape(), dy.shape());
  const int splits = weight_grad_splits(prob, p.groups);
  prob.split_len = int((int64_t(prob.K) + splits - 1) / splits);
  prob.x = x.data();
  prob.x_stride = x.batch_stride();
  prob.dy = dy.data();
  prob.dy_stride = dy.batch_stride();
  const int64_t count = int64_t(prob.g.O) * prob.N;
  const DeviceScratch partial(size_t(splits) * count * sizeof(float));  // the plan's workspace inside a plan
  prob.partial = partial.data();
  gemm::launch(prob, splits * p.groups, gemm::Tile::t64x64);
  const int threads = 256, blocks = int(std::min<int64_t>((count + threads - 1) / threads, 65535));
  reduce_splits_kernel<<<blocks, threads, 0, current_stream()>>>(partial.data(), splits, count, dw.data());
  CUVIZ_CUDA_LAUNCH_CHECK();
  if (db.defined()) {
    bias_grad_kernel<<<prob.g.O, 256, 0, current_stream()>>>(dy.data(), dy.batch_stride(), dy.n(),
                                                             prob.g.OH * prob.g.OW, db.data());
    CUVIZ_CUDA_LAUNCH_CHECK();
  }
}

}  // namespace cuviz
