// 2-D convolution on the CPU: plain seven-loop references (float and double) and the fast path,
// im2col + SGEMM per image and group:  Y_g (O/G x P) = W_g (O/G x K) * col_g (K x P), with
// K = C/G * kh * kw and P = out_h * out_w. Backward-data is W_g^T dY_g followed by col2im;
// backward-weight is dY_g col_g^T summed over the batch. Derivations: docs/backprop/conv2d_linear.md.
#include "kernels/conv2d.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

#include "kernels/check.h"
#include "kernels/cuda_ops.h"
#include "kernels/gemm.h"

namespace cuviz {

namespace {

// Everything the loops need, derived once from the parameters and the input/weight shapes.
struct ConvGeometry {
  int n, c, h, w;         // input
  int o, kh, kw;          // weights {o, c / groups, kh, kw}
  int oh, ow;             // output spatial size
  int groups, cg, og;     // groups, input and output channels per group
  int64_t k;              // rows of one group's column matrix: cg * kh * kw
  int64_t pix;            // output pixels per image: oh * ow
  Shape out() const { return Shape{n, o, oh, ow}; }
};

// Validates parameters and shapes (naming `op`), returns the geometry.
ConvGeometry conv_geometry(const char* op, const Conv2dParams& p, Shape x, Shape w) {
  CUVIZ_CHECK(p.stride_h >= 1 && p.stride_w >= 1, op, ": stride must be >= 1, got ", p.stride_h, "x", p.stride_w);
  CUVIZ_CHECK(p.dilation_h >= 1 && p.dilation_w >= 1, op, ": dilation must be >= 1, got ", p.dilation_h, "x",
              p.dilation_w);
  CUVIZ_CHECK(p.pad_top >= 0 && p.pad_left >= 0 && p.pad_bottom >= 0 && p.pad_right >= 0, op,
              ": padding must be >= 0, got top ", p.pad_top, " left ", p.pad_left, " bottom ", p.pad_bottom, " right ",
              p.pad_right);
  CUVIZ_CHECK(p.groups >= 1, op, ": groups must be >= 1, got ", p.groups);
  CUVIZ_CHECK(x.n > 0 && x.c > 0 && x.h > 0 && x.w > 0, op, ": input ", x.str(), " has a zero-sized dimension");
  CUVIZ_CHECK(w.n > 0 && w.c > 0 && w.h > 0 && w.w > 0, op, ": weights ", w.str(), " have a zero-sized dimension");
  CUVIZ_CHECK(x.c % p.groups == 0, op, ": ", p.groups, " groups do not divide the ", x.c, " input channels of ",
              x.str());
  CUVIZ_CHECK(w.n % p.groups == 0, op, ": ", p.groups, " groups do not divide the ", w.n,
              " output channels of weights ", w.str());
  CUVIZ_CHECK(w.c * p.groups == x.c, op, ": weights ", w.str(), " expect ", w.c, " x ", p.groups,
              " groups = ", int64_t(w.c) * p.groups, " input channels, input ", x.str(), " has ", x.c);
  const int64_t ekh = int64_t(w.h - 1) * p.dilation_h + 1, ekw = int64_t(w.w - 1) * p.dilation_w + 1;
  const int64_t ph = int64_t(x.h) + p.pad_top + p.pad_bottom, pw = int64_t(x.w) + p.pad_left + p.pad_right;
  CUVIZ_CHECK(ekh <= ph && ekw <= pw, op, ": kernel ", w.h, "x", w.w, " (dilated ", ekh, "x", ekw,
              ") is larger than the padded input ", ph, "x", pw, " of ", x.str());
  ConvGeometry g;
  g.n = x.n, g.c = x.c, g.h = x.h, g.w = x.w;
  g.o = w.n, g.kh = w.h, g.kw = w.w;
  g.oh = int((ph - ekh) / p.stride_h + 1);
  g.ow = int((pw - ekw) / p.stride_w + 1);
  g.groups = p.groups, g.cg = x.c / p.groups, g.og = w.n / p.groups;
  g.k = int64_t(g.cg) * g.kh * g.kw;
  g.pix = int64_t(g.oh) * g.ow;
  CUVIZ_CHECK(g.k * p.groups * g.pix < INT_MAX && int64_t(x.c) * x.h * x.w < INT_MAX, op, ": input ", x.str(),
              " with weights ", w.str(), " is too large for 32-bit GEMM indices");
  return g;
}

// Checks shared by the three ops: weights (or their gradient) dense, bias of out_channels.
template <class T>
void check_weights(const char* op, const BasicTensor<T>& w, const BasicTensor<T>& b, int out_channels) {
  CUVIZ_CHECK(w.defined() && w.contiguous(), op, ": weights ", w.shape().str(), " must be a dense tensor");
  if (b.defined()) check_shape(op, "bias", b, Shape{1, out_channels, 1, 1});
}

// Range [lo, hi) of output indices j whose input index j*stride - pad + off lies in [0, size).
inline void valid_range(int out, int stride, int pad, int off, int size, int& lo, int& hi) {
  // j*stride >= pad - off  and  j*stride < size + pad - off
  const int a = pad - off, b = size + pad - off;
  lo = a <= 0 ? 0 : (a + stride - 1) / stride;
  hi = b <= 0 ? 0 : (b + stride - 1) / stride;
  lo = std::min(lo, out);
  hi = std::clamp(hi, lo, out);
}

// Gathers one image (all C channels) into col, (C*kh*kw) x P row-major: row (c, p, q) holds
// x[c, i*sh - pt + p*dh, j*sw - pl + q*dw] for every output pixel (i, j), zero where padded.
void im2col(const Conv2dParams& p, const ConvGeometry& g, const float* x, float* col) {
  const int rows = g.c * g.kh * g.kw;
#pragma omp parallel for schedule(static) if (int64_t(rows) * g.pix > (1 << 18))
  for (int r = 0; r < rows; ++r) {
    const int c = r / (g.kh * g.kw), pp = r / g.kw % g.kh, q = r % g.kw;
    const float* xc = x + int64_t(c) * g.h * g.w;
    float* out = col + int64_t(r) * g.pix;
    int j0, j1;
    valid_range(g.ow, p.stride_w, p.pad_left, q * p.dilation_w, g.w, j0, j1);
    for (int i = 0; i < g.oh; ++i) {
      float* o = out + int64_t(i) * g.ow;
      const int ih = i * p.stride_h - p.pad_top + pp * p.dilation_h;
      if (ih < 0 || ih >= g.h) {
        std::fill(o, o + g.ow, 0.f);
        continue;
      }
      const float* xr = xc + int64_t(ih) * g.w - p.pad_left + q * p.dilation_w;
      std::fill(o, o + j0, 0.f);
      if (p.stride_w == 1) {
        std::memcpy(o + j0, xr + j0, sizeof(float) * (j1 - j0));
      } else {
        for (int j = j0; j < j1; ++j) o[j] = xr[int64_t(j) * p.stride_w];
      }
      std::fill(o + j1, o + g.ow, 0.f);
    }
  }
}

// The adjoint of im2col: dx[c, ih, iw] = sum of the col entries that im2col copied from it.
// Overwrites dx. Parallel over channels, since rows of one channel add into the same plane.
void col2im(const Conv2dParams& p, const ConvGeometry& g, const float* col, float* dx) {
#pragma omp parallel for schedule(static) if (int64_t(g.c) * g.kh * g.kw * g.pix > (1 << 18))
  for (int c = 0; c < g.c; ++c) {
    float* dxc = dx + int64_t(c) * g.h * g.w;
    std::fill(dxc, dxc + int64_t(g.h) * g.w, 0.f);
    for (int pp = 0; pp < g.kh; ++pp)
      for (int q = 0; q < g.kw; ++q) {
        const float* in = col + ((int64_t(c) * g.kh + pp) * g.kw + q) * g.pix;
        int j0, j1;
        valid_range(g.ow, p.stride_w, p.pad_left, q * p.dilation_w, g.w, j0, j1);
        for (int i = 0; i < g.oh; ++i) {
          const int ih = i * p.stride_h - p.pad_top + pp * p.dilation_h;
          if (ih < 0 || ih >= g.h) continue;
          const float* ir = in + int64_t(i) * g.ow;
          float* xr = dxc + int64_t(ih) * g.w - p.pad_left + q * p.dilation_w;
          if (p.stride_w == 1) {
            for (int j = j0; j < j1; ++j) xr[j] += ir[j];
          } else {
            for (int j = j0; j < j1; ++j) xr[int64_t(j) * p.stride_w] += ir[j];
          }
        }
      }
  }
}

// A 1x1, stride-1, unpadded convolution reads x as its own column matrix (C x H*W).
bool is_pointwise(const Conv2dParams& p, const ConvGeometry& g) {
  return g.kh == 1 && g.kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 && p.pad_left == 0 &&
         p.pad_bottom == 0 && p.pad_right == 0;
}

// Scratch for the column matrix, kept per thread across calls so the hot loop never allocates.
float* col_scratch(int64_t elems) {
  thread_local std::vector<float> buf;
  if (int64_t(buf.size()) < elems) buf.resize(size_t(elems));
  return buf.data();
}

}  // namespace

Shape conv2d_output_shape(const Conv2dParams& p, Shape x, Shape w) { return conv_geometry("conv2d", p, x, w).out(); }

// ---- plain references ------------------------------------------------------------------------

template <class T>
void conv2d_forward_reference(const Conv2dParams& p, const BasicTensor<T>& x, const BasicTensor<T>& w,
                              const BasicTensor<T>& b, const BasicTensor<T>& y) {
  const char* op = "conv2d_forward_reference";
  const ConvGeometry g = conv_geometry(op, p, x.shape(), w.shape());
  check_weights(op, w, b, g.o);
  check_shape(op, "y", y, g.out());
  for (int n = 0; n < g.n; ++n)
    for (int o = 0; o < g.o; ++o) {
      const int c0 = o / g.og * g.cg;
      for (int i = 0; i < g.oh; ++i)
        for (int j = 0; j < g.ow; ++j) {
          T acc = b.defined() ? b.data()[o] : T(0);
          for (int c = 0; c < g.cg; ++c)
            for (int pp = 0; pp < g.kh; ++pp)
              for (int q = 0; q < g.kw; ++q) {
                const int ih = i * p.stride_h - p.pad_top + pp * p.dilation_h;
                const int iw = j * p.stride_w - p.pad_left + q * p.dilation_w;
                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                acc += w.at(o, c, pp, q) * x.at(n, c0 + c, ih, iw);
              }
          y.at(n, o, i, j) = p.fuse_relu && acc < T(0) ? T(0) : acc;
        }
    }
}

template <class T>
void conv2d_backward_data_reference(const Conv2dParams& p, const BasicTensor<T>& dy, const BasicTensor<T>& w,
                                    const BasicTensor<T>& dx) {
  const char* op = "conv2d_backward_data_reference";
  const ConvGeometry g = conv_geometry(op, p, dx.shape(), w.shape());
  check_weights(op, w, BasicTensor<T>(), g.o);
  check_shape(op, "dy", dy, g.out());
  for (int n = 0; n < g.n; ++n)
    for (int c = 0; c < g.c; ++c)
      for (int i = 0; i < g.h; ++i)
        for (int j = 0; j < g.w; ++j) dx.at(n, c, i, j) = T(0);
  // Scatter form of the transposed convolution: every y[n,o,i,j] sent w * dy to the inputs it read.
  for (int n = 0; n < g.n; ++n)
    for (int o = 0; o < g.o; ++o) {
      const int c0 = o / g.og * g.cg;
      for (int i = 0; i < g.oh; ++i)
        for (int j = 0; j < g.ow; ++j) {
          const T d = dy.at(n, o, i, j);
          for (int c = 0; c < g.cg; ++c)
            for (int pp = 0; pp < g.kh; ++pp)
              for (int q = 0; q < g.kw; ++q) {
                const int ih = i * p.stride_h - p.pad_top + pp * p.dilation_h;
                const int iw = j * p.stride_w - p.pad_left + q * p.dilation_w;
                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                dx.at(n, c0 + c, ih, iw) += w.at(o, c, pp, q) * d;
              }
        }
    }
}

template <class T>
void conv2d_backward_weight_reference(const Conv2dParams& p, const BasicTensor<T>& x, const BasicTensor<T>& dy,
                                      const BasicTensor<T>& dw, const BasicTensor<T>& db) {
  const char* op = "conv2d_backward_weight_reference";
  const ConvGeometry g = conv_geometry(op, p, x.shape(), dw.shape());
  check_weights(op, dw, db, g.o);
  check_shape(op, "dy", dy, g.out());
  for (int o = 0; o < g.o; ++o) {
    const int c0 = o / g.og * g.cg;
    for (int c = 0; c < g.cg; ++c)
      for (int pp = 0; pp < g.kh; ++pp)
        for (int q = 0; q < g.kw; ++q) {
          T acc = 0;
          for (int n = 0; n < g.n; ++n)
            for (int i = 0; i < g.oh; ++i)
              for (int j = 0; j < g.ow; ++j) {
                const int ih = i * p.stride_h - p.pad_top + pp * p.dilation_h;
                const int iw = j * p.stride_w - p.pad_left + q * p.dilation_w;
                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                acc += dy.at(n, o, i, j) * x.at(n, c0 + c, ih, iw);
              }
          dw.at(o, c, pp, q) = acc;
        }
    if (db.defined()) {
      T acc = 0;
      for (int n = 0; n < g.n; ++n)
        for (int i = 0; i < g.oh; ++i)
          for (int j = 0; j < g.ow; ++j) acc += dy.at(n, o, i, j);
      db.data()[o] = acc;
    }
  }
}

template void conv2d_forward_reference<float>(const Conv2dParams&, const Tensor&, const Tensor&, const Tensor&,
                                              const Tensor&);
template void conv2d_forward_reference<double>(const Conv2dParams&, const TensorD&, const TensorD&, const TensorD&,
                                               const TensorD&);
template void conv2d_backward_data_reference<float>(const Conv2dParams&, const Tensor&, const Tensor&,
                                                    const Tensor&);
template void conv2d_backward_data_reference<double>(const Conv2dParams&, const TensorD&, const TensorD&,
                                                     const TensorD&);
template void conv2d_backward_weight_reference<float>(const Conv2dParams&, const Tensor&, const Tensor&,
                                                      const Tensor&, const Tensor&);
template void conv2d_backward_weight_reference<double>(const Conv2dParams&, const TensorD&, const TensorD&,
                                                       const TensorD&, const TensorD&);

// ---- fast CPU path and device dispatch -------------------------------------------------------

void conv2d_forward(const Conv2dParams& p, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) {
  const char* op = "conv2d_forward";
  check_nonempty(op, "x", x);
  const ConvGeometry g = conv_geometry(op, p, x.shape(), w.shape());
  check_weights(op, w, b, g.o);
  check_shape(op, "y", y, g.out());
  if (check_same_device<float>(op, {&x, &w, &b, &y}) == Device::cuda) return conv2d_forward_cuda(p, x, w, b, y);
  const bool pointwise = is_pointwise(p, g);
  float* col = pointwise ? nullptr : col_scratch(g.k * g.groups * g.pix);
  for (int n = 0; n < g.n; ++n) {
    const float* cn = x.image(n);
    if (!pointwise) {
      im2col(p, g, cn, col);
      cn = col;
    }
    float* yn = y.image(n);
    for (int gr = 0; gr < g.groups; ++gr)
      sgemm(false, false, g.og, int(g.pix), int(g.k), 1.f, w.data() + gr * g.og * g.k, int(g.k),
            cn + gr * g.k * g.pix, int(g.pix), 0.f, yn + gr * g.og * g.pix, int(g.pix));
    if (b.defined() || p.fuse_relu) {
      const float* bias = b.data();
      const bool relu = p.fuse_relu;
#pragma omp parallel for schedule(static) if (int64_t(g.o) * g.pix > (1 << 16))
      for (int o = 0; o < g.o; ++o) {
        float* yo = yn + o * g.pix;
        const float bo = bias ? bias[o] : 0.f;
        if (relu) {
          for (int64_t k = 0; k < g.pix; ++k) yo[k] = std::max(yo[k] + bo, 0.f);
        } else {
          for (int64_t k = 0; k < g.pix; ++k) yo[k] += bo;
        }
      }
    }
  }
}

void conv2d_backward_data(const Conv2dParams& p, const Tensor& dy, const Tensor& w, const Tensor& dx) {
  const char* op = "conv2d_backward_data";
  check_nonempty(op, "dx", dx);
  const ConvGeometry g = conv_geometry(op, p, dx.shape(), w.shape());
  check_weights(op, w, Tensor(), g.o);
  check_shape(op, "dy", dy, g.out());
  if (check_same_device<float>(op, {&dy, &w, &dx}) == Device::cuda) return conv2d_backward_data_cuda(p, dy, w, dx);
  const bool pointwise = is_pointwise(p, g);
  float* col = pointwise ? nullptr : col_scratch(g.k * g.groups * g.pix);
  for (int n = 0; n < g.n; ++n) {
    float* out = pointwise ? dx.image(n) : col;
    for (int gr = 0; gr < g.groups; ++gr)
      sgemm(true, false, int(g.k), int(g.pix), g.og, 1.f, w.data() + gr * g.og * g.k, int(g.k),
            dy.image(n) + gr * g.og * g.pix, int(g.pix), 0.f, out + gr * g.k * g.pix, int(g.pix));
    if (!pointwise) col2im(p, g, col, dx.image(n));
  }
}

void conv2d_backward_weight(const Conv2dParams& p, const Tensor& x, const Tensor& dy, const Tensor& dw,
                            const Tensor& db) {
  const char* op = "conv2d_backward_weight";
  check_nonempty(op, "x", x);
  const ConvGeometry g = conv_geometry(op, p, x.shape(), dw.shape());
  check_weights(op, dw, db, g.o);
  check_shape(op, "dy", dy, g.out());
  if (check_same_device<float>(op, {&x, &dy, &dw, &db}) == Device::cuda)
    return conv2d_backward_weight_cuda(p, x, dy, dw, db);
  const bool pointwise = is_pointwise(p, g);
  float* col = pointwise ? nullptr : col_scratch(g.k * g.groups * g.pix);
  for (int n = 0; n < g.n; ++n) {
    const float* cn = x.image(n);
    if (!pointwise) {
      im2col(p, g, cn, col);
      cn = col;
    }
    // dW_g += dY_g col_g^T; the first image overwrites (beta = 0), the rest accumulate.
    for (int gr = 0; gr < g.groups; ++gr)
      sgemm(false, true, g.og, int(g.k), int(g.pix), 1.f, dy.image(n) + gr * g.og * g.pix, int(g.pix),
            cn + gr * g.k * g.pix, int(g.pix), n == 0 ? 0.f : 1.f, dw.data() + gr * g.og * g.k, int(g.k));
  }
  if (db.defined()) {
#pragma omp parallel for schedule(static) if (int64_t(g.n) * g.o * g.pix > (1 << 16))
    for (int o = 0; o < g.o; ++o) {
      double acc = 0;  // a sum over n*P terms; double keeps it as exact as the GEMM's blocks
      for (int n = 0; n < g.n; ++n) {
        const float* d = dy.image(n) + o * g.pix;
        float s = 0;
        for (int64_t k = 0; k < g.pix; ++k) s += d[k];
        acc += s;
      }
      db.data()[o] = float(acc);
    }
  }
}

}  // namespace cuviz
