// guide(L, G): the guided dream's objective (viz/term_guide.h). The guide's features are a tensor,
// which the expression language cannot write: the term exists in code only (`cuviz dream --guide`
// builds it), and the parser says so. Node: layers {L}, data = the guide's features as m x C
// (row j = the feature vector of guide position j), args {C, m}.
#include <cmath>

#include "viz/objective.h"
#include "viz/term_guide.h"

namespace cuviz {

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
