// The item maths of direction(L,v) and direction_cossim(L,v), per position p of H*W (the task's
// aux floats are v, its aux_norm |v|):
//   direction: value = (1/HW) sum_p <a_p, v>                       d/da_p = v/HW
//   cossim   : value = (1/HW) sum_p <a_p, v>/(|v| r_p), r_p = sqrt(|a_p|^2 + 1e-8)
//              d/da_p = (v/(|v| r_p) - <a_p,v> a_p/(|v| r_p^3)) / HW
#pragma once

#include <cmath>

#include "viz/objective_items.h"

namespace cuviz {

// Shared by both: one item per position, and at bind v must have one value per channel.
struct PositionMaths {
  static void bind(LeafTask& t, const Shape& s, const std::vector<float>& aux, const std::string& layer,
                   const std::string& label) {
    const int given = t.channel;  // compile stores the vector's length in `channel`
    CUVIZ_CHECK(given == s.c, "objective ", label, ": direction on ", layer, " needs ", s.c,
                " values (one per channel), got ", given);
    CUVIZ_CHECK(t.aux + given <= int(aux.size()), "objective ", label, ": internal error: vector outside the table");
    t.channel = 0;
    t.x0 = 0, t.x1 = s.w, t.y0 = 0, t.y1 = s.h;
  }
  CUVIZ_HD static int64_t items(const LeafTask&, int, int h, int w) { return int64_t(h) * w; }
};

struct DirectionMaths : PositionMaths {
  CUVIZ_HD static float value(const LeafTask& t, const float* a, const float* v, int c, int h, int w, int64_t k) {
    const int64_t hw = int64_t(h) * w;
    float dot = 0.f;
    for (int ch = 0; ch < c; ++ch) dot += a[ch * hw + k] * v[t.aux + ch];
    return dot / float(hw);
  }
  template <class Add>
  CUVIZ_HD static void seed(const LeafTask& t, const float*, const float* v, int c, int h, int w, int64_t k,
                            float weight, float* g, Add add) {
    const int64_t hw = int64_t(h) * w;
    for (int ch = 0; ch < c; ++ch) add(g + ch * hw + k, weight * v[t.aux + ch] / float(hw));
  }
};

// <a_p, v> and |a_p|^2 at one position: a_p = a[0], a[hw], ... (stride hw, c channels).
CUVIZ_HD void dot_and_square(const float* a, const float* v, int c, int64_t hw, float& dot, float& sq) {
  dot = 0.f, sq = 0.f;
  for (int ch = 0; ch < c; ++ch) {
    const float x = a[ch * hw];
    dot += x * v[ch];
    sq += x * x;
  }
}

struct CossimMaths : PositionMaths {
  CUVIZ_HD static float value(const LeafTask& t, const float* a, const float* v, int c, int h, int w, int64_t k) {
    const int64_t hw = int64_t(h) * w;
    float dot, sq;
    dot_and_square(a + k, v + t.aux, c, hw, dot, sq);
    return dot / (t.aux_norm * sqrtf(sq + 1e-8f)) / float(hw);
  }
  template <class Add>
  CUVIZ_HD static void seed(const LeafTask& t, const float* a, const float* v, int c, int h, int w, int64_t k,
                            float weight, float* g, Add add) {
    const int64_t hw = int64_t(h) * w;
    float dot, sq;
    dot_and_square(a + k, v + t.aux, c, hw, dot, sq);
    const float r = sqrtf(sq + 1e-8f), s = weight / float(hw) / t.aux_norm;
    for (int ch = 0; ch < c; ++ch) add(g + ch * hw + k, s * (v[t.aux + ch] / r - dot * a[ch * hw + k] / (r * r * r)));
  }
};

}  // namespace cuviz
