// The CPU loop of the element-wise ops (ReLU, sigmoid, add): y = f(a) or y = f(a, b), image by
// image (each tensor with its own batch stride, so channel slices work), OpenMP SIMD across an
// image once it is large enough to pay for the threads. f is inlined: the loop is the one each
// op would write by hand.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace cuviz {

template <class F>
void map_elements(const Tensor& a, const Tensor& y, F f) {
  const int64_t m = a.shape().image_size();
  for (int i = 0; i < a.n(); ++i) {
    const float* ai = a.image(i);
    float* yi = y.image(i);
#pragma omp parallel for simd schedule(static) if (m > 65536)
    for (int64_t k = 0; k < m; ++k) yi[k] = f(ai[k]);
  }
}

template <class F>
void map_elements(const Tensor& a, const Tensor& b, const Tensor& y, F f) {
  const int64_t m = a.shape().image_size();
  for (int i = 0; i < a.n(); ++i) {
    const float* ai = a.image(i);
    const float* bi = b.image(i);
    float* yi = y.image(i);
#pragma omp parallel for simd schedule(static) if (m > 65536)
    for (int64_t k = 0; k < m; ++k) yi[k] = f(ai[k], bi[k]);
  }
}

}  // namespace cuviz
