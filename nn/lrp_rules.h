// The rules of layer-wise relevance propagation (Bach et al. 2015; Montavon et al. 2019) as
// backward rules (nn/backward_rule.h). LRP runs the network's backward with every layer's term
// replaced by a relevance rule: the quantity flowing down is the relevance R, seeded at the output
// as one-hot * logit, and what reaches the input is the relevance map (viz/lrp.h).
//
// Conv and linear layers (x: the layer's input, w_ij: weight from input i to output j, b_j: bias,
// stab(z) = z + eps * sign(z) with sign(0) = +1, zennit's stabiliser; x+ = max(x, 0), x- = min(x, 0),
// w+ = max(w, 0), w- = min(w, 0)):
//   epsilon       R_i = x_i sum_j w_ij R_j / stab(z_j),  z_j = sum_i x_i w_ij + b_j
//   zplus         R_i = sum_j (x+_i w+_ij + x-_i w-_ij) R_j / stab(z+_j),
//                 z+_j = sum_i (x+_i w+_ij + x-_i w-_ij) + b+_j                    (= alpha 1, beta 0)
//   alpha_beta    R_i = alpha * [zplus term] - beta * [the same with w+ and w- swapped, b- for b+]
//   gamma         w^ = w + gamma w+, w_ = w + gamma w- (b^, b_ alike);
//                 R_i = sum_j [z_j > 0] (x+_i w^_ij + x-_i w__ij) R_j / stab(sum_i (x+ w^ + x- w_) + b^_j)
//                     + sum_j [z_j < 0] (x+_i w__ij + x-_i w^_ij) R_j / stab(sum_i (x+ w_ + x- w^) + b__j)
//   zbox          R_i = sum_j (x_i w_ij - l_i w+_ij - h_i w-_ij) R_j / stab(z_j - sum_i (l_i w+_ij + h_i w-_ij) - b+_j - b-_j)
//                 (l, h: the lowest and highest input value of channel i; the biases cancel)
//   flat          R_i = sum_j R_j / stab(#inputs of j)              (every w = 1, no bias)
//   wsquare       R_i = sum_j w_ij^2 R_j / stab(sum_i w_ij^2 + b_j^2)
// These are zennit 0.5's rules exactly (zennit/rules.py), biases included where zennit keeps them
// (z+ adds b+, the negative part of alpha-beta b-; w^2 squares the bias too). Every one is the
// gradient of a modified forward, which is how it runs: a conv/linear forward with modified
// weights and inputs, lrp_divide, the layer's own backward-data with the same weights, and
// lrp_multiply (kernels/lrp.h); docs/architecture.md says why.
// Pooling, element-wise layers:
//   norm          R_i = x_i d(pool)/dx_i R_j / stab(y_j): average pooling in proportion to the
//                 inputs (zennit's Norm); on a max pool it is winner-take-all up to the stabiliser.
//                 Max pooling without a rule (its gradient) is winner-take-all exactly.
//   pass          R_in = R_out: ReLU and other activations, LRN (identity, as iNNvestigate), affine
//                 (zennit passes batch norm). Concat, split, dropout and flatten need no rule: their
//                 gradient already passes relevance through unchanged.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/backward_rule.h"
#include "nn/network.h"

namespace cuviz {

enum class LrpRuleKind { epsilon, zplus, alpha_beta, gamma, zbox, flat, wsquare, norm, pass };

// "epsilon", "zplus", ...
const char* lrp_rule_kind_name(LrpRuleKind k);

struct LrpRuleSpec {
  LrpRuleKind kind = LrpRuleKind::epsilon;
  // The epsilon rule's epsilon; every other rule's stabiliser (zennit: `epsilon` and `stabilizer`).
  double epsilon = 1e-6;
  double gamma = 0.25;               // gamma
  double alpha = 2.0, beta = 1.0;    // alpha_beta (alpha - beta = 1 conserves relevance)
  std::vector<float> low, high;      // zbox: per input channel (or one for all), the lowest and highest input value
};

// A rule applying `spec` to the layers `target` selects of `net` (their kinds are checked: conv or
// linear for the weight rules, pool for norm, relu/sigmoid/lrn/affine for pass). The modified
// weights (w+, w-, w^, w_, 1, w^2 and biases) are made once here, on the network's device. The
// rule keeps its temporaries (a few tensors of the largest layer's input and output) and grows
// them on the first backward of a larger shape: use one rule set per plan, from one thread.
std::shared_ptr<const BackwardRule> lrp_rule(std::string name, RuleTarget target, const LrpRuleSpec& spec,
                                             const Network& net);

// True when the blob `layer` reads as input `slot` is nonnegative by construction (the output of
// a ReLU, or of pooling, LRN, concat, dropout or flatten over such blobs). The rules skip their
// x- terms there, which are exactly zero.
bool lrp_input_nonnegative(const Graph& g, int layer, int slot = 0);

}  // namespace cuviz
