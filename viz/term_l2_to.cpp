// l2_to(L, target): ||a - target||^2 / ||target||^2 on blob L (viz/term_l2_to.h), the loss of
// feature inversion. The target is a tensor (activations captured from a guide image, e.g. with
// Network::forward and Network::activation), which the expression language cannot write: the
// term exists in code only, and the parser says so. Node: layers {L}, args {||target||^2},
// data = the target {1, C, H, W} on the CPU. dot_to(L, target), the caricature's <a, target>, is
// the same node with DotToMaths (args {||target||^2}, kept for symmetry and printing).
#include <cmath>

#include "viz/objective.h"
#include "viz/term_l2_to.h"
#include "viz/term_target.h"

namespace cuviz {

extern const ObjectiveTerm kL2ToTerm, kDotToTerm;

namespace {
ObjectiveNode target_node(const ObjectiveTerm& term, const std::string& layer, OwnedTensor target) {
  const Shape s = target.shape();
  CUVIZ_CHECK(target.device() == Device::cpu && s.n == 1, "objective ", term.name, "(", layer,
              "): the target must be one image {1, C, H, W} on the CPU, got {", s.n, ", ", s.c, ", ", s.h, ", ", s.w,
              "}", target.device() == Device::cpu ? "" : " on the GPU");
  double norm2 = 0;
  for (int64_t k = 0; k < s.image_size(); ++k) norm2 += double(target.data()[k]) * target.data()[k];
  CUVIZ_CHECK(std::isfinite(norm2) && norm2 > 0, "objective ", term.name, "(", layer,
              "): the target is zero or not finite", &term == &kL2ToTerm ? " (the distance is relative to ||target||^2)" : "");
  ObjectiveNode n;
  n.term = &term;
  n.layers = {layer};
  n.args = {norm2};
  n.data = std::make_shared<const OwnedTensor>(std::move(target));
  return n;
}
}  // namespace

const ObjectiveTerm kL2ToTerm{
    .name = "l2_to",
    .aliases = {},
    .usage = "l2_to(LAYER, target tensor), in code only",
    // Registered with a parser entry all the same, so that `l2_to(...)` in an expression says why
    // it cannot be written instead of "unknown function".
    .parse = [](TermArgs& a) -> Objective {
      a.fail("l2_to takes a target tensor, which an expression cannot write: build it in code with "
             "l2_to(layer, target) (viz/objective.h)");
      return {};  // not reached: fail throws
    },
    .print = [](const ObjectiveNode& n) {
      const Shape s = n.data->shape();
      return cat("l2_to(", n.layers[0], ",[target ", s.c, "x", s.h, "x", s.w, "])");
    },
    .compile = compile_to_target<L2ToMaths>,
};

const ObjectiveTerm kDotToTerm{
    .name = "dot_to",
    .aliases = {},
    .usage = "dot_to(LAYER, target tensor), in code only",
    .parse = [](TermArgs& a) -> Objective {
      a.fail("dot_to takes a target tensor, which an expression cannot write: build it in code with "
             "dot_to(layer, target) (viz/objective.h)");
      return {};  // not reached: fail throws
    },
    .print = [](const ObjectiveNode& n) {
      const Shape s = n.data->shape();
      return cat("dot_to(", n.layers[0], ",[target ", s.c, "x", s.h, "x", s.w, "])");
    },
    .compile = compile_to_target<DotToMaths>,
};

Objective l2_to(const std::string& layer, OwnedTensor target) {
  return Objective(std::make_shared<const ObjectiveNode>(target_node(kL2ToTerm, layer, std::move(target))));
}

Objective dot_to(const std::string& layer, OwnedTensor target) {
  return Objective(std::make_shared<const ObjectiveNode>(target_node(kDotToTerm, layer, std::move(target))));
}

}  // namespace cuviz
