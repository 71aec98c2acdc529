// The element-wise steps of the LRP rules (nn/lrp_rules.h). Every conv/linear rule of LRP is the
// gradient of a modified forward (Montavon et al. 2019, "Layer-wise relevance propagation: an
// overview", section 10.2.2; zennit's BasicHook):
//   z'_j = sum_i x'_i w'_ij + b'_j          (a conv or linear forward with modified x', w', b')
//   s_j  = R_j / stab(z'_j)                  (lrp_divide)
//   c_i  = sum_j w'_ij s_j                   (the conv's or linear's own backward-data)
//   R_i  = x'_i c_i  (summed over terms)     (lrp_multiply)
// so the heavy parts are the tuned conv/linear kernels and only these four maps are new.
// The stabiliser is zennit's (zennit/core.py stabilize): z + eps * sign(z), with sign(0) = +1,
// so a zero denominator becomes +eps and the sign of the denominator is never flipped.
#pragma once

#include "core/host_device.h"
#include "core/tensor.h"

namespace cuviz {

// zennit's stabilize(z, eps): z + eps * (z >= 0 ? 1 : -1).
CUVIZ_HD float lrp_stabilize(float z, float eps) { return z + (z >= 0.f ? eps : -eps); }
// One element of lrp_divide: r * [gate] / stab(den), gate = 1 (z_sign == 0), [z > 0] (z_sign > 0)
// or [z < 0] (z_sign < 0).
CUVIZ_HD float lrp_ratio(float r, float den, float z, int z_sign, float eps) {
  const bool gate = z_sign == 0 || (z_sign > 0 ? z > 0.f : z < 0.f);
  return gate ? r / lrp_stabilize(den, eps) : 0.f;
}
CUVIZ_HD float lrp_clamp_value(float x, int sign) { return sign > 0 ? (x > 0.f ? x : 0.f) : (x < 0.f ? x : 0.f); }

// y = r * gate(z) / stab(den); z is read only when z_sign != 0 (may be undefined otherwise).
// All of one shape; y may be r or den.
void lrp_divide(const Tensor& r, const Tensor& den, const Tensor& z, int z_sign, float eps, const Tensor& y);
// y = max(x, 0) for sign > 0, min(x, 0) for sign < 0 (x+ and x- of the rules).
void lrp_clamp(const Tensor& x, int sign, const Tensor& y);
// y = coef * a * c, or y += coef * a * c when accumulate. y may be a or c.
void lrp_multiply(const Tensor& a, const Tensor& c, float coef, bool accumulate, const Tensor& y);
// y += alpha * x.
void lrp_axpy(float alpha, const Tensor& x, const Tensor& y);

}  // namespace cuviz
