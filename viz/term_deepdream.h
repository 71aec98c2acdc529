// The item maths of deepdream(L): the mean of squared activations over every element,
//   value = (1/CHW) sum a^2                              d value/da = 2a/CHW.
#pragma once

#include "viz/objective_items.h"

namespace cuviz {

struct DeepdreamMaths {
  static void bind(LeafTask&, const Shape&, const std::vector<float>&, const std::string&, const std::string&) {}
  CUVIZ_HD static int64_t items(const LeafTask&, int c, int h, int w) { return int64_t(c) * h * w; }
  CUVIZ_HD static float value(const LeafTask&, const float* a, const float*, int c, int h, int w, int64_t k) {
    return a[k] * a[k] / float(int64_t(c) * h * w);
  }
  template <class Add>
  CUVIZ_HD static void seed(const LeafTask&, const float* a, const float*, int c, int h, int w, int64_t k, float weight,
                            float* g, Add add) {
    add(g + k, weight * 2.f * a[k] / float(int64_t(c) * h * w));
  }
};

}  // namespace cuviz
