// Pooling's tap rule along one axis: which input coordinates a pooling window reads and what the
// average divides by. The one source of truth for the CPU loops (kernels/pool2d.cpp) and the
// CUDA kernels (kernels/pool2d.cu); tests/kernels/pool_window_test.cpp checks it against a
// tap-by-tap definition.
//
// Along one axis (input extent `in`, kernel k, stride s, dilation d, pads pb before / pe after),
// output o's window has taps t = 0..k-1 at input coordinates
//     start + t*d,   start = o*s - pb   (negative: the window begins in the leading padding).
// The taps that read real inputs are those with 0 <= start + t*d < in: since the coordinates
// increase with t, a contiguous range [begin, end). The average's divisor counts, along this
// axis, the taps inside the padded input [-pb, in + pe) (count_include_pad: Caffe / PyTorch) or
// inside the input only (ONNX's default); in 2-D it is the product of the two axes' counts.
// The output extent (floor / ceil mode) is pool2d_output_shape's (kernels/pool2d.cpp).
#pragma once

#include "core/host_device.h"

namespace cuviz {

// Indices [begin, end), empty when begin >= end.
struct PoolRange {
  int begin, end;
};

// The taps t in [0, k) of a window whose first tap sits at `start` (step d) that land inside
// [lo, hi): t >= ceil((lo - start) / d) and t < ceil((hi - start) / d). end >= begin always.
CUVIZ_HD PoolRange pool_taps_inside(int start, int k, int d, int lo, int hi) {
  const int b = start >= lo ? 0 : (lo - start + d - 1) / d;
  int e = hi <= start ? 0 : (hi - start + d - 1) / d;
  e = e < k ? e : k;
  return PoolRange{b, e > b ? e : b};
}

// Output o's window along one axis.
struct PoolWindow {
  int start;       // input coordinate of tap 0
  PoolRange taps;  // the taps inside the input: coordinates start + t*d, t in [taps.begin, taps.end)
  int count;       // the taps the average's divisor counts along this axis
};
CUVIZ_HD PoolWindow pool_window(int o, int in, int k, int s, int pb, int pe, int d, bool count_include_pad) {
  const int start = o * s - pb;
  const PoolRange taps = pool_taps_inside(start, k, d, 0, in);
  const PoolRange counted = count_include_pad ? pool_taps_inside(start, k, d, -pb, in + pe) : taps;
  return PoolWindow{start, taps, counted.end - counted.begin};
}

// The inverse, for the gathering backward kernels: the outputs o in [begin, end), within
// [0, out), whose window spans input position h (0 <= h < in), i.e.
// o*s - pb <= h <= o*s - pb + (k-1)*d. With dilation > 1 a window may step over h: the caller
// keeps the o with (h - start) % d == 0 (or matches a recorded winner position exactly).
CUVIZ_HD PoolRange pool_windows_containing(int h, int k, int s, int pb, int d, int out) {
  const int hi = (h + pb) / s;              // last window starting at or before h
  const int lo_num = h + pb - (k - 1) * d;  // first window: o*s >= lo_num
  const int lo = lo_num <= 0 ? 0 : (lo_num + s - 1) / s;
  return PoolRange{lo, (hi < out - 1 ? hi : out - 1) + 1};
}

}  // namespace cuviz
