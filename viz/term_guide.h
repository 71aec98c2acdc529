// The item maths of guide(L, G): google/deepdream's guided dream (the notebook's objective_guide).
// With x = the dream's features at L as C x n (n = H W positions) and y = the guide image's
// features at L as C x m (computed once, at the guide's own size), the notebook sets
//   A = x^T y,   dst.diff = y[:, A.argmax(1)]
// i.e. the gradient at position i is the guide vector y_j with the largest dot product <x_i, y_j>.
// That is the gradient of sum_i max_j <x_i, y_j>; cuviz takes its mean over positions (so tiles and
// octaves of any size read on one scale; the deepdream step divides the gradient by its mean |g|,
// which removes the 1/n again):
//   value = (1/n) sum_i max_j <x_i, y_j>          d value / d x_i = y_{j*(i)} / n,
// j*(i) the first maximiser (numpy's argmax). One item per position i: C m multiply-adds each.
// The guide is held in the batch's table as m rows of C floats (g_j contiguous), at t.aux.
#pragma once

#include "viz/objective_items.h"

namespace cuviz {

struct GuideMaths {
  // Before bind the task holds channel = C of the guide and x0 = m, its number of vectors.
  static void bind(LeafTask& t, const Shape& s, const std::vector<float>& aux, const std::string& layer,
                   const std::string& label) {
    CUVIZ_CHECK(t.channel == s.c, "objective ", label, ": the guide has ", t.channel, " channels, but ", layer,
                " has ", s.c, " (capture the guide at the same layer)");
    CUVIZ_CHECK(t.x0 >= 1 && t.aux + int64_t(t.x0) * s.c <= int64_t(aux.size()), "objective ", label,
                ": internal error: guide outside the table");
  }
  CUVIZ_HD static int64_t items(const LeafTask&, int, int h, int w) { return int64_t(h) * w; }
  // j*(k) and <x_k, y_j*> for position k.
  CUVIZ_HD static int best(const LeafTask& t, const float* a, const float* guide, int c, int h, int w, int64_t k,
                           float& dot) {
    const int64_t plane = int64_t(h) * w;
    int best_j = 0;
    for (int j = 0; j < t.x0; ++j) {
      const float* g = guide + t.aux + int64_t(j) * c;
      float d = 0.f;
      for (int ch = 0; ch < c; ++ch) d += a[ch * plane + k] * g[ch];
      if (j == 0 || d > dot) {
        dot = d;
        best_j = j;
      }
    }
    return best_j;
  }
  CUVIZ_HD static float value(const LeafTask& t, const float* a, const float* guide, int c, int h, int w, int64_t k) {
    float dot = 0.f;
    best(t, a, guide, c, h, w, k, dot);
    return dot / float(int64_t(h) * w);
  }
  template <class Add>
  CUVIZ_HD static void seed(const LeafTask& t, const float* a, const float* guide, int c, int h, int w, int64_t k,
                            float weight, float* g, Add add) {
    float dot = 0.f;
    const int j = best(t, a, guide, c, h, w, k, dot);
    const int64_t plane = int64_t(h) * w;
    const float* y = guide + t.aux + int64_t(j) * c;
    const float scale = weight / float(plane);
    for (int ch = 0; ch < c; ++ch) add(g + ch * plane + k, scale * y[ch]);
  }
};

// The CPU path of the guide's batch (viz/term_guide.cpp): per image, all the dot products at
// once as one SGEMM, A = x^T y (n x m), then each row's argmax, instead of the generic item loop's
// C m multiply-adds per item computed twice (once for the value, once for the seed). The CUDA
// path stays the item kernels of GuideMaths.
template <>
void ItemBatch<GuideMaths>::values(const Tensor& image, const StepBuffers& step);
template <>
void ItemBatch<GuideMaths>::seed(const StepBuffers& step);

}  // namespace cuviz
