// guide(L, G): the guided dream's objective (viz/term_guide.h). The guide's features are a tensor,
// which the expression language cannot write: the term exists in code only (`cuviz dream --guide`
// builds it), and the parser says so. Node: layers {L}, data = the guide's features as m x C
// (row j = the feature vector of guide position j), args {C, m}.
#include <cmath>
#include <vector>

#include "kernels/gemm.h"
#include "viz/objective.h"
#include "viz/term_guide.h"

namespace cuviz {

namespace {
// A = x^T y for one task on the CPU (n x m, row-major), and per position its first argmax.
void guide_argmax(const LeafTask& t, const float* a, const float* guide, int c, int64_t n, std::vector<float>& dots,
                  std::vector<int>& best) {
  const int m = t.x0;
  dots.resize(size_t(n) * m);
  best.resize(size_t(n));
  // x is the image's {C, n} block (row-major, lda n); y the task's m x C rows (ldb C).
  sgemm_parallel(true, true, int(n), m, c, 1.f, a, int(n), guide + t.aux, c, 0.f, dots.data(), m);
  for (int64_t k = 0; k < n; ++k) {
    const float* row = dots.data() + k * m;
    int j = 0;
    for (int i = 1; i < m; ++i)
      if (row[i] > row[j]) j = i;
    best[size_t(k)] = j;
  }
}
thread_local std::vector<float> guide_dots;
thread_local std::vector<int> guide_best;
}  // namespace

template <>
void ItemBatch<GuideMaths>::values(const Tensor&, const StepBuffers& step) {
  if (device_ == Device::cuda) {
    item_values_cuda<GuideMaths>(tasks_dev(), int(tasks_.size()), aux_dev(), act_, step.values);
    return;
  }
  const Shape s = act_.shape();
  const int64_t n = int64_t(s.h) * s.w;
  for (const LeafTask& t : tasks_) {
    guide_argmax(t, act_.image(t.image), aux_.data(), s.c, n, guide_dots, guide_best);
    double acc = 0;  // (1/n) sum_k max_j <x_k, y_j>
    for (int64_t k = 0; k < n; ++k) acc += guide_dots[size_t(k * t.x0 + guide_best[size_t(k)])];
    step.values[t.slot] = float(acc / double(n));
  }
}

template <>
void ItemBatch<GuideMaths>::seed(const StepBuffers& step) {
  if (device_ == Device::cuda) {
    item_seeds_cuda<GuideMaths>(tasks_dev(), int(tasks_.size()), aux_dev(), act_, step.weights, grad_);
    return;
  }
  const Shape s = act_.shape();
  const int64_t n = int64_t(s.h) * s.w;
  for (const LeafTask& t : tasks_) {
    const float w = step.weights[t.slot];
    if (w == 0.f) continue;
    guide_argmax(t, act_.image(t.image), aux_.data(), s.c, n, guide_dots, guide_best);
    // d value / d x_k = y_{j*(k)} / n, times the slot's weight.
    const float scale = w / float(n);
    float* g = grad_.image(t.image);
    for (int ch = 0; ch < s.c; ++ch)
      for (int64_t k = 0; k < n; ++k) g[ch * n + k] += scale * aux_[size_t(t.aux + int64_t(guide_best[size_t(k)]) * s.c + ch)];
  }
}

extern const ObjectiveTerm kGuideTerm;

const ObjectiveTerm kGuideTerm{
    .name = "guide",
    .aliases = {},
    .usage = "guide(LAYER, guide features), in code only",
    .parse = [](TermArgs& a) -> Objective {
      a.fail("guide takes the guide image's features, which an expression cannot write: use cuviz dream --guide "
             "IMAGE, or guide(layer, features) in code (viz/objective.h)");
      return {};  // not reached: fail throws
    },
    .print = [](const ObjectiveNode& n) {
      return cat("guide(", n.layers[0], ",[", int(n.args[1]), " vectors of ", int(n.args[0]), "])");
    },
    .compile = [](const ObjectiveNode& n, TermCompiler& c) {
      const Tensor& rows = *n.data;
      auto& batch = c.batch<ItemBatch<GuideMaths>>(n.layers[0]);
      const int at = batch.add_aux(rows.data(), size_t(rows.numel()));
      for (int i = c.first(); i < c.last(); ++i) {
        LeafTask t;
        t.image = i;
        t.channel = int(n.args[0]);
        t.x0 = int(n.args[1]);
        t.slot = c.slot(i);
        t.aux = at;
        batch.add(t, n.term->print(n));
      }
    },
};

Objective guide(const std::string& layer, OwnedTensor features) {
  const Shape s = features.shape();
  CUVIZ_CHECK(features.device() == Device::cpu && s.n == 1 && s.h * int64_t(s.w) >= 1, "objective guide(", layer,
              "): the guide features must be one image {1, C, H, W} on the CPU, got ", s.str());
  // {C, H W} -> m x C rows, so that each guide vector is contiguous for the dot products.
  const int64_t m = int64_t(s.h) * s.w;
  OwnedTensor rows(Shape{1, 1, int(m), s.c});
  for (int ch = 0; ch < s.c; ++ch)
    for (int64_t j = 0; j < m; ++j) {
      const float v = features.data()[ch * m + j];
      CUVIZ_CHECK(std::isfinite(v), "objective guide(", layer, "): the guide features are not finite");
      rows.data()[j * s.c + ch] = v;
    }
  ObjectiveNode n;
  n.term = &kGuideTerm;
  n.layers = {layer};
  n.args = {double(s.c), double(m)};
  n.data = std::make_shared<const OwnedTensor>(std::move(rows));
  return Objective(std::make_shared<const ObjectiveNode>(std::move(n)));
}

}  // namespace cuviz
