// The item maths of l2_to(L, target): the squared distance to a target activation, relative to
// the target's own size (Mahendran & Vedaldi, "Understanding deep image representations by
// inverting them", 2015: the loss ||Phi(x) - Phi0||^2 / ||Phi0||^2), over every element k of
// the image's {C, H, W} block (aux: the target, aux_norm: ||target||^2):
//   value = (1/||t||^2) sum_k (a_k - t_k)^2              d value/da_k = 2 (a_k - t_k)/||t||^2
// Maximise -l2_to(L, target) to find an image whose activations at L are the target's.
//
// dot_to(L, target): the inner product with the target activation (Lucid's caricature notebook,
// dot_compare with cossim_pow 0: maximising it exaggerates what the target's image excites),
//   value = sum_k a_k t_k                                d value/da_k = t_k.
#pragma once

#include "viz/objective_items.h"

namespace cuviz {

struct L2ToMaths {
  // Before bind the task holds the target's shape: channel = C, x1 = W, y1 = H.
  static void bind(LeafTask& t, const Shape& s, const std::vector<float>& aux, const std::string& layer,
                   const std::string& label) {
    CUVIZ_CHECK(t.channel == s.c && t.y1 == s.h && t.x1 == s.w, "objective ", label, ": the target is ", t.channel,
                " x ", t.y1, " x ", t.x1, " (C x H x W), but ", layer, " is ", s.c, " x ", s.h, " x ", s.w,
                " (capture the target at the render's image size)");
    CUVIZ_CHECK(t.aux + s.image_size() <= int64_t(aux.size()), "objective ", label,
                ": internal error: target outside the table");
    t.channel = 0;
    t.x0 = 0, t.y0 = 0;
  }
  CUVIZ_HD static int64_t items(const LeafTask&, int c, int h, int w) { return int64_t(c) * h * w; }
  CUVIZ_HD static float value(const LeafTask& t, const float* a, const float* target, int, int, int, int64_t k) {
    const float d = a[k] - target[t.aux + k];
    return d * d / t.aux_norm;
  }
  template <class Add>
  CUVIZ_HD static void seed(const LeafTask& t, const float* a, const float* target, int, int, int, int64_t k,
                            float weight, float* g, Add add) {
    add(g + k, weight * 2.f * (a[k] - target[t.aux + k]) / t.aux_norm);
  }
};

// dot_to shares l2_to's target table and its bind (the target's shape against the blob's).
struct DotToMaths {
  static void bind(LeafTask& t, const Shape& s, const std::vector<float>& aux, const std::string& layer,
                   const std::string& label) {
    L2ToMaths::bind(t, s, aux, layer, label);
  }
  CUVIZ_HD static int64_t items(const LeafTask&, int c, int h, int w) { return int64_t(c) * h * w; }
  CUVIZ_HD static float value(const LeafTask& t, const float* a, const float* target, int, int, int, int64_t k) {
    return a[k] * target[t.aux + k];
  }
  template <class Add>
  CUVIZ_HD static void seed(const LeafTask& t, const float*, const float* target, int, int, int, int64_t k,
                            float weight, float* g, Add add) {
    add(g + k, weight * target[t.aux + k]);
  }
};

}  // namespace cuviz
