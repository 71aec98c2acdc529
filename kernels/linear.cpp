// Fully connected layer on the CPU: plain-loop references (float and double) and the fast path,
// one SGEMM per op over the whole batch, split by column blocks over the OpenMP threads:
//   Y (N x O) = X (N x K) W^T + b,  dX = dY W,  dW = dY^T X,  db = column sums of dY.
// Images may sit at any batch stride: it becomes the GEMM's leading dimension.
#include "kernels/linear.h"

#include <climits>

#include "core/check.h"
#include "kernels/backend.h"
#include "kernels/cuda_ops.h"
#include "kernels/cudnn_oracle.h"
#include "kernels/gemm.h"

namespace cuviz {

namespace {

// Validates x (or dx), w, y (or dy), b for `op`; returns K = features per image.
template <class T>
int64_t linear_check(const char* op, const BasicTensor<T>& x, const BasicTensor<T>& w, const BasicTensor<T>& y,
                     const BasicTensor<T>& b, const char* xname, const char* yname) {
  check_nonempty(op, xname, x);
  check_nonempty(op, "weights", w);
  const int64_t k = x.shape().image_size();
  CUVIZ_CHECK(w.c() == k && w.h() == 1 && w.w() == 1, op, ": weights ", w.shape().str(), " do not fit input ",
              x.shape().str(), ": expected [", w.n(), ", ", k, ", 1, 1] (", k, " = C*H*W features)");
  CUVIZ_CHECK(w.contiguous(), op, ": weights ", w.shape().str(), " must be a dense tensor");
  check_shape(op, yname, y, Shape{x.n(), w.n(), 1, 1});
  if (b.defined()) check_shape(op, "bias", b, Shape{1, w.n(), 1, 1});
  CUVIZ_CHECK(k < INT_MAX && x.batch_stride() < INT_MAX && y.batch_stride() < INT_MAX, op, ": ", x.shape().str(),
              " is too large for 32-bit GEMM indices");
  return k;
}

// Leading dimension of a batch of images viewed as a row-major matrix (one image per row).
template <class T>
int ld(const BasicTensor<T>& t) {
  return int(t.n() > 1 ? t.batch_stride() : t.shape().image_size());
}

}  // namespace

template <class T>
void linear_forward_reference(const BasicTensor<T>& x, const BasicTensor<T>& w, const BasicTensor<T>& b,
                              const BasicTensor<T>& y) {
  const int64_t k = linear_check("linear_forward_reference", x, w, y, b, "x", "y");
  for (int n = 0; n < x.n(); ++n)
    for (int o = 0; o < w.n(); ++o) {
      T acc = b.defined() ? b.data()[o] : T(0);
      for (int64_t i = 0; i < k; ++i) acc += w.image(o)[i] * x.image(n)[i];
      y.image(n)[o] = acc;
    }
}

template <class T>
void linear_backward_data_reference(const BasicTensor<T>& dy, const BasicTensor<T>& w, const BasicTensor<T>& dx) {
  const int64_t k = linear_check("linear_backward_data_reference", dx, w, dy, BasicTensor<T>(), "dx", "dy");
  for (int n = 0; n < dx.n(); ++n)
    for (int64_t i = 0; i < k; ++i) {
      T acc = 0;
      for (int o = 0; o < w.n(); ++o) acc += dy.image(n)[o] * w.image(o)[i];
      dx.image(n)[i] = acc;
    }
}

template <class T>
void linear_backward_weight_reference(const BasicTensor<T>& x, const BasicTensor<T>& dy, const BasicTensor<T>& dw,
                                      const BasicTensor<T>& db) {
  const int64_t k = linear_check("linear_backward_weight_reference", x, dw, dy, db, "x", "dy");
  for (int o = 0; o < dw.n(); ++o) {
    for (int64_t i = 0; i < k; ++i) {
      T acc = 0;
      for (int n = 0; n < x.n(); ++n) acc += dy.image(n)[o] * x.image(n)[i];
      dw.image(o)[i] = acc;
    }
    if (db.defined()) {
      T acc = 0;
      for (int n = 0; n < x.n(); ++n) acc += dy.image(n)[o];
      db.data()[o] = acc;
    }
  }
}

template void linear_forward_reference<float>(const Tensor&, const Tensor&, const Tensor&, const Tensor&);
template void linear_forward_reference<double>(const TensorD&, const TensorD&, const TensorD&, const TensorD&);
template void linear_backward_data_reference<float>(const Tensor&, const Tensor&, const Tensor&);
template void linear_backward_data_reference<double>(const TensorD&, const TensorD&, const TensorD&);
template void linear_backward_weight_reference<float>(const Tensor&, const Tensor&, const Tensor&, const Tensor&);
template void linear_backward_weight_reference<double>(const TensorD&, const TensorD&, const TensorD&,
                                                       const TensorD&);

void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) {
  const char* op = "linear_forward";
  const int64_t k = linear_check(op, x, w, y, b, "x", "y");
  if (check_same_device<float>(op, {&x, &w, &b, &y}) == Device::cuda)
    return use_oracle(Device::cuda, true) ? cublas_linear_forward(x, w, b, y) : linear_forward_cuda(x, w, b, y);
  sgemm_parallel(false, true, x.n(), w.n(), int(k), 1.f, x.data(), ld(x), w.data(), int(k), 0.f, y.data(), ld(y));
  if (b.defined())
    for (int n = 0; n < y.n(); ++n)
      for (int o = 0; o < y.c(); ++o) y.image(n)[o] += b.data()[o];
}

void linear_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx) {
  const char* op = "linear_backward_data";
  const int64_t k = linear_check(op, dx, w, dy, Tensor(), "dx", "dy");
  if (check_same_device<float>(op, {&dy, &w, &dx}) == Device::cuda) return linear_backward_data_cuda(dy, w, dx);
  sgemm_parallel(false, false, dx.n(), int(k), w.n(), 1.f, dy.data(), ld(dy), w.data(), int(k), 0.f, dx.data(), ld(dx));
}

void linear_backward_weight(const Tensor& x, const Tensor& dy, const Tensor& dw, const Tensor& db) {
  const char* op = "linear_backward_weight";
  const int64_t k = linear_check(op, x, dw, dy, db, "x", "dy");
  if (check_same_device<float>(op, {&x, &dy, &dw, &db}) == Device::cuda)
    return linear_backward_weight_cuda(x, dy, dw, db);
  sgemm_parallel(true, false, dw.n(), int(k), x.n(), 1.f, dy.data(), ld(dy), x.data(), ld(x), 0.f, dw.data(), int(k));
  if (db.defined())
    for (int o = 0; o < dw.n(); ++o) {
      double acc = 0;  // n terms: double so the sum is as exact as the GEMM's
      for (int n = 0; n < dy.n(); ++n) acc += dy.image(n)[o];
      db.data()[o] = float(acc);
    }
}

}  // namespace cuviz
