// The cuDNN / cuBLAS oracle of kernels/cudnn_oracle.h: every call builds its descriptors, runs
// NVIDIA's implementation in strict FP32 (CUDNN_FMA_MATH: no TF32 tensor cores) on the current
// stream (core/cuda_context.cuh) and throws cuviz::Error naming the call on any failure. Built without cuDNN (CMake did
// not find it), only the cuBLAS linear remains and the cuDNN entry points throw.
#include <cublas_v2.h>

#include <map>
#include <string>

#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "core/determinism.h"
#include "kernels/cudnn_oracle.h"

#if CUVIZ_HAS_CUDNN
#include <cudnn.h>
#endif

namespace cuviz {

namespace {

void cublas_check(cublasStatus_t s, const char* call, const char* file, int line) {
  if (s != CUBLAS_STATUS_SUCCESS) throw Error(cat("cuBLAS error: ", call, " failed at ", file, ":", line, ": status ", int(s)));
}
#define CUVIZ_CUBLAS_CHECK(call) cublas_check((call), #call, __FILE__, __LINE__)

// The process-wide cuBLAS handle, bound to the calling thread's current stream. Never destroyed:
// destroying it from a static destructor would race the CUDA runtime's own teardown at exit.
cublasHandle_t blas_handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t b = nullptr;
    CUVIZ_CUBLAS_CHECK(cublasCreate(&b));
    CUVIZ_CUBLAS_CHECK(cublasSetMathMode(b, CUBLAS_DEFAULT_MATH));
    return b;
  }();
  CUVIZ_CUBLAS_CHECK(cublasSetStream(h, current_stream()));
  return h;
}

// y[n, o] += b[o].
__global__ void add_bias_kernel(float* y, int64_t y_stride, const float* b, int n, int O) {
  const int64_t total = int64_t(n) * O;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x)
    y[(e / O) * y_stride + e % O] += b[e % O];
}

}  // namespace

bool cublas_oracle_available() { return cuda_available(); }

std::string cublas_version() {
  int v[3] = {0, 0, 0};
  const libraryPropertyType parts[3] = {MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL};
  for (int i = 0; i < 3; ++i)
    if (cublasGetProperty(parts[i], &v[i]) != CUBLAS_STATUS_SUCCESS) return "unknown";
  return cat(v[0], ".", v[1], ".", v[2]);
}

void cublas_linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) {
  const int n = x.n(), O = w.n(), K = int(x.shape().image_size());
  CUVIZ_CHECK(w.shape().image_size() == K && y.n() == n && y.c() == O, "cublas_linear_forward: x ", x.shape().str(),
              ", w ", w.shape().str(), ", y ", y.shape().str(), " do not fit");
  // Column-major view: Y^T (O x n, ld = y stride) = W (O x K, stored as K x O) ^T * X^T (K x n).
  const float one = 1.f, zero = 0.f;
  const int ldx = n > 1 ? int(x.batch_stride()) : K, ldy = n > 1 ? int(y.batch_stride()) : O;
  CUVIZ_CUBLAS_CHECK(cublasSgemm(blas_handle(), CUBLAS_OP_T, CUBLAS_OP_N, O, n, K, &one, w.data(), K, x.data(), ldx,
                                 &zero, y.data(), ldy));
  if (b.defined()) {
    const int blocks = int(std::min<int64_t>((int64_t(n) * O + 255) / 256, 65535));
    add_bias_kernel<<<blocks, 256, 0, current_stream()>>>(y.data(), y.batch_stride(), b.data(), n, O);
    CUVIZ_CUDA_LAUNCH_CHECK();
  }
}

#if CUVIZ_HAS_CUDNN

namespace {

void cudnn_check(cudnnStatus_t s, const char* call, const char* file, int line) {
  if (s != CUDNN_STATUS_SUCCESS)
    throw Error(cat("cuDNN error: ", call, " failed at ", file, ":", line, ": ", cudnnGetErrorString(s)));
}
#define CUVIZ_CUDNN_CHECK(call) cudnn_check((call), #call, __FILE__, __LINE__)

// The process-wide cuDNN handle and a workspace that only grows (never freed, as above): it is
// allocated by the first calls of each size, so a loop over the same shapes allocates nothing after
// its first pass.
struct Dnn {
  cudnnHandle_t handle = nullptr;
  void* ws = nullptr;
  size_t ws_bytes = 0;
  void* workspace(size_t bytes) {
    if (bytes > ws_bytes) {
      if (ws) CUVIZ_CUDA_CHECK(cudaFree(ws));
      ws = nullptr;
      CUVIZ_CUDA_CHECK(cudaMalloc(&ws, bytes));
      ws_bytes = bytes;
    }
    return ws;
  }
};
// The handle, bound to the calling thread's current stream.
Dnn& dnn() {
  static Dnn* d = [] {
    auto* s = new Dnn;
    CUVIZ_CUDNN_CHECK(cudnnCreate(&s->handle));
    return s;
  }();
  CUVIZ_CUDNN_CHECK(cudnnSetStream(d->handle, current_stream()));
  return *d;
}

struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  explicit TensorDesc(const Tensor& t) {
    CUVIZ_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d));
    const int hw = t.h() * t.w();
    const int ns = t.n() > 1 ? int(t.batch_stride()) : int(t.shape().image_size());
    CUVIZ_CUDNN_CHECK(cudnnSetTensor4dDescriptorEx(d, CUDNN_DATA_FLOAT, t.n(), t.c(), t.h(), t.w(), ns, hw, t.w(), 1));
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
};

struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  explicit FilterDesc(const Tensor& w) {
    CUVIZ_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d));
    CUVIZ_CUDNN_CHECK(cudnnSetFilter4dDescriptor(d, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, w.n(), w.c(), w.h(), w.w()));
  }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(d); }
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
};

struct ConvDesc {
  cudnnConvolutionDescriptor_t d = nullptr;
  explicit ConvDesc(const Conv2dParams& p) {
    CUVIZ_CHECK(p.pad_top == p.pad_bottom && p.pad_left == p.pad_right, "cudnn conv2d oracle: asymmetric padding (",
                p.pad_top, "/", p.pad_bottom, ", ", p.pad_left, "/", p.pad_right, ") is not supported by cuDNN");
    CUVIZ_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d));
    CUVIZ_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(d, p.pad_top, p.pad_left, p.stride_h, p.stride_w, p.dilation_h,
                                                      p.dilation_w, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUVIZ_CUDNN_CHECK(cudnnSetConvolutionGroupCount(d, p.groups));
    CUVIZ_CUDNN_CHECK(cudnnSetConvolutionMathType(d, CUDNN_FMA_MATH));
  }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(d); }
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
};

// Cache key of an exhaustive algorithm search: direction, shapes, strides and parameters.
std::string conv_key(char dir, const Conv2dParams& p, const Tensor& x, const Tensor& w) {
  return cat(dir, x.shape().str(), x.batch_stride(), w.shape().str(), p.stride_h, p.stride_w, p.pad_top, p.pad_left,
             p.dilation_h, p.dilation_w, p.groups, deterministic() ? "d" : "");
}

// Algorithms that compute the plain sum of products (GEMM or direct). FFT and Winograd
// transforms are exact in exact arithmetic but round differently (errors ~1e-5 relative), so
// the oracle avoids them; the benchmark baseline (exhaustive search) may pick any algorithm.
bool plain_sum(cudnnConvolutionFwdAlgo_t a) {
  return a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM || a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
         a == CUDNN_CONVOLUTION_FWD_ALGO_GEMM || a == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
}
bool plain_sum(cudnnConvolutionBwdDataAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 || a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
}
bool plain_sum(cudnnConvolutionBwdFilterAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 ||
         a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
}

// The first algorithm cuDNN reports as usable in FP32 FMA math, in its order (fastest first);
// with `plain_only`, the first that is also a plain sum of products. In deterministic mode
// (core/determinism.h) only algorithms cuDNN reports as CUDNN_DETERMINISTIC (some backward
// algorithms add partial sums with atomics: BWD_DATA_ALGO_0, BWD_FILTER_ALGO_0 and _3).
template <class Perf>
auto first_ok(const Perf* perf, int count, bool plain_only, const char* what) {
  const bool need_deterministic = deterministic();
  for (int i = 0; i < count; ++i) {
    const bool tensor_cores =
        perf[i].mathType == CUDNN_TENSOR_OP_MATH || perf[i].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
    if (perf[i].status == CUDNN_STATUS_SUCCESS && !tensor_cores && (!plain_only || plain_sum(perf[i].algo)) &&
        (!need_deterministic || perf[i].determinism == CUDNN_DETERMINISTIC))
      return perf[i].algo;
  }
  throw Error(cat("cuDNN: no usable FP32 ", what, " algorithm", plain_only ? " (GEMM or direct)" : "",
                  need_deterministic ? " that is deterministic" : ""));
}

}  // namespace

std::string cudnn_version() {
  int v[3] = {0, 0, 0};
  const libraryPropertyType parts[3] = {MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL};
  for (int i = 0; i < 3; ++i)
    if (cudnnGetProperty(parts[i], &v[i]) != CUDNN_STATUS_SUCCESS) return "unknown";
  return cat(v[0], ".", v[1], ".", v[2]);
}

bool cudnn_oracle_available() {
  if (!cuda_available()) return false;
  try {
    dnn();
    return true;
  } catch (const Error&) {
    return false;  // libcudnn present at link time but not loadable here (e.g. missing engine libraries)
  }
}

void cudnn_conv2d_forward(const Conv2dParams& p, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y,
                          bool exhaustive) {
  Dnn& d = dnn();
  TensorDesc xd(x), yd(y);
  FilterDesc wd(w);
  ConvDesc cd(p);
  static std::map<std::string, cudnnConvolutionFwdAlgo_t> found;
  cudnnConvolutionFwdAlgoPerf_t perf[16];
  int count = 0;
  cudnnConvolutionFwdAlgo_t algo;
  const std::string key = conv_key('f', p, x, w);
  if (exhaustive && found.count(key)) {
    algo = found[key];
  } else if (exhaustive) {
    CUVIZ_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(d.handle, xd.d, wd.d, cd.d, yd.d, 16, &count, perf));
    algo = found[key] = first_ok(perf, count, false, "forward convolution");
  } else {
    CUVIZ_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(d.handle, xd.d, wd.d, cd.d, yd.d, 16, &count, perf));
    algo = first_ok(perf, count, true, "forward convolution");
  }
  size_t bytes = 0;
  CUVIZ_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(d.handle, xd.d, wd.d, cd.d, yd.d, algo, &bytes));
  const float one = 1.f, zero = 0.f;
  CUVIZ_CUDNN_CHECK(cudnnConvolutionForward(d.handle, &one, xd.d, x.data(), wd.d, w.data(), cd.d, algo,
                                            d.workspace(bytes), bytes, &zero, yd.d, y.data()));
  if (b.defined()) {
    TensorDesc bd(b);
    CUVIZ_CUDNN_CHECK(cudnnAddTensor(d.handle, &one, bd.d, b.data(), &one, yd.d, y.data()));
  }
  if (p.fuse_relu) {
    cudnnActivationDescriptor_t ad;
    CUVIZ_CUDNN_CHECK(cudnnCreateActivationDescriptor(&ad));
    CUVIZ_CUDNN_CHECK(cudnnSetActivationDescriptor(ad, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));
    const cudnnStatus_t s = cudnnActivationForward(d.handle, ad, &one, yd.d, y.data(), &zero, yd.d, y.data());
    cudnnDestroyActivationDescriptor(ad);
    CUVIZ_CUDNN_CHECK(s);
  }
}

void cudnn_conv2d_backward_data(const Conv2dParams& p, const Tensor& dy, const Tensor& w, const Tensor& dx,
                                bool exhaustive) {
  Dnn& d = dnn();
  TensorDesc dyd(dy), dxd(dx);
  FilterDesc wd(w);
  ConvDesc cd(p);
  static std::map<std::string, cudnnConvolutionBwdDataAlgo_t> found;
  cudnnConvolutionBwdDataAlgoPerf_t perf[16];
  int count = 0;
  cudnnConvolutionBwdDataAlgo_t algo;
  const std::string key = conv_key('d', p, dx, w);
  if (exhaustive && found.count(key)) {
    algo = found[key];
  } else if (exhaustive) {
    CUVIZ_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(d.handle, wd.d, dyd.d, cd.d, dxd.d, 16, &count, perf));
    algo = found[key] = first_ok(perf, count, false, "backward-data convolution");
  } else {
    CUVIZ_CUDNN_CHECK(
        cudnnGetConvolutionBackwardDataAlgorithm_v7(d.handle, wd.d, dyd.d, cd.d, dxd.d, 16, &count, perf));
    algo = first_ok(perf, count, true, "backward-data convolution");
  }
  size_t bytes = 0;
  CUVIZ_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(d.handle, wd.d, dyd.d, cd.d, dxd.d, algo, &bytes));
  const float one = 1.f, zero = 0.f;
  CUVIZ_CUDNN_CHECK(cudnnConvolutionBackwardData(d.handle, &one, wd.d, w.data(), dyd.d, dy.data(), cd.d, algo,
                                                 d.workspace(bytes), bytes, &zero, dxd.d, dx.data()));
}

void cudnn_conv2d_backward_weight(const Conv2dParams& p, const Tensor& x, const Tensor& dy, const Tensor& dw,
                                  const Tensor& db) {
  Dnn& d = dnn();
  TensorDesc xd(x), dyd(dy);
  FilterDesc wd(dw);
  ConvDesc cd(p);
  cudnnConvolutionBwdFilterAlgoPerf_t perf[16];
  int count = 0;
  CUVIZ_CUDNN_CHECK(
      cudnnGetConvolutionBackwardFilterAlgorithm_v7(d.handle, xd.d, dyd.d, cd.d, wd.d, 16, &count, perf));
  const cudnnConvolutionBwdFilterAlgo_t algo = first_ok(perf, count, true, "backward-filter convolution");
  size_t bytes = 0;
  CUVIZ_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(d.handle, xd.d, dyd.d, cd.d, wd.d, algo, &bytes));
  const float one = 1.f, zero = 0.f;
  CUVIZ_CUDNN_CHECK(cudnnConvolutionBackwardFilter(d.handle, &one, xd.d, x.data(), dyd.d, dy.data(), cd.d, algo,
                                                   d.workspace(bytes), bytes, &zero, wd.d, dw.data()));
  if (db.defined()) {
    TensorDesc bd(db);
    CUVIZ_CUDNN_CHECK(cudnnConvolutionBackwardBias(d.handle, &one, dyd.d, dy.data(), &zero, bd.d, db.data()));
  }
}

void cudnn_pool2d_forward(const Pool2dParams& p, const Tensor& x, const Tensor& y) {
  const int kh = p.global ? x.h() : p.kernel_h, kw = p.global ? x.w() : p.kernel_w;
  const int sh = p.global ? 1 : p.stride_h, sw = p.global ? 1 : p.stride_w;
  const int ph = p.global ? 0 : p.pad_top, pw = p.global ? 0 : p.pad_left;
  CUVIZ_CHECK(p.global || (p.pad_top == p.pad_bottom && p.pad_left == p.pad_right && p.dilation_h == 1 &&
                           p.dilation_w == 1),
              "cudnn pool2d oracle: needs symmetric padding and no dilation");
  Dnn& d = dnn();
  TensorDesc xd(x), yd(y);
  cudnnPoolingDescriptor_t pd;
  CUVIZ_CUDNN_CHECK(cudnnCreatePoolingDescriptor(&pd));
  const cudnnPoolingMode_t mode = p.mode == PoolMode::max ? CUDNN_POOLING_MAX
                                  : p.count_include_pad    ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                                                           : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
  cudnnStatus_t s = cudnnSetPooling2dDescriptor(pd, mode, CUDNN_NOT_PROPAGATE_NAN, kh, kw, ph, pw, sh, sw);
  int n = 0, c = 0, h = 0, w = 0;
  if (s == CUDNN_STATUS_SUCCESS) s = cudnnGetPooling2dForwardOutputDim(pd, xd.d, &n, &c, &h, &w);
  const float one = 1.f, zero = 0.f;
  const bool fits = s == CUDNN_STATUS_SUCCESS && Shape{n, c, h, w} == y.shape();
  if (fits) s = cudnnPoolingForward(d.handle, pd, &one, xd.d, x.data(), &zero, yd.d, y.data());
  cudnnDestroyPoolingDescriptor(pd);
  CUVIZ_CUDNN_CHECK(s);
  CUVIZ_CHECK(fits, "cudnn pool2d oracle: cuDNN's (floor) output ", Shape{n, c, h, w}.str(), " differs from y ",
              y.shape().str());
}

void cudnn_lrn_forward(const LrnParams& p, const Tensor& x, const Tensor& y) {
  Dnn& d = dnn();
  TensorDesc xd(x), yd(y);
  cudnnLRNDescriptor_t ld;
  CUVIZ_CUDNN_CHECK(cudnnCreateLRNDescriptor(&ld));
  const float one = 1.f, zero = 0.f;
  cudnnStatus_t s = cudnnSetLRNDescriptor(ld, unsigned(p.size), p.alpha, p.beta, p.k);
  if (s == CUDNN_STATUS_SUCCESS)
    s = cudnnLRNCrossChannelForward(d.handle, ld, CUDNN_LRN_CROSS_CHANNEL_DIM1, &one, xd.d, x.data(), &zero, yd.d,
                                    y.data());
  cudnnDestroyLRNDescriptor(ld);
  CUVIZ_CUDNN_CHECK(s);
}

void cudnn_softmax_forward(const Tensor& x, const Tensor& y, bool log) {
  Dnn& d = dnn();
  TensorDesc xd(x), yd(y);
  const float one = 1.f, zero = 0.f;
  CUVIZ_CUDNN_CHECK(cudnnSoftmaxForward(d.handle, log ? CUDNN_SOFTMAX_LOG : CUDNN_SOFTMAX_ACCURATE,
                                        CUDNN_SOFTMAX_MODE_CHANNEL, &one, xd.d, x.data(), &zero, yd.d, y.data()));
}

#else  // built with CUDA but without cuDNN

namespace {
[[noreturn]] void no_cudnn(const char* op) {
  throw Error(cat(op, ": this cuviz was built without cuDNN (CMake did not find cudnn.h / libcudnn)"));
}
}  // namespace

bool cudnn_oracle_available() { return false; }
std::string cudnn_version() { return ""; }
void cudnn_conv2d_forward(const Conv2dParams&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, bool) {
  no_cudnn("cudnn_conv2d_forward");
}
void cudnn_conv2d_backward_data(const Conv2dParams&, const Tensor&, const Tensor&, const Tensor&, bool) {
  no_cudnn("cudnn_conv2d_backward_data");
}
void cudnn_conv2d_backward_weight(const Conv2dParams&, const Tensor&, const Tensor&, const Tensor&, const Tensor&) {
  no_cudnn("cudnn_conv2d_backward_weight");
}
void cudnn_pool2d_forward(const Pool2dParams&, const Tensor&, const Tensor&) { no_cudnn("cudnn_pool2d_forward"); }
void cudnn_lrn_forward(const LrnParams&, const Tensor&, const Tensor&) { no_cudnn("cudnn_lrn_forward"); }
void cudnn_softmax_forward(const Tensor&, const Tensor&, bool) { no_cudnn("cudnn_softmax_forward"); }

#endif

}  // namespace cuviz
