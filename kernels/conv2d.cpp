// 2-D convolution on the CPU: plain seven-loop references (float and double) and the fast path,
// im2col + SGEMM per image, group and pixel tile:  Y_g (O/G x P) = W_g (O/G x K) * col_g (K x P),
// K = C/G * kh * kw, P = out_h * out_w. Backward-data is W_g^T dY_g followed by col2im;
// backward-weight is dY_g col_g^T summed over the batch. 3x3 stride-1 convolutions with enough
// channels take Winograd F(2x2, 3x3) instead, forward and backward-data (16 GEMMs, 2.25x fewer
// FLOPs). Derivations: docs/backprop/conv2d_linear.md. With a TF32/BF16 precision in the
// execution context, forward and backward-data round their operands first (an emulation of the
// GPU's tensor-core numerics, see "reduced precision" below).
#include "kernels/conv2d.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

#include <omp.h>

#include "core/check.h"
#include "kernels/backend.h"
#include "kernels/cuda_ops.h"
#include "kernels/cudnn_oracle.h"
#include "kernels/gemm.h"
#include "kernels/precision.h"

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

// Gathers channels [c0, c1) of one image into col for the output pixels [s, e) (pixel = i*ow + j):
// row ((c - c0)*kh + p)*kw + q, column t holds x[c, i*sh - pt + p*dh, j*sw - pl + q*dw] for pixel
// s + t, zero where that falls in the padding. col is ((c1-c0)*kh*kw) x (e - s), row-major.
void im2col(const Conv2dParams& p, const ConvGeometry& g, const float* x, int c0, int c1, int64_t s, int64_t e,
            float* col) {
  const int64_t len = e - s;
  const int i_first = int(s / g.ow), i_last = int((e - 1) / g.ow);
  for (int c = c0; c < c1; ++c) {
    const float* xc = x + int64_t(c) * g.h * g.w;
    for (int pp = 0; pp < g.kh; ++pp)
      for (int q = 0; q < g.kw; ++q) {
        float* out = col + ((int64_t(c - c0) * g.kh + pp) * g.kw + q) * len - s;  // indexed by pixel
        int jlo, jhi;
        valid_range(g.ow, p.stride_w, p.pad_left, q * p.dilation_w, g.w, jlo, jhi);
        for (int i = i_first; i <= i_last; ++i) {
          const int64_t row = int64_t(i) * g.ow;
          const int ja = i == i_first ? int(s - row) : 0, jb = i == i_last ? int(e - row) : g.ow;
          float* o = out + row;
          const int ih = i * p.stride_h - p.pad_top + pp * p.dilation_h;
          if (ih < 0 || ih >= g.h) {
            std::fill(o + ja, o + jb, 0.f);
            continue;
          }
          const int lo = std::clamp(jlo, ja, jb), hi = std::clamp(jhi, lo, jb);
          const float* xr = xc + int64_t(ih) * g.w - p.pad_left + q * p.dilation_w;
          std::fill(o + ja, o + lo, 0.f);
          if (p.stride_w == 1) {
            std::memcpy(o + lo, xr + lo, sizeof(float) * (hi - lo));
          } else {
            for (int j = lo; j < hi; ++j) o[j] = xr[int64_t(j) * p.stride_w];
          }
          std::fill(o + hi, o + jb, 0.f);
        }
      }
  }
}

// The column matrix of image x for output pixels [s, e) as a pointer and its row stride: for a
// pointwise conv (1x1, stride 1, no padding) the image itself (rows g.pix apart), otherwise
// im2col into `scratch` (rows e - s apart).
const float* column_tile(const Conv2dParams& p, const ConvGeometry& g, bool pointwise, const float* x, int64_t s,
                         int64_t e, float* scratch, int64_t& ldb) {
  if (pointwise) {
    ldb = g.pix;
    return x + s;
  }
  im2col(p, g, x, 0, g.c, s, e, scratch);
  ldb = e - s;
  return scratch;
}

// The adjoint of im2col for the same channels and pixels: dx[c, ih, iw] += every col entry that
// im2col would have copied from it. Rows of one channel add into the same plane, so callers
// split work between threads by channel, never by pixel.
void col2im_add(const Conv2dParams& p, const ConvGeometry& g, const float* col, int c0, int c1, int64_t s, int64_t e,
                float* dx) {
  const int64_t len = e - s;
  const int i_first = int(s / g.ow), i_last = int((e - 1) / g.ow);
  for (int c = c0; c < c1; ++c) {
    float* dxc = dx + int64_t(c) * g.h * g.w;
    for (int pp = 0; pp < g.kh; ++pp)
      for (int q = 0; q < g.kw; ++q) {
        const float* in = col + ((int64_t(c - c0) * g.kh + pp) * g.kw + q) * len - s;
        int jlo, jhi;
        valid_range(g.ow, p.stride_w, p.pad_left, q * p.dilation_w, g.w, jlo, jhi);
        for (int i = i_first; i <= i_last; ++i) {
          const int ih = i * p.stride_h - p.pad_top + pp * p.dilation_h;
          if (ih < 0 || ih >= g.h) continue;
          const int64_t row = int64_t(i) * g.ow;
          const int ja = i == i_first ? int(s - row) : 0, jb = i == i_last ? int(e - row) : g.ow;
          const int lo = std::clamp(jlo, ja, jb), hi = std::clamp(jhi, lo, jb);
          const float* ir = in + row;
          float* xr = dxc + int64_t(ih) * g.w - p.pad_left + q * p.dilation_w;
          if (p.stride_w == 1) {
            for (int j = lo; j < hi; ++j) xr[j] += ir[j];
          } else {
            for (int j = lo; j < hi; ++j) xr[int64_t(j) * p.stride_w] += ir[j];
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

// Per-thread scratch kept across calls, so the hot loop never allocates once warmed up.
float* scratch(std::vector<float>& buf, int64_t elems) {
  if (int64_t(buf.size()) < elems) buf.resize(size_t(elems));
  return buf.data();
}
thread_local std::vector<float> t_col;  // column tiles
thread_local std::vector<float> t_acc;  // per-thread weight-gradient partial sums

// How the fast path cuts the work: each image's P output pixels into `tiles` column tiles of
// `tile` pixels, so that one tile of the column matrix (rows x tile floats) stays in L2, and so
// that n * tiles items keep every thread busy (a multiple of the thread count where cheap).
struct Tiling {
  int threads;
  int tiles;
  int64_t tile;
};
constexpr int64_t kL2Floats = 192 * 1024;  // a column tile of ~768 KiB, most of a 1 MiB L2
Tiling make_tiling(const ConvGeometry& g, int64_t rows, int threads) {
  int64_t tiles = std::max<int64_t>(1, (rows * g.pix + kL2Floats - 1) / kL2Floats);
  if (g.n * tiles < threads) tiles = (threads + g.n - 1) / g.n;
  for (int extra = 0; extra < threads && (g.n * tiles) % threads != 0; ++extra) ++tiles;
  tiles = std::min<int64_t>(tiles, std::max<int64_t>(1, g.pix / 16));  // GEMMs narrower than 16 waste the kernel
  const int64_t tile = ((g.pix + tiles - 1) / tiles + 7) / 8 * 8;       // AVX-width multiples
  return Tiling{threads, int((g.pix + tile - 1) / tile), tile};
}

// ---- Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions ---------------------------------------
//
// A 2x2 block of outputs of a 3x3 correlation reads a 4x4 input patch d, and (Lavin & Gray 2016)
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A,
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1],
// exactly (in real arithmetic): 16 products per channel pair where the direct form needs 36.
// Summed over input channels, the 16 element-wise products of U = G g G^T and V = B^T d B become
// 16 GEMMs M_xi (out_c x tiles) = U_xi (out_c x in_c) V_xi (in_c x tiles), 2.25x fewer FLOPs.
// Backward-data of a stride-1 conv is the correlation of dy, padded by 2 - pad, with the kernel
// rotated by 180 degrees and in/out channels swapped, so it runs through the same code.

// GoogLeNet's 3x3 convolutions qualify; with few channels the transforms cost more than they save.
bool winograd_eligible(const Conv2dParams& p, const ConvGeometry& g) {
  return g.kh == 3 && g.kw == 3 && p.stride_h == 1 && p.stride_w == 1 && p.dilation_h == 1 && p.dilation_w == 1 &&
         g.groups == 1 && p.pad_top <= 2 && p.pad_left <= 2 && p.pad_bottom <= 2 && p.pad_right <= 2 && g.c >= 16 &&
         g.o >= 16;
}

// u[xi][r][s] (16 x rows x cols) = (G k G^T)[xi] of every 3x3 kernel k of w {O, C, 3, 3}. Forward:
// rows = O, cols = C, k = w[r][s]. Backward-data (flip): rows = C, cols = O, k = w[s][r] rotated by
// 180 degrees. Written row by row, so the 16 output planes fill contiguously.
void winograd_weights(const float* w, int O, int C, bool flip, float* u) {
  const int rows = flip ? C : O, cols = flip ? O : C;
  const int64_t plane = int64_t(rows) * cols;
#pragma omp parallel for schedule(static) if (plane > 4096)
  for (int r = 0; r < rows; ++r)
    for (int s = 0; s < cols; ++s) {
      const float* k = w + (flip ? int64_t(s) * C + r : int64_t(r) * C + s) * 9;
      float g[3][3];
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) g[a][b] = flip ? k[(2 - a) * 3 + (2 - b)] : k[a * 3 + b];
      float t[4][3];  // G g
      for (int b = 0; b < 3; ++b) {
        t[0][b] = g[0][b];
        t[1][b] = 0.5f * (g[0][b] + g[1][b] + g[2][b]);
        t[2][b] = 0.5f * (g[0][b] - g[1][b] + g[2][b]);
        t[3][b] = g[2][b];
      }
      float* ur = u + int64_t(r) * cols + s;
      for (int a = 0; a < 4; ++a) {  // (G g) G^T
        ur[(a * 4 + 0) * plane] = t[a][0];
        ur[(a * 4 + 1) * plane] = 0.5f * (t[a][0] + t[a][1] + t[a][2]);
        ur[(a * 4 + 2) * plane] = 0.5f * (t[a][0] - t[a][1] + t[a][2]);
        ur[(a * 4 + 3) * plane] = t[a][2];
      }
    }
}

// Transformed weights are kept between calls: a render loop runs the same frozen weights through
// every step, and for small images the transform costs as much as a third of the conv. An entry
// is reused only while the weights still hold the values it was made from (compared in full, so
// weights updated in place by training are transformed again).
struct WinogradWeights {
  const float* w = nullptr;
  int o = 0, c = 0;
  bool flip = false;
  std::vector<float> raw, u;
};
thread_local std::vector<WinogradWeights> t_wino_cache;
constexpr int64_t kWinogradCacheFloats = int64_t(32) << 20;  // 128 MiB per thread, then start over

// U for weights w {O, C, 3, 3} (see winograd_weights), from the cache when the weights are unchanged.
const float* winograd_weights_cached(const float* w, int O, int C, bool flip) {
  const size_t n = size_t(O) * C * 9;
  for (auto& e : t_wino_cache)
    if (e.w == w && e.o == O && e.c == C && e.flip == flip) {
      if (std::memcmp(e.raw.data(), w, n * sizeof(float)) != 0) {
        std::memcpy(e.raw.data(), w, n * sizeof(float));
        winograd_weights(w, O, C, flip, e.u.data());
      }
      return e.u.data();
    }
  int64_t held = 0;
  for (const auto& e : t_wino_cache) held += int64_t(e.raw.size() + e.u.size());
  if (held + int64_t(n) * 25 / 9 > kWinogradCacheFloats) t_wino_cache.clear();
  WinogradWeights& e = t_wino_cache.emplace_back();
  e.w = w, e.o = O, e.c = C, e.flip = flip;
  e.raw.assign(w, w + n);
  e.u.resize(size_t(O) * C * 16);
  winograd_weights(w, O, C, flip, e.u.data());
  return e.u.data();
}

thread_local std::vector<float> t_wino;    // per-thread V and M blocks and row buffers

// out[n, o] (every pixel, overwritten) = sum_c corr3x3(in[n, c] zero-padded by pt, pl, U's kernels)
// + bias[o], then max(., 0) if relu. U = winograd_weights (out.c x in.c). Each work item is a
// block of rows of 2x2 tiles of one image: transform its input patches (V), 16 GEMMs (M),
// transform back into out. Both transforms run along a tile row, so they vectorise across tiles:
// the rows of B^T d are contiguous row combinations, and splitting them into even and odd columns
// turns the tile-by-tile (.) B into contiguous vector arithmetic too; A^T M A likewise.
void winograd_conv(const float* u, const Tensor& in, int pt, int pl, const Tensor& out, const float* bias, bool relu) {
  const int IC = in.c(), IH = in.h(), IW = in.w(), OC = out.c(), OH = out.h(), OW = out.w(), N = in.n();
  const int th = (OH + 1) / 2, tw = (OW + 1) / 2;
  const int pw = 2 * tw + 2;  // padded input columns the tiles of one row read
  const int max_threads = omp_get_max_threads();
  // A block's V and M (16 x (IC + OC) x tiles floats) within ~2 MiB, and work for every thread.
  int rows = int(std::clamp<int64_t>((512 * 1024) / (16 * int64_t(IC + OC) * tw), 1, th));
  rows = std::min(rows, std::max(1, (N * th + max_threads - 1) / max_threads));
  const int per_image = (th + rows - 1) / rows, items = N * per_image;
  const int threads = std::min(items, max_threads);
  const int64_t nt_max = int64_t(rows) * tw;
  const int64_t per_thread = 16 * int64_t(IC + OC) * nt_max + 8 * pw + 2 * (tw + 1) + 2 * tw;
  float* scratch_base = scratch(t_wino, threads * per_thread);
  const int64_t uplane = int64_t(OC) * IC;
  SerialBlas serial;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int it = 0; it < items; ++it) {
    const int n = it / per_image, r0 = (it % per_image) * rows, r1 = std::min(r0 + rows, th);
    const int64_t nt = int64_t(r1 - r0) * tw;
    float* v = scratch_base + omp_get_thread_num() * per_thread;
    float* m = v + 16 * int64_t(IC) * nt;
    float* pad = m + 16 * int64_t(OC) * nt;  // 4 zero-padded input rows, pw wide
    float* e = pad + 4 * pw;                 // the 4 rows of B^T d
    float* ev = e + 4 * pw;                  // even and odd columns of one of them
    float* od = ev + (tw + 1);
    float* y0 = od + (tw + 1);              // the two outputs of every tile in one output row
    float* y1 = y0 + tw;
    const float* xn = in.image(n);
    const int64_t vplane = int64_t(IC) * nt, mplane = int64_t(OC) * nt;
    for (int c = 0; c < IC; ++c) {
      const float* xc = xn + int64_t(c) * IH * IW;
      for (int ti = r0; ti < r1; ++ti) {
        // Input rows ih0..ih0+3 copied into zero-padded rows of pw columns (column k is x column
        // k - pl), then B^T d for one column of every patch at once.
        const int ih0 = 2 * ti - pt;
        const int lo = std::min(pw, pl), hi = std::clamp(IW + pl, lo, pw);  // padded columns inside the image
        for (int a = 0; a < 4; ++a) {
          float* ra = pad + a * pw;
          if (ih0 + a < 0 || ih0 + a >= IH) {
            std::fill(ra, ra + pw, 0.f);
            continue;
          }
          std::fill(ra, ra + lo, 0.f);
          std::memcpy(ra + lo, xc + int64_t(ih0 + a) * IW + (lo - pl), sizeof(float) * (hi - lo));
          std::fill(ra + hi, ra + pw, 0.f);
        }
#pragma omp simd
        for (int k = 0; k < pw; ++k) {
          const float d0 = pad[k], d1 = pad[pw + k], d2 = pad[2 * pw + k], d3 = pad[3 * pw + k];
          e[k] = d0 - d2;
          e[pw + k] = d1 + d2;
          e[2 * pw + k] = d2 - d1;
          e[3 * pw + k] = d1 - d3;
        }
        float* vt = v + int64_t(c) * nt + int64_t(ti - r0) * tw;
        for (int a = 0; a < 4; ++a) {  // (B^T d) B: patch tj's columns 2tj..2tj+3 = ev[tj], od[tj], ev[tj+1], od[tj+1]
          const float* ea = e + a * pw;
          for (int k = 0; k <= tw; ++k) ev[k] = ea[2 * k], od[k] = ea[2 * k + 1];
          float* v0 = vt + (a * 4 + 0) * vplane;
          float* v1 = vt + (a * 4 + 1) * vplane;
          float* v2 = vt + (a * 4 + 2) * vplane;
          float* v3 = vt + (a * 4 + 3) * vplane;
#pragma omp simd
          for (int tj = 0; tj < tw; ++tj) {
            v0[tj] = ev[tj] - ev[tj + 1];
            v1[tj] = od[tj] + ev[tj + 1];
            v2[tj] = ev[tj + 1] - od[tj];
            v3[tj] = od[tj] - od[tj + 1];
          }
        }
      }
    }
    for (int xi = 0; xi < 16; ++xi)
      sgemm(false, false, OC, int(nt), IC, 1.f, u + xi * uplane, IC, v + xi * vplane, int(nt), 0.f, m + xi * mplane,
            int(nt));
    // Y = A^T M A: rows s = A^T M (2 x 4), then each output row's pair s0 + s1 + s2, s1 - s2 - s3.
    for (int o = 0; o < OC; ++o) {
      const float bo = bias ? bias[o] : 0.f;
      float* yo = out.image(n) + int64_t(o) * OH * OW;
      for (int ti = r0; ti < r1; ++ti) {
        const float* mt = m + int64_t(o) * nt + int64_t(ti - r0) * tw;
        const float* mk[16];
        for (int k = 0; k < 16; ++k) mk[k] = mt + k * mplane;
        for (int a = 0; a < 2 && 2 * ti + a < OH; ++a) {
          // Row a of A^T M: m0 + m1 + m2 for a = 0, m1 - m2 - m3 for a = 1 (m_r = row r of M).
          const float sg = a == 0 ? 1.f : -1.f;
          const float *q0 = mk[4 * a], *q1 = mk[4 * a + 4], *q2 = mk[4 * a + 8];
          const float *q3 = mk[4 * a + 1], *q4 = mk[4 * a + 5], *q5 = mk[4 * a + 9];
          const float *q6 = mk[4 * a + 2], *q7 = mk[4 * a + 6], *q8 = mk[4 * a + 10];
          const float *q9 = mk[4 * a + 3], *q10 = mk[4 * a + 7], *q11 = mk[4 * a + 11];
#pragma omp simd
          for (int tj = 0; tj < tw; ++tj) {
            const float s0 = q0[tj] + sg * (q1[tj] + q2[tj]), s1 = q3[tj] + sg * (q4[tj] + q5[tj]),
                        s2 = q6[tj] + sg * (q7[tj] + q8[tj]), s3 = q9[tj] + sg * (q10[tj] + q11[tj]);
            float p0 = s0 + s1 + s2 + bo, p1 = s1 - s2 - s3 + bo;
            if (relu) p0 = std::max(p0, 0.f), p1 = std::max(p1, 0.f);
            y0[tj] = p0;
            y1[tj] = p1;
          }
          float* row = yo + int64_t(2 * ti + a) * OW;
          for (int tj = 0; tj < OW / 2; ++tj) row[2 * tj] = y0[tj], row[2 * tj + 1] = y1[tj];
          if (OW % 2) row[OW - 1] = y0[tw - 1];
        }
      }
    }
  }
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
//
// Threading: OpenMP splits the work into independent items and each item calls a single-threaded
// SGEMM (see SerialBlas). Forward and backward-weight cut every image into column tiles (pixel
// ranges): a tile's im2col is consumed by its GEMM while still in L2. Backward-data cuts by input
// channel instead, because col2im of neighbouring pixel tiles adds into the same dx elements.

namespace {

// ---- reduced precision (TF32 / BF16) on the CPU --------------------------------------------------
//
// The GPU's tensor-core path rounds the two GEMM operands (forward: x and w; backward-data: dy and
// w) to TF32 or BF16 as it stages them, multiplies exactly and accumulates in FP32. The CPU does
// the same arithmetic by rounding copies of the operands with the same functions
// (kernels/precision.h) and running the usual FP32 algorithm on them: products of rounded values
// are exact in FP32, so the result is the tensor cores' up to the order of the FP32 sums (and the
// Winograd transforms' FP32 rounding where that path applies). This is an emulation for checking
// numerics (tests, the BF16-vs-FP32 render guard): it is slightly SLOWER than FP32, never faster.

float round_operand(float v, Precision prec) { return prec == Precision::bf16 ? round_to_bf16(v) : round_to_tf32(v); }

void round_into(const float* src, int64_t count, Precision prec, float* dst) {
#pragma omp parallel for schedule(static) if (count > (1 << 16))
  for (int64_t k = 0; k < count; ++k) dst[k] = round_operand(src[k], prec);
}

thread_local std::vector<float> t_rounded_input;  // the rounded x (forward) or dy (backward-data)

// A dense copy of activations t rounded to prec, valid until the next call on this thread.
Tensor rounded_activations(const Tensor& t, Precision prec) {
  const int64_t image = t.shape().image_size();
  float* d = scratch(t_rounded_input, t.numel());
  for (int n = 0; n < t.n(); ++n) round_into(t.image(n), image, prec, d + n * image);
  return Tensor(d, t.shape(), Device::cpu);
}

// Rounded weights, one buffer per (weight tensor, precision): a layer's rounded weights keep their
// address from call to call, so the Winograd cache (keyed by address, checked by content) hits.
// They are rounded again on every call, which costs one pass over the weights and keeps them
// right when the weights change.
struct RoundedWeights {
  const float* src = nullptr;
  Precision prec = Precision::fp32;
  std::vector<float> values;
};
thread_local std::vector<RoundedWeights> t_rounded_weights;
constexpr int64_t kRoundedWeightsCacheFloats = int64_t(32) << 20;  // 128 MiB per thread, then start over

Tensor rounded_weights(const Tensor& w, Precision prec) {
  RoundedWeights* entry = nullptr;
  for (auto& e : t_rounded_weights)
    if (e.src == w.data() && e.prec == prec && int64_t(e.values.size()) == w.numel()) entry = &e;
  if (!entry) {
    int64_t held = 0;
    for (const auto& e : t_rounded_weights) held += int64_t(e.values.size());
    if (held + w.numel() > kRoundedWeightsCacheFloats) t_rounded_weights.clear();
    entry = &t_rounded_weights.emplace_back();
    entry->src = w.data(), entry->prec = prec;
    entry->values.resize(size_t(w.numel()));
  }
  round_into(w.data(), w.numel(), prec, entry->values.data());
  return Tensor(entry->values.data(), w.shape(), Device::cpu);
}

void conv2d_forward_cpu(const Conv2dParams& p, const ConvGeometry& g, const Tensor& x, const Tensor& w,
                        const Tensor& b, const Tensor& y);
void conv2d_backward_data_cpu(const Conv2dParams& p, const ConvGeometry& g, const Tensor& dy, const Tensor& w,
                              const Tensor& dx);

}  // namespace

void conv2d_forward(const Conv2dParams& p, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) {
  const char* op = "conv2d_forward";
  check_nonempty(op, "x", x);
  const ConvGeometry g = conv_geometry(op, p, x.shape(), w.shape());
  check_weights(op, w, b, g.o);
  check_shape(op, "y", y, g.out());
  const Precision prec = exec_context().precision;
  if (check_same_device<float>(op, {&x, &w, &b, &y}) == Device::cuda)
    return use_oracle(Device::cuda, cudnn_expresses(p) && prec == Precision::fp32)
               ? cudnn_conv2d_forward(p, x, w, b, y)
               : conv2d_forward_cuda(p, x, w, b, y);
  if (prec != Precision::fp32)
    return conv2d_forward_cpu(p, g, rounded_activations(x, prec), rounded_weights(w, prec), b, y);
  conv2d_forward_cpu(p, g, x, w, b, y);
}

void conv2d_backward_data(const Conv2dParams& p, const Tensor& dy, const Tensor& w, const Tensor& dx) {
  const char* op = "conv2d_backward_data";
  check_nonempty(op, "dx", dx);
  const ConvGeometry g = conv_geometry(op, p, dx.shape(), w.shape());
  check_weights(op, w, Tensor(), g.o);
  check_shape(op, "dy", dy, g.out());
  const Precision prec = exec_context().precision;
  if (check_same_device<float>(op, {&dy, &w, &dx}) == Device::cuda)
    return use_oracle(Device::cuda, cudnn_expresses(p) && prec == Precision::fp32)
               ? cudnn_conv2d_backward_data(p, dy, w, dx)
               : conv2d_backward_data_cuda(p, dy, w, dx);
  if (prec != Precision::fp32)
    return conv2d_backward_data_cpu(p, g, rounded_activations(dy, prec), rounded_weights(w, prec), dx);
  conv2d_backward_data_cpu(p, g, dy, w, dx);
}

namespace {

// The FP32 CPU forward on checked arguments.
void conv2d_forward_cpu(const Conv2dParams& p, const ConvGeometry& g, const Tensor& x, const Tensor& w,
                        const Tensor& b, const Tensor& y) {
  if (winograd_eligible(p, g)) {
    const float* u = winograd_weights_cached(w.data(), g.o, g.c, false);
    return winograd_conv(u, x, p.pad_top, p.pad_left, y, b.data(), p.fuse_relu);
  }
  const bool pointwise = is_pointwise(p, g);
  const int64_t rows = g.k * g.groups;  // C * kh * kw
  const Tiling t = make_tiling(g, rows, omp_get_max_threads());
  const int items = g.n * t.tiles;
  const int threads = std::min(items, t.threads);
  float* col_base = pointwise ? nullptr : scratch(t_col, threads * rows * t.tile);
  const float* bias = b.data();
  SerialBlas serial;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int it = 0; it < items; ++it) {
    const int n = it / t.tiles;
    const int64_t s = (it % t.tiles) * t.tile, e = std::min(s + t.tile, g.pix), len = e - s;
    int64_t ldb = 0;
    const float* col = column_tile(p, g, pointwise, x.image(n), s, e,
                                   pointwise ? nullptr : col_base + omp_get_thread_num() * rows * t.tile, ldb);
    float* yn = y.image(n);
    for (int gr = 0; gr < g.groups; ++gr)
      sgemm(false, false, g.og, int(len), int(g.k), 1.f, w.data() + gr * g.og * g.k, int(g.k), col + gr * g.k * ldb,
            int(ldb), 0.f, yn + gr * g.og * g.pix + s, int(g.pix));
    if (bias || p.fuse_relu)
      for (int o = 0; o < g.o; ++o) {
        float* yo = yn + o * g.pix + s;
        const float bo = bias ? bias[o] : 0.f;
        if (p.fuse_relu) {
          for (int64_t k = 0; k < len; ++k) yo[k] = std::max(yo[k] + bo, 0.f);
        } else {
          for (int64_t k = 0; k < len; ++k) yo[k] += bo;
        }
      }
  }
}

// The FP32 CPU backward-data on checked arguments.
void conv2d_backward_data_cpu(const Conv2dParams& p, const ConvGeometry& g, const Tensor& dy, const Tensor& w,
                              const Tensor& dx) {
  if (winograd_eligible(p, g)) {
    const float* u = winograd_weights_cached(w.data(), g.o, g.c, true);
    return winograd_conv(u, dy, 2 - p.pad_top, 2 - p.pad_left, dx, nullptr, false);
  }
  const bool pointwise = is_pointwise(p, g);
  const int max_threads = omp_get_max_threads();
  // Items are (image, channel chunk); with fewer images than threads, images split by channel.
  const int chunks = g.n >= max_threads ? 1 : std::min(g.c, (max_threads + g.n - 1) / g.n);
  const int chunk_c = (g.c + chunks - 1) / chunks;
  const int items = g.n * ((g.c + chunk_c - 1) / chunk_c);
  const int threads = std::min(items, max_threads);
  const int64_t khw = int64_t(g.kh) * g.kw, rows = chunk_c * khw;
  const int64_t tile = std::clamp<int64_t>((kL2Floats / rows + 7) / 8 * 8, 16, g.pix);
  float* col_base = pointwise ? nullptr : scratch(t_col, threads * rows * tile);
  SerialBlas serial;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int it = 0; it < items; ++it) {
    const int per_image = (g.c + chunk_c - 1) / chunk_c;
    const int n = it / per_image, c0 = (it % per_image) * chunk_c, c1 = std::min(c0 + chunk_c, g.c);
    float* dxn = dx.image(n);
    float* col = pointwise ? nullptr : col_base + omp_get_thread_num() * rows * tile;
    if (!pointwise) std::fill(dxn + int64_t(c0) * g.h * g.w, dxn + int64_t(c1) * g.h * g.w, 0.f);
    for (int64_t s = 0; s < g.pix; s += tile) {
      const int64_t e = std::min(s + tile, g.pix), len = e - s;
      // dcol rows of channels [c0, c1) = W_g^T dY_g restricted to those channels of each group.
      for (int gr = c0 / g.cg; gr * g.cg < c1; ++gr) {
        const int ca = std::max(c0, gr * g.cg), cb = std::min(c1, (gr + 1) * g.cg);
        const float* a = w.data() + gr * g.og * g.k + (ca - gr * g.cg) * khw;
        const float* bm = dy.image(n) + gr * g.og * g.pix + s;
        if (pointwise) {
          sgemm(true, false, cb - ca, int(len), g.og, 1.f, a, int(g.k), bm, int(g.pix), 0.f,
                dxn + int64_t(ca) * g.pix + s, int(g.pix));
        } else {
          sgemm(true, false, int((cb - ca) * khw), int(len), g.og, 1.f, a, int(g.k), bm, int(g.pix), 0.f,
                col + (ca - c0) * khw * len, int(len));
        }
      }
      if (!pointwise) col2im_add(p, g, col, c0, c1, s, e, dxn);
    }
  }
}

}  // namespace

// Always FP32 (the weight gradient is not on the tensor-core path).
void conv2d_backward_weight(const Conv2dParams& p, const Tensor& x, const Tensor& dy, const Tensor& dw,
                            const Tensor& db) {
  const char* op = "conv2d_backward_weight";
  check_nonempty(op, "x", x);
  const ConvGeometry g = conv_geometry(op, p, x.shape(), dw.shape());
  check_weights(op, dw, db, g.o);
  check_shape(op, "dy", dy, g.out());
  if (check_same_device<float>(op, {&x, &dy, &dw, &db}) == Device::cuda)
    return use_oracle(Device::cuda, cudnn_expresses(p)) ? cudnn_conv2d_backward_weight(p, x, dy, dw, db)
                                                         : conv2d_backward_weight_cuda(p, x, dy, dw, db);
  const bool pointwise = is_pointwise(p, g);
  const int64_t rows = g.k * g.groups, wsize = g.o * g.k;
  const Tiling t = make_tiling(g, rows, omp_get_max_threads());
  const int items = g.n * t.tiles;
  const int threads = std::min(items, t.threads);
  float* col_base = pointwise ? nullptr : scratch(t_col, threads * rows * t.tile);
  // Each thread sums its items' dY col^T into its own partial dW; the partials are added at the end.
  // The items are dealt out round-robin (static, 1), not on demand: which items a partial holds,
  // and so its rounding, must not depend on which thread came first (found by a flaky bitwise
  // test at 4 threads, docs/reliability.md "Determinism").
  float* acc_base = scratch(t_acc, threads * wsize);
  SerialBlas serial;
#pragma omp parallel num_threads(threads)
  {
    float* acc = acc_base + omp_get_thread_num() * wsize;
    std::fill(acc, acc + wsize, 0.f);
#pragma omp for schedule(static, 1)
    for (int it = 0; it < items; ++it) {
      const int n = it / t.tiles;
      const int64_t s = (it % t.tiles) * t.tile, e = std::min(s + t.tile, g.pix), len = e - s;
      int64_t ldb = 0;
      const float* col = column_tile(p, g, pointwise, x.image(n), s, e,
                                     pointwise ? nullptr : col_base + omp_get_thread_num() * rows * t.tile, ldb);
      for (int gr = 0; gr < g.groups; ++gr)
        sgemm(false, true, g.og, int(g.k), int(len), 1.f, dy.image(n) + gr * g.og * g.pix + s, int(g.pix),
              col + gr * g.k * ldb, int(ldb), 1.f, acc + gr * g.og * g.k, int(g.k));
    }
#pragma omp for schedule(static)
    for (int64_t i = 0; i < wsize; ++i) {
      float sum = 0;
      for (int th = 0; th < threads; ++th) sum += acc_base[th * wsize + i];
      dw.data()[i] = sum;
    }
  }
  if (db.defined()) {
#pragma omp parallel for schedule(static) if (int64_t(g.n) * g.o * g.pix > (1 << 16))
    for (int o = 0; o < g.o; ++o) {
      double sum = 0;  // a sum over n*P terms; double keeps it as exact as the GEMM's blocks
      for (int n = 0; n < g.n; ++n) {
        const float* d = dy.image(n) + o * g.pix;
        float s = 0;
        for (int64_t k = 0; k < g.pix; ++k) s += d[k];
        sum += s;
      }
      db.data()[o] = float(sum);
    }
  }
}

}  // namespace cuviz
