// Backward rules: replace the backward of chosen layers with a different mapping from d(output)
// to d(input). Attribution and visualization methods are such replacements: Lucid's redirected
// ReLU (the first steps of a render), guided backpropagation (saliency maps), the relevance
// rules of LRP. A rule sees the layer, the forward values it declared it needs, and dy, and
// writes dx; the rest of the backward (fan-out sums, concat slices, dirty tracking) is
// unchanged, so a rule changes exactly one term of the chain rule.
//
// A plan resolves its rules once (PlanOptions::backward_rules): it checks the layers they
// select, and keeps what their needs() declare even in a compact plan (docs/network.md,
// "Backward rules and gradient taps"). Rules are then switched on and off per backward
// (Plan::enable_backward_rule) without re-planning.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/relu.h"
#include "nn/graph.h"

namespace cuviz {

// What a rule's backward reads from the forward. The planner keeps it for the plan's lifetime:
// a compact plan (PlanOptions::stash) would otherwise reuse the memory once the forward is past.
struct RuleNeeds {
  bool input = false;      // the layer's input x (an in-place ReLU reading it runs out of place)
  bool output = false;     // the layer's output y (a ReLU that would overwrite it runs out of place)
  bool relu_mask = false;  // ReLU layers only: where y > 0 (the mask of a compact plan, else y)
};

// Which layers a rule replaces: every layer of one kind, or the layers named (checked at plan
// time: an unknown name, or a layer the plan does not run, is an error).
struct RuleTarget {
  std::optional<LayerKind> kind;
  std::vector<std::string> layers;

  static RuleTarget of_kind(LayerKind k) { return RuleTarget{k, {}}; }
  static RuleTarget named(std::vector<std::string> names) { return RuleTarget{std::nullopt, std::move(names)}; }
  bool selects(const LayerDesc& l) const;
};

// One application of a rule: one layer of one backward, on the plan's device and stream.
struct BackwardArgs {
  const LayerDesc& layer;
  Tensor x;         // the input, defined when it is kept (always when needs().input)
  Tensor y;         // the output, defined when it is kept (always when needs().output)
  MaskTensor mask;  // a ReLU in a compact plan: bits of y > 0 (then y may be undefined)
  Tensor dy;        // d(output), complete: every reader of the output has contributed
  Tensor dx;        // write d(input) here (overwrite, never accumulate); the planner adds it into
                    // the input's gradient. For an in-place ReLU dx is the same memory as dy.
};

class BackwardRule {
 public:
  BackwardRule(std::string name, RuleTarget target) : name_(std::move(name)), target_(std::move(target)) {}
  virtual ~BackwardRule() = default;

  // The name Plan::enable_backward_rule and error messages use (unique within a plan).
  const std::string& name() const { return name_; }
  const RuleTarget& target() const { return target_; }

  // What backward() reads from the forward of `layer` (one of the layers the target selects).
  virtual RuleNeeds needs(const LayerDesc& layer) const = 0;
  // Writes d(input) into a.dx. Launches kernels only: no host synchronisation and no
  // allocation, so a render step that runs it can still be captured as one CUDA graph. Not
  // called for a layer whose d(output) is still zero (no seed reaches it): its d(input) stays zero.
  // Errors (cuviz::Error) are rethrown naming the layer and the rule.
  virtual void backward(const BackwardArgs& a) const = 0;

 private:
  std::string name_;
  RuleTarget target_;
};

// Lucid's relu_gradient_override, on every ReLU (kernels/relu.h relu_backward_data_redirected).
// Named "relu_redirect"; every plan carries it, off (Plan::set_relu_gradient_override).
std::shared_ptr<const BackwardRule> relu_redirect_rule();
// Guided backpropagation, on every ReLU: dx = dy * [y > 0] * [dy > 0] (kernels/relu.h
// relu_grad_guided). Named "guided_relu".
std::shared_ptr<const BackwardRule> guided_relu_rule();
// The deconvnet (Zeiler & Fergus 2014), on every ReLU: the signal from above is rectified as the
// forward rectifies activations, whatever the unit did in the forward: dx = max(dy, 0) (Captum's
// Deconvolution). It reads nothing from the forward; max-pool keeps its switches (the plain
// max-pool gradient). Named "deconvnet_relu".
std::shared_ptr<const BackwardRule> deconvnet_relu_rule();

}  // namespace cuviz
