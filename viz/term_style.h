// The losses of style transfer (Gatys, Ecker & Bethge 2015; jcjohnson/neural-style; METHODS.md
// section 6) as objective terms, so that they compose with the objective algebra (`+ - *`):
//   content(L, P)   = (1/|P|) sum_k (a_k - p_k)^2     the MSE between the layer's features a and the
//                     content photo's features P (neural-style's ContentLoss: nn.MSECriterion)
//   style(L, T, n)  = E of kernels/gram.h: s * sum_{a,b} (G_ab - T_ab)^2, G the Gram matrix of the
//                     layer's features under normalisation n (chw: neural-style's, gatys: the
//                     paper's), T the style images' (blended) Gram matrix
// Both are LOSSES; the render loop maximises, so style transfer maximises
//   -(content_weight content + sum_l style_weight w_l style_l + tv_weight tv2)
// (viz/style.h builds it). Their targets are tensors, which the expression language cannot write:
// the terms exist in code, and the parser says so.
#pragma once

#include <string>

#include "core/tensor.h"
#include "kernels/gram.h"
#include "viz/objective.h"

namespace cuviz {

// content(L, target): target {1, C, H, W} on the CPU, the features of one image at the render's size.
Objective content_loss(const std::string& layer, OwnedTensor target);
// style(L, target, norm): target {1, C, C, 1} on the CPU, a Gram matrix under `norm`.
Objective style_loss(const std::string& layer, OwnedTensor target, GramNorm norm = GramNorm::chw);

// The Gram matrix {1, C, C, 1} (CPU) of features {1, C, H, W} (any device).
OwnedTensor gram_matrix(const Tensor& features, GramNorm norm);

}  // namespace cuviz
