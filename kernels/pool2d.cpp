// Max and average pooling on the CPU (fast path + plain reference) and the dispatch to CUDA.
//   y[n,c,i,j] = max / mean over the taps x[n, c, i*sh - pt + p*dh, j*sw - pl + q*dw], 0 <= p < kh, 0 <= q < kw.
// Max: pads are -inf. Average: divisor = taps inside the padded input (count_include_pad) or
// inside the input. Which taps are real and the divisor: pool_window (kernels/pool_window.h),
// shared with the CUDA kernels. Derivations: docs/backprop/pool_lrn_softmax_bn.md#pooling.
#include "kernels/pool2d.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "core/check.h"
#include "kernels/backend.h"
#include "kernels/cuda_ops.h"
#include "kernels/cudnn_oracle.h"
#include "kernels/pool_window.h"

namespace cuviz {

namespace {

// Global pooling made explicit: kernel = whole input, stride 1, no padding.
Pool2dParams resolve(const Pool2dParams& p, Shape x) {
  if (!p.global) return p;
  Pool2dParams g;
  g.mode = p.mode;
  g.kernel_h = x.h;
  g.kernel_w = x.w;
  g.count_include_pad = p.count_include_pad;
  return g;
}

// Output extent along one axis. Ceil mode drops a last window that would start beyond the
// input and its left padding (Caffe/PyTorch rule). Every window must hold a real input tap:
// otherwise max would be -inf and the count_include_pad=false average would divide by zero.
int pooled_extent(const char* axis, int in, int k, int s, int pb, int pe, int d, bool ceil_mode) {
  const int extent = (k - 1) * d + 1;
  const int span = in + pb + pe - extent;
  CUVIZ_CHECK(span >= 0, "pool2d: kernel ", axis, " extent ", extent, " larger than the padded input (", in, " + ",
              pb, " + ", pe, ")");
  int out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + pb) --out;
  for (int o = 0; o < out; ++o) {
    const PoolRange t = pool_window(o, in, k, s, pb, pe, d, false).taps;
    CUVIZ_CHECK(t.begin < t.end, "pool2d: window ", o, " along ", axis, " lies entirely in the padding (input ", in,
                ", kernel ", k, ", stride ", s, ", pads ", pb, "/", pe, ", dilation ", d, ")");
  }
  return out;
}

// Per output row (or column): pool_window (kernels/pool_window.h, the rule the CUDA kernels
// apply per output) tabulated once, so the inner loops below read it instead of recomputing it.
struct AxisPlan {
  std::vector<int> start;  // first tap position (may be negative: padding)
  std::vector<PoolRange> taps;
  std::vector<int> count;  // taps counted by the average's divisor along this axis
};
AxisPlan plan_axis(int out, int in, int k, int s, int pb, int pe, int d, bool include_pad) {
  AxisPlan a;
  for (int o = 0; o < out; ++o) {
    const PoolWindow w = pool_window(o, in, k, s, pb, pe, d, include_pad);
    a.start.push_back(w.start);
    a.taps.push_back(w.taps);
    a.count.push_back(w.count);
  }
  return a;
}

// Index in the plane of the first real tap in scan order equal to `target`, or -1.
int64_t first_match(const float* plane, int W, int h0, int w0, PoolRange tr, PoolRange tc, int dh, int dw,
                    float target) {
  for (int a = tr.begin; a < tr.end; ++a)
    for (int b = tc.begin; b < tc.end; ++b) {
      const int64_t k = int64_t(h0 + a * dh) * W + w0 + b * dw;
      if (plane[k] == target) return k;
    }
  return -1;
}

// For the outputs j in [ja, jb) of one output row, whose windows lie wholly inside the input's
// columns (first tap at column w0 + j * SW): the plane index of the first tap in scan order
// equal to y, into found[j] (-1: none), for all j at once — a compare-and-select per tap taken
// in reverse scan order, vectorised across j.
template <int SW>
void first_match_interior(const float* xp, int W, int h0, PoolRange tr, int dh, int kw, int dw, int w0,
                          const float* yrow, int ja, int jb, int32_t* found) {
  for (int j = ja; j < jb; ++j) found[j] = -1;
  for (int a = tr.end - 1; a >= tr.begin; --a)
    for (int b = kw - 1; b >= 0; --b) {
      const int32_t base = (h0 + a * dh) * W + w0 + b * dw;  // tap (a, b) of window 0
      for (int j = ja; j < jb; ++j) found[j] = xp[base + j * SW] == yrow[j] ? base + j * SW : found[j];
    }
}

// first_match_interior at the pooling's column stride (1 or 2).
void first_match_interior(int stride_w, const float* xp, int W, int h0, PoolRange tr, int dh, int kw, int dw,
                          int w0, const float* yrow, int ja, int jb, int32_t* found) {
  if (stride_w == 1)
    first_match_interior<1>(xp, W, h0, tr, dh, kw, dw, w0, yrow, ja, jb, found);
  else
    first_match_interior<2>(xp, W, h0, tr, dh, kw, dw, w0, yrow, ja, jb, found);
}

// Max pooling: the outputs [ja, jb) of a row whose column taps all lie inside the input, for
// the vectorised first_match_interior (strides 1 and 2, GoogLeNet's) when there are enough of
// them to fill vectors; {0, 0} when it does not apply.
std::pair<int, int> interior_outputs(const Pool2dParams& p, const AxisPlan& cols, int OW) {
  if (p.mode != PoolMode::max || (p.stride_w != 1 && p.stride_w != 2)) return {0, 0};
  auto full = [&](int j) { return cols.taps[j].begin == 0 && cols.taps[j].end == p.kernel_w; };
  int ja = 0;
  while (ja < OW && !full(ja)) ++ja;
  int jb = ja;
  while (jb < OW && full(jb)) ++jb;
  return jb - ja < 8 ? std::pair{0, 0} : std::pair{ja, jb};
}

void check_params(const char* op, const Pool2dParams& p) {
  if (p.global) return;
  CUVIZ_CHECK(p.kernel_h >= 1 && p.kernel_w >= 1, op, ": kernel ", p.kernel_h, "x", p.kernel_w, " must be >= 1");
  CUVIZ_CHECK(p.stride_h >= 1 && p.stride_w >= 1, op, ": stride ", p.stride_h, "x", p.stride_w, " must be >= 1");
  CUVIZ_CHECK(p.dilation_h >= 1 && p.dilation_w >= 1, op, ": dilation ", p.dilation_h, "x", p.dilation_w,
              " must be >= 1");
  CUVIZ_CHECK(p.pad_top >= 0 && p.pad_left >= 0 && p.pad_bottom >= 0 && p.pad_right >= 0, op,
              ": negative padding (top ", p.pad_top, ", left ", p.pad_left, ", bottom ", p.pad_bottom, ", right ",
              p.pad_right, ")");
}

// Shape checks of forward and backward; returns the resolved params.
template <class T>
Pool2dParams check_forward(const char* op, const Pool2dParams& p, const BasicTensor<T>& x, const BasicTensor<T>& y) {
  check_nonempty(op, "x", x);
  check_shape(op, "y", y, pool2d_output_shape(p, x.shape()));
  return resolve(p, x.shape());
}
template <class T>
Pool2dParams check_backward(const char* op, const Pool2dParams& p, const BasicTensor<T>& x, const BasicTensor<T>& y,
                            const BasicTensor<T>& dy, const BasicTensor<T>& dx) {
  const Pool2dParams r = check_forward(op, p, x, y);
  check_shape(op, "dy", dy, y.shape());
  check_shape(op, "dx", dx, x.shape());
  return r;
}

}  // namespace

Shape pool2d_output_shape(const Pool2dParams& p, Shape x) {
  check_params("pool2d", p);
  CUVIZ_CHECK(x.n > 0 && x.c > 0 && x.h > 0 && x.w > 0, "pool2d: input has a zero-sized dimension ", x.str());
  const Pool2dParams r = resolve(p, x);
  return Shape{x.n, x.c,
               pooled_extent("height", x.h, r.kernel_h, r.stride_h, r.pad_top, r.pad_bottom, r.dilation_h, r.ceil_mode),
               pooled_extent("width", x.w, r.kernel_w, r.stride_w, r.pad_left, r.pad_right, r.dilation_w, r.ceil_mode)};
}

// The references walk every tap of every window, padding included, exactly as the formula reads.
template <class T>
void pool2d_forward_reference(const Pool2dParams& p0, const BasicTensor<T>& x, const BasicTensor<T>& y) {
  const Pool2dParams p = check_forward("pool2d_forward", p0, x, y);
  const int H = x.h(), W = x.w();
  for (int n = 0; n < x.n(); ++n)
    for (int c = 0; c < x.c(); ++c)
      for (int i = 0; i < y.h(); ++i)
        for (int j = 0; j < y.w(); ++j) {
          T best = -std::numeric_limits<T>::infinity(), sum = 0;
          int count = 0;
          for (int a = 0; a < p.kernel_h; ++a)
            for (int b = 0; b < p.kernel_w; ++b) {
              const int h = i * p.stride_h - p.pad_top + a * p.dilation_h;
              const int w = j * p.stride_w - p.pad_left + b * p.dilation_w;
              const bool in_input = h >= 0 && h < H && w >= 0 && w < W;
              const bool in_padded = h >= -p.pad_top && h < H + p.pad_bottom && w >= -p.pad_left && w < W + p.pad_right;
              if (in_input) {
                best = std::max(best, x.at(n, c, h, w));
                sum += x.at(n, c, h, w);
              }
              if (in_input || (p.count_include_pad && in_padded)) ++count;
            }
          y.at(n, c, i, j) = p.mode == PoolMode::max ? best : sum / T(count);
        }
}

template <class T>
void pool2d_backward_data_reference(const Pool2dParams& p0, const BasicTensor<T>& x, const BasicTensor<T>& y,
                                    const BasicTensor<T>& dy, const BasicTensor<T>& dx) {
  const Pool2dParams p = check_backward("pool2d_backward_data", p0, x, y, dy, dx);
  const int H = x.h(), W = x.w();
  for (int n = 0; n < x.n(); ++n)
    for (int c = 0; c < x.c(); ++c)
      for (int h = 0; h < H; ++h)
        for (int w = 0; w < W; ++w) dx.at(n, c, h, w) = 0;
  for (int n = 0; n < x.n(); ++n)
    for (int c = 0; c < x.c(); ++c)
      for (int i = 0; i < y.h(); ++i)
        for (int j = 0; j < y.w(); ++j) {
          int count = 0;
          for (int a = 0; a < p.kernel_h; ++a)
            for (int b = 0; b < p.kernel_w; ++b) {
              const int h = i * p.stride_h - p.pad_top + a * p.dilation_h;
              const int w = j * p.stride_w - p.pad_left + b * p.dilation_w;
              const bool in_input = h >= 0 && h < H && w >= 0 && w < W;
              const bool in_padded = h >= -p.pad_top && h < H + p.pad_bottom && w >= -p.pad_left && w < W + p.pad_right;
              if (in_input || (p.count_include_pad && in_padded)) ++count;
            }
          bool routed = false;
          for (int a = 0; a < p.kernel_h; ++a)
            for (int b = 0; b < p.kernel_w; ++b) {
              const int h = i * p.stride_h - p.pad_top + a * p.dilation_h;
              const int w = j * p.stride_w - p.pad_left + b * p.dilation_w;
              if (h < 0 || h >= H || w < 0 || w >= W) continue;
              if (p.mode == PoolMode::average) {
                dx.at(n, c, h, w) += dy.at(n, c, i, j) / T(count);
              } else if (!routed && x.at(n, c, h, w) == y.at(n, c, i, j)) {
                dx.at(n, c, h, w) += dy.at(n, c, i, j);
                routed = true;
              }
            }
        }
}

template void pool2d_forward_reference<float>(const Pool2dParams&, const Tensor&, const Tensor&);
template void pool2d_forward_reference<double>(const Pool2dParams&, const TensorD&, const TensorD&);
template void pool2d_backward_data_reference<float>(const Pool2dParams&, const Tensor&, const Tensor&, const Tensor&,
                                                    const Tensor&);
template void pool2d_backward_data_reference<double>(const Pool2dParams&, const TensorD&, const TensorD&,
                                                     const TensorD&, const TensorD&);

// Fast path: the tap ranges of every row and column are computed once, so the inner loops
// touch only real input elements, with no bounds tests; planes (n, c) run in parallel.
void pool2d_forward(const Pool2dParams& p0, const Tensor& x, const Tensor& y) {
  const Pool2dParams p = check_forward("pool2d_forward", p0, x, y);
  if (check_same_device<float>("pool2d_forward", {&x, &y}) == Device::cuda)
    return use_oracle(Device::cuda, cudnn_expresses(p, x.shape(), y.shape())) ? cudnn_pool2d_forward(p, x, y)
                                                                               : pool2d_forward_cuda(p, x, y);
  const int H = x.h(), W = x.w(), OH = y.h(), OW = y.w(), C = x.c();
  const AxisPlan rows = plan_axis(OH, H, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom, p.dilation_h,
                                  p.count_include_pad);
  const AxisPlan cols = plan_axis(OW, W, p.kernel_w, p.stride_w, p.pad_left, p.pad_right, p.dilation_w,
                                  p.count_include_pad);
  const int dh = p.dilation_h, dw = p.dilation_w;
  const bool is_max = p.mode == PoolMode::max;
  if (is_max) {
    // Max is separable and ignores the order of its taps: first the max over the window's rows
    // for every input column (contiguous, vectorised), then over the window's columns.
#pragma omp parallel if (x.numel() > 32768)
    {
      std::vector<float> colmax(static_cast<size_t>(W));
#pragma omp for collapse(2) schedule(static)
      for (int n = 0; n < x.n(); ++n)
        for (int c = 0; c < C; ++c) {
          const float* xp = x.image(n) + int64_t(c) * H * W;
          float* yp = y.image(n) + int64_t(c) * OH * OW;
          float* t = colmax.data();
          for (int i = 0; i < OH; ++i) {
            const PoolRange tr = rows.taps[i];
            std::fill(t, t + W, -std::numeric_limits<float>::infinity());
            for (int a = tr.begin; a < tr.end; ++a) {
              const float* row = xp + int64_t(rows.start[i] + a * dh) * W;
              for (int w = 0; w < W; ++w) t[w] = std::max(t[w], row[w]);
            }
            for (int j = 0; j < OW; ++j) {
              const PoolRange tc = cols.taps[j];
              const float* tj = t + cols.start[j];
              float acc = -std::numeric_limits<float>::infinity();
              for (int b = tc.begin; b < tc.end; ++b) acc = std::max(acc, tj[b * dw]);
              yp[int64_t(i) * OW + j] = acc;
            }
          }
        }
    }
    return;
  }
#pragma omp parallel for collapse(2) schedule(static) if (x.numel() > 32768)
  for (int n = 0; n < x.n(); ++n)
    for (int c = 0; c < C; ++c) {
      const float* xp = x.image(n) + int64_t(c) * H * W;
      float* yp = y.image(n) + int64_t(c) * OH * OW;
      for (int i = 0; i < OH; ++i) {
        const PoolRange tr = rows.taps[i];
        for (int j = 0; j < OW; ++j) {
          const PoolRange tc = cols.taps[j];
          const int w0 = cols.start[j];
          float acc = is_max ? -std::numeric_limits<float>::infinity() : 0.f;
          for (int a = tr.begin; a < tr.end; ++a) {
            const float* row = xp + int64_t(rows.start[i] + a * dh) * W;
            if (is_max)
              for (int b = tc.begin; b < tc.end; ++b) acc = std::max(acc, row[w0 + b * dw]);
            else
              for (int b = tc.begin; b < tc.end; ++b) acc += row[w0 + b * dw];
          }
          yp[int64_t(i) * OW + j] = is_max ? acc : acc / float(rows.count[i] * cols.count[j]);
        }
      }
    }
}

void pool2d_backward_data(const Pool2dParams& p0, const Tensor& x, const Tensor& y, const Tensor& dy,
                          const Tensor& dx) {
  const Pool2dParams p = check_backward("pool2d_backward_data", p0, x, y, dy, dx);
  if (check_same_device<float>("pool2d_backward_data", {&x, &y, &dy, &dx}) == Device::cuda)
    return pool2d_backward_data_cuda(p, x, y, dy, dx);
  const int H = x.h(), W = x.w(), OH = y.h(), OW = y.w(), C = x.c();
  const AxisPlan rows = plan_axis(OH, H, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom, p.dilation_h,
                                  p.count_include_pad);
  const AxisPlan cols = plan_axis(OW, W, p.kernel_w, p.stride_w, p.pad_left, p.pad_right, p.dilation_w,
                                  p.count_include_pad);
  const int dh = p.dilation_h, dw = p.dilation_w;
  const bool is_max = p.mode == PoolMode::max;
  // Max: outputs [ja, jb) take the vectorised search (interior_outputs); the others search
  // window by window, stopping at the first match.
  // Plain variables, not a structured binding: clang (before C++20's P1091 support, clang 16)
  // cannot capture structured bindings in the OpenMP region and lambdas below.
  const auto interior = interior_outputs(p, cols, OW);
  const int ja = interior.first, jb = interior.second;
  // Windows overlap, so each plane scatters into its own dx plane: planes are independent.
#pragma omp parallel if (x.numel() > 32768)
  {
    std::vector<int32_t> found(static_cast<size_t>(OW));
#pragma omp for collapse(2) schedule(static)
    for (int n = 0; n < x.n(); ++n)
      for (int c = 0; c < C; ++c) {
        const float* xp = x.image(n) + int64_t(c) * H * W;
        const float* yp = y.image(n) + int64_t(c) * OH * OW;
        const float* dyp = dy.image(n) + int64_t(c) * OH * OW;
        float* dxp = dx.image(n) + int64_t(c) * H * W;
        std::memset(dxp, 0, sizeof(float) * size_t(H) * W);
        for (int i = 0; i < OH; ++i) {
          const PoolRange tr = rows.taps[i];
          const int h0 = rows.start[i];
          const float* yrow = yp + int64_t(i) * OW;
          const float* dyrow = dyp + int64_t(i) * OW;
          // Left edge, interior, right edge: dy is added in j order, as the reference does.
          auto by_window = [&](int j0, int j1) {
            for (int j = j0; j < j1; ++j) {
              const PoolRange tc = cols.taps[j];
              const int w0 = cols.start[j];
              const float g = dyrow[j];
              if (is_max) {
                const int64_t k = first_match(xp, W, h0, w0, tr, tc, dh, dw, yrow[j]);
                if (k >= 0) dxp[k] += g;
              } else {
                const float share = g / float(rows.count[i] * cols.count[j]);
                for (int a = tr.begin; a < tr.end; ++a) {
                  float* row = dxp + int64_t(h0 + a * dh) * W;
                  for (int b = tc.begin; b < tc.end; ++b) row[w0 + b * dw] += share;
                }
              }
            }
          };
          by_window(0, ja);
          if (ja < jb) {
            // Windows overlap, so two outputs may route to one element: dy added in j order.
            first_match_interior(p.stride_w, xp, W, h0, tr, dh, p.kernel_w, dw, cols.start[0], yrow, ja, jb,
                                 found.data());
            for (int j = ja; j < jb; ++j)
              if (found[j] >= 0) dxp[found[j]] += dyrow[j];
          }
          by_window(jb, OW);
        }
      }
  }
}

namespace {
void check_winners(const char* op, const Pool2dParams& p, const WinnerTensor& winners, Shape y) {
  CUVIZ_CHECK(p.mode == PoolMode::max, op, ": winners exist for max pooling only");
  CUVIZ_CHECK(winners.shape() == y && winners.contiguous(), op, ": winners ", winners.shape().str(),
              " must be a dense ", y.str());
}
}  // namespace

void pool2d_forward_winners(const Pool2dParams& p0, const Tensor& x, const Tensor& y, const WinnerTensor& winners) {
  const Pool2dParams p = check_forward("pool2d_forward_winners", p0, x, y);
  check_winners("pool2d_forward_winners", p, winners, y.shape());
  CUVIZ_CHECK(winners.device() == x.device(), "pool2d_forward_winners: x and winners on different devices");
  if (check_same_device<float>("pool2d_forward_winners", {&x, &y}) == Device::cuda)
    return pool2d_forward_winners_cuda(p, x, y, winners);
  // y by the fast path above, then each window's first tap equal to it (first_match: the rule
  // pool2d_backward_data recomputes).
  pool2d_forward(p, x, y);
  const int H = x.h(), W = x.w(), OH = y.h(), OW = y.w(), C = x.c();
  const AxisPlan rows = plan_axis(OH, H, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom, p.dilation_h, true);
  const AxisPlan cols = plan_axis(OW, W, p.kernel_w, p.stride_w, p.pad_left, p.pad_right, p.dilation_w, true);
  const auto interior = interior_outputs(p, cols, OW);  // the vectorised search, as the backward's
  const int ja = interior.first, jb = interior.second;     // (no structured binding: see above)
#pragma omp parallel for collapse(2) schedule(static) if (x.numel() > 32768)
  for (int n = 0; n < x.n(); ++n)
    for (int c = 0; c < C; ++c) {
      const float* xp = x.image(n) + int64_t(c) * H * W;
      const float* yp = y.image(n) + int64_t(c) * OH * OW;
      int32_t* wp = winners.image(n) + int64_t(c) * OH * OW;
      for (int i = 0; i < OH; ++i) {
        const float* yrow = yp + int64_t(i) * OW;
        int32_t* wrow = wp + int64_t(i) * OW;
        auto by_window = [&](int j0, int j1) {
          for (int j = j0; j < j1; ++j)
            wrow[j] = int32_t(first_match(xp, W, rows.start[i], cols.start[j], rows.taps[i], cols.taps[j],
                                          p.dilation_h, p.dilation_w, yrow[j]));
        };
        by_window(0, ja);
        if (ja < jb)
          first_match_interior(p.stride_w, xp, W, rows.start[i], rows.taps[i], p.dilation_h, p.kernel_w,
                               p.dilation_w, cols.start[0], yrow, ja, jb, wrow);
        by_window(jb, OW);
      }
    }
}

void pool2d_backward_data_winners(const Pool2dParams& p0, const WinnerTensor& winners, const Tensor& dy,
                                  const Tensor& dx) {
  check_nonempty("pool2d_backward_data_winners", "dx", dx);
  const Pool2dParams p = resolve(p0, dx.shape());
  check_shape("pool2d_backward_data_winners", "dy", dy, pool2d_output_shape(p0, dx.shape()));
  check_winners("pool2d_backward_data_winners", p, winners, dy.shape());
  CUVIZ_CHECK(winners.device() == dy.device(), "pool2d_backward_data_winners: winners and dy on different devices");
  if (check_same_device<float>("pool2d_backward_data_winners", {&dy, &dx}) == Device::cuda)
    return pool2d_backward_data_winners_cuda(p, winners, dy, dx);
  const int64_t plane = int64_t(dx.h()) * dx.w(), out_plane = int64_t(dy.h()) * dy.w();
  // Each plane scatters into its own dx plane, outputs in (i, j) order as pool2d_backward_data.
#pragma omp parallel for collapse(2) schedule(static) if (dx.numel() > 32768)
  for (int n = 0; n < dx.n(); ++n)
    for (int c = 0; c < dx.c(); ++c) {
      const int32_t* wp = winners.image(n) + c * out_plane;
      const float* dyp = dy.image(n) + c * out_plane;
      float* dxp = dx.image(n) + c * plane;
      std::memset(dxp, 0, sizeof(float) * size_t(plane));
      for (int64_t o = 0; o < out_plane; ++o)
        if (wp[o] >= 0) dxp[wp[o]] += dyp[o];
    }
}

}  // namespace cuviz
