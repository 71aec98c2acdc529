// Gram matrices of feature maps and the style loss between them (Gatys, Ecker & Bethge 2015,
// "A Neural Algorithm of Artistic Style"; jcjohnson/neural-style), per image of a batch. With
// F the image's features as a C x M matrix (M = H*W pixels, row c = channel c):
//   G = F F^T / D                                    (C x C, symmetric)
//   E = s * sum_{a,b} (G_ab - T_ab)^2                (T: the style image's Gram, same normalisation)
//   dE/dG = 2 s (G - T)       dE/dF = (dE/dG + dE/dG^T) F / D  (= 4 s (G - T) F / D for a symmetric T)
// Two normalisations (GramNorm):
//   chw   (neural-style, the default): D = C*H*W and s = 1/C^2, i.e. E = MSE(G, T) over the C x C
//         entries (torch's nn.MSECriterion of GramMatrix():div(C*H*W));
//   gatys (the paper, eq. 4-5): D = 1 and s = 1 / (4 C^2 M^2), i.e. E_l = 1/(4 N_l^2 M_l^2)
//         sum (G - A)^2 with the raw G = F F^T.
// For the same features and style targets, E_chw = (1/C^2) sum ((FF^T - A)/(CM))^2 = 4 E_gatys / C^2:
// a layer's loss differs between the two by 4/C^2, so weights that balance the layers under one
// normalisation do not under the other (neural-style's weights are for chw).
//
// Shapes: features F {N, C, H, W} (batch-strided allowed), Gram matrices {N, C, C, 1} dense.
// style_loss_forward writes E_i into values[slot[i]] (or values[i] without slots) and keeps G;
// style_loss_backward ADDS w_i dE_i/dF_i into dF in one pass over the features (the "seed" of the
// render loop's backward, fused: dE/dG is formed on the fly, never stored on the GPU), with w_i =
// weights[slot[i]] (or weights[i]). Every pointer is on the tensors' device.
#pragma once

#include "core/tensor.h"

namespace cuviz {

enum class GramNorm { chw, gatys };

// "chw", "gatys".
const char* gram_norm_name(GramNorm n);
// The divisor D of G and the loss factor s for features of C channels and H x W pixels.
double gram_divisor(GramNorm n, int c, int h, int w);
double style_loss_scale(GramNorm n, int c, int h, int w);

// G = F F^T / D, into g {N, C, C, 1}.
void gram_forward(GramNorm n, const Tensor& f, const Tensor& g);
// dF = (dG + dG^T) F / D (overwrites df).
void gram_backward(GramNorm n, const Tensor& f, const Tensor& dg, const Tensor& df);

// G_i into gram and E_i = s sum (G_i - T)^2 into values[slots ? slots[i] : i]; target {1, C, C, 1}.
void style_loss_forward(GramNorm n, const Tensor& f, const Tensor& target, const Tensor& gram, float* values,
                        const int* slots);
// dF_i += w_i (dE/dG + dE/dG^T) F_i / D with G from style_loss_forward. scratch: {N, C, C, 1} on the
// CPU path (dE/dG is formed there before one GEMM; unused on CUDA, may be undefined).
void style_loss_backward(GramNorm n, const Tensor& f, const Tensor& gram, const Tensor& target, const float* weights,
                         const int* slots, const Tensor& df, const Tensor& scratch);

// Plain loops in T (tests: the double reference for finite differences, the float reference for
// the fast path). The loss reference returns E per image into loss (host) and, when df is
// defined, writes (not adds) dE/dF into it with w = 1.
template <class T>
void gram_forward_reference(GramNorm n, const BasicTensor<T>& f, const BasicTensor<T>& g);
template <class T>
void gram_backward_reference(GramNorm n, const BasicTensor<T>& f, const BasicTensor<T>& dg, const BasicTensor<T>& df);
template <class T>
void style_loss_reference(GramNorm n, const BasicTensor<T>& f, const BasicTensor<T>& target, T* loss,
                          const BasicTensor<T>& df);

}  // namespace cuviz
