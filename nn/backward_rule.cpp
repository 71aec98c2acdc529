// The built-in backward rules: ReLU replacements that read only where the unit fired, from the
// compact plan's bit mask or, in a plan that keeps activations, from y itself.
#include "nn/backward_rule.h"

#include <algorithm>

namespace cuviz {

bool RuleTarget::selects(const LayerDesc& l) const {
  if (kind) return l.kind == *kind;
  return std::find(layers.begin(), layers.end(), l.name) != layers.end();
}

namespace {

class ReluRedirectRule final : public BackwardRule {
 public:
  ReluRedirectRule() : BackwardRule("relu_redirect", RuleTarget::of_kind(LayerKind::relu)) {}
  RuleNeeds needs(const LayerDesc&) const override { return RuleNeeds{.relu_mask = true}; }
  void backward(const BackwardArgs& a) const override {
    if (a.mask.defined())
      relu_backward_data_masked(a.mask, a.dy, a.dx, /*redirected=*/true);
    else
      relu_backward_data_redirected(a.y, a.dy, a.dx);
  }
};

class GuidedReluRule final : public BackwardRule {
 public:
  GuidedReluRule() : BackwardRule("guided_relu", RuleTarget::of_kind(LayerKind::relu)) {}
  RuleNeeds needs(const LayerDesc&) const override { return RuleNeeds{.relu_mask = true}; }
  void backward(const BackwardArgs& a) const override {
    if (a.mask.defined())
      relu_backward_data_guided_masked(a.mask, a.dy, a.dx);
    else
      relu_backward_data_guided(a.y, a.dy, a.dx);
  }
};

// dx = max(dy, 0) is the ReLU's forward applied to dy (in place when dx is dy's memory).
class DeconvnetReluRule final : public BackwardRule {
 public:
  DeconvnetReluRule() : BackwardRule("deconvnet_relu", RuleTarget::of_kind(LayerKind::relu)) {}
  RuleNeeds needs(const LayerDesc&) const override { return RuleNeeds{}; }
  void backward(const BackwardArgs& a) const override { relu_forward(a.dy, a.dx); }
};

}  // namespace

std::shared_ptr<const BackwardRule> relu_redirect_rule() {
  static const auto rule = std::make_shared<const ReluRedirectRule>();
  return rule;
}

std::shared_ptr<const BackwardRule> guided_relu_rule() {
  static const auto rule = std::make_shared<const GuidedReluRule>();
  return rule;
}

std::shared_ptr<const BackwardRule> deconvnet_relu_rule() {
  static const auto rule = std::make_shared<const DeconvnetReluRule>();
  return rule;
}

}  // namespace cuviz
