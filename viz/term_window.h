// The item maths of window terms (channel, neuron, class_logit, channel_interpolate): the mean of
// one channel over a window W of positions,
//   value = (1/|W|) sum_{(y,x) in W} a[c,y,x]          d value/da[c,y,x] = 1/|W| on W.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "viz/objective_items.h"

namespace cuviz {

struct WindowMaths {
  // Before bind a task's (x0, y0) is the requested position: kPlane for the whole plane (the
  // spatial mean), -1 for the centre (W/2, H/2); bind turns it into the window.
  static constexpr int kPlane = -2;

  static void bind(LeafTask& t, const Shape& s, const std::vector<float>&, const std::string& layer,
                   const std::string& label) {
    check_channel(t, s, layer);
    if (t.x0 == kPlane) {
      t.x0 = 0, t.x1 = s.w, t.y0 = 0, t.y1 = s.h;
      return;
    }
    const int x = t.x0 < 0 ? s.w / 2 : t.x0, y = t.y0 < 0 ? s.h / 2 : t.y0;
    CUVIZ_CHECK(x >= 0 && x < s.w && y >= 0 && y < s.h, "objective ", label, ": position (x ", x, ", y ", y,
                ") outside ", layer, " of ", s.w, " x ", s.h, " (x 0..", s.w - 1, ", y 0..", s.h - 1, ")");
    t.x0 = x, t.x1 = x + 1, t.y0 = y, t.y1 = y + 1;
  }
  CUVIZ_HD static int64_t items(const LeafTask& t, int, int, int) { return int64_t(t.y1 - t.y0) * (t.x1 - t.x0); }
  CUVIZ_HD static float value(const LeafTask& t, const float* a, const float*, int, int h, int w, int64_t k) {
    const int ww = t.x1 - t.x0, n = (t.y1 - t.y0) * ww;
    const int y = t.y0 + int(k / ww), x = t.x0 + int(k % ww);
    return a[(int64_t(t.channel) * h + y) * w + x] / float(n);
  }
  template <class Add>
  CUVIZ_HD static void seed(const LeafTask& t, const float*, const float*, int, int h, int w, int64_t k, float weight,
                            float* g, Add add) {
    const int ww = t.x1 - t.x0, n = (t.y1 - t.y0) * ww;
    const int y = t.y0 + int(k / ww), x = t.x0 + int(k % ww);
    add(g + (int64_t(t.channel) * h + y) * w + x, weight / float(n));
  }
};

}  // namespace cuviz
