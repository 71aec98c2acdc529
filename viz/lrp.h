// Layer-wise relevance propagation (Bach et al. 2015; Montavon et al. 2019; METHODS.md section 7):
// the logit of the target class is handed down the network layer by layer as "relevance", each
// layer splitting what it receives among its inputs by a rule (nn/lrp_rules.h), until the input
// pixels hold it. A composite chooses the rule of each layer by its kind and position, as zennit's
// composites do (zennit/composites.py):
//   epsilon_gamma_box          first conv: zbox (bounds from the preprocessing); other convs: gamma;
//                              linear: epsilon
//   epsilon_plus               every conv: zplus; linear: epsilon
//   epsilon_plus_flat          first conv or linear: flat; other convs: zplus; linear: epsilon
//   epsilon_alpha2_beta1       every conv: alpha 2 beta 1; linear: epsilon
//   epsilon_alpha2_beta1_flat  first conv or linear: flat; other convs: alpha2-beta1; linear: epsilon
// and in every composite (zennit's layer_map_base): average pooling by the norm rule (in
// proportion to the inputs), activations, LRN (identity, as iNNvestigate) and affine layers pass
// relevance through, max pooling is winner-take-all (its gradient), concat/split/dropout/flatten pass
// it through. One-rule composites apply a single rule to every conv and linear layer: epsilon,
// zplus, gamma, alpha1_beta0, alpha2_beta1.
// The relevance flows through the network's ordinary backward with these backward rules on
// (nn/backward_rule.h), on the CPU or the GPU; the plain gradient elsewhere is untouched.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/network.h"

namespace cuviz {

struct LrpOptions {
  std::string composite = "epsilon_plus";
  double epsilon = 1e-6;     // the epsilon rule's epsilon (zennit's `epsilon`, default 1e-6)
  double gamma = 0.25;       // the gamma rule's gamma (zennit's default)
  double stabilizer = 1e-6;  // every other rule's stabiliser, z + stabilizer * sign(z) (zennit's `stabilizer`)
};

// The composites lrp() accepts (for validation and help texts).
std::vector<std::string> lrp_composites();

// The blob whose value is the score LRP explains: the input of a final softmax, else the final blob.
std::string lrp_output_blob(const Graph& g);

// The backward rules of `opt.composite` for the layers that compute `output` (clear errors for an
// unknown composite, or a layer kind no rule covers such as add). For tests and tools that plan themselves.
std::vector<std::shared_ptr<const BackwardRule>> lrp_rules(const Network& net, const std::string& output,
                                                           const LrpOptions& opt);

// One plan and one rule set for batches of one input shape: the fast path for many maps.
class Lrp {
 public:
  Lrp(const Network& net, Shape input, const LrpOptions& opt);
  // Relevance maps {N, 3, H, W} (CPU, signed) of x (preprocessed network input, any device) for
  // targets[i] (one per image, or one for all); the output relevance is one-hot * logit.
  OwnedTensor relevance(const Tensor& x, const std::vector<int>& targets);
  // The target logits of the last relevance() call (the total relevance LRP hands down).
  const std::vector<float>& scores() const { return scores_; }

 private:
  const Network& net_;
  Shape shape_;
  std::string output_;
  int classes_ = 0;
  Plan plan_;
  OwnedTensor x_, dx_;
  std::vector<float> scores_;
};

// x: {N, 3, H, W} preprocessed input (CPU); targets: one class per image (or one for all). Returns
// {N, 3, H, W} CPU relevance, signed; the target's output relevance is its logit (zennit's
// attr_output = one-hot * output).
OwnedTensor lrp(const Network& net, const Tensor& x, const std::vector<int>& targets, const LrpOptions& opt);

}  // namespace cuviz
