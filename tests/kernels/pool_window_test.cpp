// Pooling's tap rule (kernels/pool_window.h), shared by the CPU path and the CUDA kernels, against
// its tap-by-tap definition: for every kernel / stride / pads (asymmetric, larger than the
// kernel) / dilation / input size, floor and ceil mode, each window's real taps, its divisor with
// and without count_include_pad, the backward's inverse (windows containing an input position),
// and the output extent pool2d_output_shape derives from the same windows.
#include "kernels/pool_window.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "kernels/pool2d.h"

namespace cuviz {
namespace {

struct Axis {
  int in, k, s, pb, pe, d;
};

// Every combination the tests sweep (pads up to k + 1, i.e. beyond the kernel).
std::vector<Axis> axes() {
  std::vector<Axis> all;
  for (int in = 1; in <= 9; ++in)
    for (int k = 1; k <= 4; ++k)
      for (int s = 1; s <= 3; ++s)
        for (int pb = 0; pb <= k + 1; ++pb)
          for (int pe = 0; pe <= k + 1; ++pe)
            for (int d = 1; d <= 3; ++d) all.push_back({in, k, s, pb, pe, d});
  return all;
}

int tap(const Axis& a, int o, int t) { return o * a.s - a.pb + t * a.d; }
bool in_input(const Axis& a, int x) { return x >= 0 && x < a.in; }
bool in_padded(const Axis& a, int x) { return x >= -a.pb && x < a.in + a.pe; }
bool has_real_tap(const Axis& a, int o) {
  for (int t = 0; t < a.k; ++t)
    if (in_input(a, tap(a, o, t))) return true;
  return false;
}

TEST(PoolWindow, TapsAreExactlyTheWindowsInputTapsAndCountFollowsCountIncludePad) {
  int checked = 0;
  for (const Axis& a : axes())
    for (int o = 0; o < (a.in + a.pb + a.pe) / a.s + 3; ++o)  // past any output: the rule is arithmetic
      for (const bool include_pad : {true, false}) {
        const PoolWindow w = pool_window(o, a.in, a.k, a.s, a.pb, a.pe, a.d, include_pad);
        SCOPED_TRACE(::testing::Message() << "in " << a.in << " k " << a.k << " s " << a.s << " pads " << a.pb << "/"
                                          << a.pe << " d " << a.d << " o " << o << " include_pad " << include_pad);
        ASSERT_EQ(w.start, tap(a, o, 0));
        ASSERT_LE(w.taps.begin, w.taps.end);
        int count = 0;
        for (int t = 0; t < a.k; ++t) {
          const bool real = in_input(a, tap(a, o, t));
          ASSERT_EQ(real, t >= w.taps.begin && t < w.taps.end) << "tap " << t << " at " << tap(a, o, t);
          if (real || (include_pad && in_padded(a, tap(a, o, t)))) ++count;
        }
        ASSERT_EQ(w.count, count);
        ++checked;
      }
  EXPECT_GT(checked, 100000);
}

// Floor mode: the windows that fit in the padded input. Ceil mode: also one that hangs over its
// end, but no window may start beyond the input (in the right padding). -1: rejected (a kept
// window reads no real input, or the kernel is larger than the padded input).
int brute_extent(const Axis& a, bool ceil_mode) {
  const int last = (a.k - 1) * a.d;  // the last tap's offset from the first
  if (last + 1 > a.in + a.pb + a.pe) return -1;
  std::vector<int> candidates;  // floor: fits; ceil: the previous one did not reach the end
  for (int o = 0;; ++o) {
    const bool fits = tap(a, o, 0) + last <= a.in + a.pe - 1;
    const bool prev_short = o == 0 || tap(a, o - 1, 0) + last < a.in + a.pe - 1;
    if (!(ceil_mode ? prev_short : fits)) break;
    candidates.push_back(o);
  }
  int out = int(candidates.size());
  if (ceil_mode && tap(a, out - 1, 0) >= a.in) --out;  // the hanging window starts in the right padding
  for (int o = 0; o < out; ++o)
    if (!has_real_tap(a, o)) return -1;
  return out;
}

TEST(PoolWindow, OutputExtentMatchesTheWindowDefinitionInFloorAndCeilMode) {
  int accepted = 0, rejected = 0;
  for (const Axis& a : axes())
    for (const bool ceil_mode : {false, true}) {
      Pool2dParams p;
      p.kernel_h = a.k;
      p.stride_h = a.s;
      p.pad_top = a.pb;
      p.pad_bottom = a.pe;
      p.dilation_h = a.d;
      p.ceil_mode = ceil_mode;
      SCOPED_TRACE(::testing::Message() << "in " << a.in << " k " << a.k << " s " << a.s << " pads " << a.pb << "/"
                                        << a.pe << " d " << a.d << " ceil " << ceil_mode);
      const int expect = brute_extent(a, ceil_mode);
      if (expect < 0) {
        EXPECT_THROW(pool2d_output_shape(p, Shape{1, 1, a.in, 1}), std::exception);
        ++rejected;
        continue;
      }
      ASSERT_EQ(pool2d_output_shape(p, Shape{1, 1, a.in, 1}).h, expect);
      ++accepted;
    }
  EXPECT_GT(accepted, 1000);
  EXPECT_GT(rejected, 100);
}

// The gathering backward kernels visit, for input position h, the outputs in
// pool_windows_containing and keep those whose taps step onto h.
TEST(PoolWindow, WindowsContainingAnInputAreExactlyThoseWhoseSpanCoversIt) {
  for (const Axis& a : axes()) {
    const int out = (a.in + a.pb + a.pe) / a.s + 2;  // any output count: the range is clipped to it
    for (int h = 0; h < a.in; ++h) {
      const PoolRange r = pool_windows_containing(h, a.k, a.s, a.pb, a.d, out);
      SCOPED_TRACE(::testing::Message() << "in " << a.in << " k " << a.k << " s " << a.s << " pad " << a.pb << " d "
                                        << a.d << " h " << h);
      for (int o = 0; o < out; ++o) {
        const bool spans = tap(a, o, 0) <= h && h <= tap(a, o, a.k - 1);
        ASSERT_EQ(spans, o >= r.begin && o < r.end) << "output " << o;
        bool reads = false;
        for (int t = 0; t < a.k; ++t) reads = reads || tap(a, o, t) == h;
        if (spans) ASSERT_EQ(reads, (h - tap(a, o, 0)) % a.d == 0) << "output " << o;
      }
    }
  }
}

}  // namespace
}  // namespace cuviz
