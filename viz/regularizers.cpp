// Regularizers on the CPU (value summed per image in double, gradient per pixel from the shared
// stencils) and the dispatch to CUDA.
#include "viz/regularizers.h"

#include <cmath>
#include <vector>

#include "core/check.h"
#include "viz/viz_cuda.h"

namespace cuviz {

const char* reg_kind_name(RegKind k) {
  switch (k) {
    case RegKind::l1: return "l1";
    case RegKind::l2: return "l2";
    case RegKind::tv: return "tv";
    case RegKind::alpha: return "alpha";
    case RegKind::tv_beta: return "tv_beta";
    case RegKind::tv2: return "tv2";
    default: return "blur";
  }
}

namespace {
template <class T>
void check_reg(const BasicTensor<T>& image, const BasicTensor<T>& values, const BasicTensor<T>& dimage) {
  check_nonempty("regularizer", "image", image);
  check_shape("regularizer", "values", values, Shape{image.n(), 1, 1, 1});
  if (dimage.defined()) check_shape("regularizer", "dimage", dimage, image.shape());
}
// alpha and tv_beta: p >= 1 keeps the gradient bounded (|x|^(p-1), S^((p-1)/2)) and finite.
void check_power(RegKind kind, double power) {
  if (kind != RegKind::alpha && kind != RegKind::tv_beta) return;
  CUVIZ_CHECK(std::isfinite(power) && power >= 1.0 && power <= 64.0, "regularizer ", reg_kind_name(kind),
              ": exponent ", power, " out of range (1..64)");
}
}  // namespace

template <class T>
void regularizer_forward_backward_cpu(RegKind kind, T constant, const BasicTensor<T>& image,
                                      const BasicTensor<T>& values, T weight, const BasicTensor<T>& dimage, T power) {
  check_reg(image, values, dimage);
  check_power(kind, double(power));
  const int h = image.h(), w = image.w();
  const int64_t plane = int64_t(h) * w;
  // One partial sum per row, added in row order: an OpenMP reduction would add the threads'
  // partials in the order the threads finish, and the value feeds the gradient (p-norms).
  std::vector<double> row_sums(static_cast<size_t>(h));
  for (int n = 0; n < image.n(); ++n) {
    double sum = 0;
    for (int c = 0; c < image.c(); ++c) {
      const T* p = image.image(n) + c * plane;
#pragma omp parallel for if (plane > 16384)
      for (int y = 0; y < h; ++y) {
        double row = 0;
        for (int x = 0; x < w; ++x) row += double(reg_value_at(kind, p, h, w, y, x, constant, power));
        row_sums[size_t(y)] = row;
      }
      for (int y = 0; y < h; ++y) sum += row_sums[size_t(y)];
    }
    const T r = reg_finish(kind, T(sum));
    values.image(n)[0] = r;
    if (!dimage.defined()) continue;
    for (int c = 0; c < image.c(); ++c) {
      const T* p = image.image(n) + c * plane;
      T* d = dimage.image(n) + c * plane;
#pragma omp parallel for if (plane > 16384)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) d[int64_t(y) * w + x] += weight * reg_grad_at(kind, p, h, w, y, x, constant, r, power);
    }
  }
}

template void regularizer_forward_backward_cpu<float>(RegKind, float, const Tensor&, const Tensor&, float,
                                                      const Tensor&, float);
template void regularizer_forward_backward_cpu<double>(RegKind, double, const TensorD&, const TensorD&, double,
                                                       const TensorD&, double);

void regularizer_forward_backward(RegKind kind, float constant, const Tensor& image, const Tensor& values, float weight,
                                  const Tensor& dimage, float power) {
  check_reg(image, values, dimage);
  check_power(kind, power);
  if (check_same_device<float>("regularizer", {&image, &values, &dimage}) == Device::cuda) {
    CUVIZ_CHECK(image.contiguous() && (!dimage.defined() || dimage.contiguous()),
                "regularizer: CUDA path needs dense tensors, got ", image.shape().str());
    return regularizer_forward_backward_cuda(kind, constant, image, values, weight, dimage, power);
  }
  regularizer_forward_backward_cpu<float>(kind, constant, image, values, weight, dimage, power);
}

}  // namespace cuviz
