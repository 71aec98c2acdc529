// CUDA paths of diversity(L) (viz/term_diversity.cu, or throwing stand-ins in
// viz/term_diversity_disabled.cpp). gram {N, C, C}, inv_norm {N}; values[pairs[2k+1]] = d_{pairs[2k]}.
#pragma once

#include "core/tensor.h"

namespace cuviz {

void diversity_values_cuda(const Tensor& act, float* gram, float* inv_norm, const int* pairs, int n_pairs,
                           float* values);
void diversity_seeds_cuda(const Tensor& act, const float* gram, const float* inv_norm, const float* upstream,
                          float* dgram, const Tensor& grad);

}  // namespace cuviz
