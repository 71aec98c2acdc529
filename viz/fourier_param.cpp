// Image parameterizations on the CPU (plain loops over the shared per-element maths, OpenMP
// over images x channels) and the device dispatch of ImageParam.
#include "viz/fourier_param.h"

#include <cstring>
#include <string>

#include "kernels/check.h"
#include "nn/cuda_runtime.h"
#include "viz/random.h"
#include "viz/viz_cuda.h"

namespace cuviz {

const char* param_kind_name(ParamKind k) { return k == ParamKind::fourier ? "fourier" : "pixel"; }

ParamKind parse_param_kind(const char* s) {
  const std::string v = s;
  if (v == "fourier" || v == "fft") return ParamKind::fourier;
  if (v == "pixel") return ParamKind::pixel;
  throw Error(cat("unknown parameterization '", v, "' (choices: fourier, pixel)"));
}

namespace {
// cos and sin of 2 pi k / n, exact at the quarter turns, so that the imaginary parts of the
// self-conjugate bins (DC, Nyquist) get exactly zero weight and gradient, as in pocketfft.
template <class T>
void unit_circle(int k, int n, T& c, T& s) {
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  if (4 * k % n == 0) {
    const int q = 4 * k / n;  // 0..3
    c = T(q == 0 ? 1 : q == 2 ? -1 : 0);
    s = T(q == 1 ? 1 : q == 3 ? -1 : 0);
    return;
  }
  c = T(std::cos(kTwoPi * k / n));
  s = T(std::sin(kTwoPi * k / n));
}
}  // namespace

template <class T>
FourierTables<T>::FourierTables(const ImageParamSpec& spec)
    : cos_h(spec.h), sin_h(spec.h), cos_w(spec.w), sin_w(spec.w), scale(size_t(spec.h) * spec.wh()) {
  for (int k = 0; k < spec.h; ++k) unit_circle(k, spec.h, cos_h[k], sin_h[k]);
  for (int k = 0; k < spec.w; ++k) unit_circle(k, spec.w, cos_w[k], sin_w[k]);
  for (int ky = 0; ky < spec.h; ++ky)
    for (int kx = 0; kx < spec.wh(); ++kx)
      scale[size_t(ky) * spec.wh() + kx] = T(spectrum_scale(ky, kx, spec.h, spec.w, spec.decay_power));
  norm = T(1) / (std::sqrt(T(spec.h) * T(spec.w)) * T(4));
}
template struct FourierTables<float>;
template struct FourierTables<double>;

namespace {

void check_spec(const char* op, const ImageParamSpec& s) {
  CUVIZ_CHECK(s.n > 0 && s.h > 0 && s.w > 0, op, ": image size must be positive, got n=", s.n, " h=", s.h, " w=", s.w);
}

template <class T>
void check_dense(const char* op, const char* what, const BasicTensor<T>& t, Shape want) {
  check_shape(op, what, t, want);
  CUVIZ_CHECK(t.contiguous(), op, ": ", what, " must be dense, got batch stride ", t.batch_stride(), " for ",
              t.shape().str());
}

}  // namespace

template <class T>
void image_param_forward_cpu(const ImageParamSpec& spec, const BasicTensor<T>& params, const BasicTensor<T>& image) {
  check_spec("image_param_forward", spec);
  check_dense("image_param_forward", "params", params, spec.param_shape());
  check_dense("image_param_forward", "image", image, spec.image_shape());
  const int h = spec.h, w = spec.w, wh = spec.wh();
  const int64_t plane = int64_t(h) * w;
  T* t = image.data();  // t is built in place in the image, then mapped to rgb pixel by pixel
  if (spec.kind == ParamKind::fourier) {
    const FourierTables<T> tab(spec);
#pragma omp parallel for schedule(dynamic)
    for (int nc = 0; nc < spec.n * 3; ++nc) {
      const T* z = params.data() + int64_t(nc) * h * wh * 2;
      std::vector<T> y(size_t(h) * wh * 2);
      for (int r = 0; r < h; ++r)
        for (int kx = 0; kx < wh; ++kx)
          fourier_rows_at(z, tab.scale.data(), tab.cos_h.data(), tab.sin_h.data(), h, wh, r, kx, y[(r * wh + kx) * 2],
                          y[(r * wh + kx) * 2 + 1]);
      for (int r = 0; r < h; ++r)
        for (int c = 0; c < w; ++c)
          t[nc * plane + int64_t(r) * w + c] =
              fourier_cols_at(y.data(), tab.cos_w.data(), tab.sin_w.data(), w, wh, r, c, tab.norm);
    }
  } else {
    std::memmove(t, params.data(), sizeof(T) * size_t(params.numel()));
  }
  for (int i = 0; i < spec.n; ++i) {
    T* ti = t + int64_t(i) * 3 * plane;
#pragma omp parallel for if (plane > 16384)
    for (int64_t p = 0; p < plane; ++p) rgb_from_t_at(ti + p, ti + p, plane, spec.decorrelate);
  }
}

template <class T>
void image_param_backward_cpu(const ImageParamSpec& spec, const BasicTensor<T>& image, const BasicTensor<T>& dimage,
                              const BasicTensor<T>& dparams) {
  check_spec("image_param_backward", spec);
  check_dense("image_param_backward", "image", image, spec.image_shape());
  check_dense("image_param_backward", "dimage", dimage, spec.image_shape());
  check_dense("image_param_backward", "dparams", dparams, spec.param_shape());
  const int h = spec.h, w = spec.w, wh = spec.wh();
  const int64_t plane = int64_t(h) * w;
  // dt: the gradient with respect to the decorrelated, pre-sigmoid planes.
  std::vector<T> dt_storage;
  T* dt = dparams.data();
  if (spec.kind == ParamKind::fourier) {
    dt_storage.resize(size_t(image.numel()));
    dt = dt_storage.data();
  }
  for (int i = 0; i < spec.n; ++i) {
    const int64_t o = int64_t(i) * 3 * plane;
#pragma omp parallel for if (plane > 16384)
    for (int64_t p = 0; p < plane; ++p)
      rgb_from_t_backward_at(image.data() + o + p, dimage.data() + o + p, dt + o + p, plane, spec.decorrelate);
  }
  if (spec.kind != ParamKind::fourier) return;
  const FourierTables<T> tab(spec);
#pragma omp parallel for schedule(dynamic)
  for (int nc = 0; nc < spec.n * 3; ++nc) {
    std::vector<T> dy(size_t(h) * wh * 2);
    for (int r = 0; r < h; ++r)
      for (int kx = 0; kx < wh; ++kx)
        fourier_cols_adjoint_at(dt + nc * plane, tab.cos_w.data(), tab.sin_w.data(), w, r, kx, tab.norm,
                                dy[(r * wh + kx) * 2], dy[(r * wh + kx) * 2 + 1]);
    T* dz = dparams.data() + int64_t(nc) * h * wh * 2;
    for (int ky = 0; ky < h; ++ky)
      for (int kx = 0; kx < wh; ++kx)
        fourier_rows_adjoint_at(dy.data(), tab.scale.data(), tab.cos_h.data(), tab.sin_h.data(), h, wh, ky, kx,
                                dz[(ky * wh + kx) * 2], dz[(ky * wh + kx) * 2 + 1]);
  }
}

template void image_param_forward_cpu<float>(const ImageParamSpec&, const Tensor&, const Tensor&);
template void image_param_forward_cpu<double>(const ImageParamSpec&, const TensorD&, const TensorD&);
template void image_param_backward_cpu<float>(const ImageParamSpec&, const Tensor&, const Tensor&, const Tensor&);
template void image_param_backward_cpu<double>(const ImageParamSpec&, const TensorD&, const TensorD&,
                                               const TensorD&);

ImageParam::ImageParam(const ImageParamSpec& spec, Device device) : spec_(spec), device_(device) {
  check_spec("ImageParam", spec);
  if (device != Device::cuda) return;
  const FourierTables<float> tab(spec);
  std::vector<float> packed;
  for (const auto* v : {&tab.cos_h, &tab.sin_h, &tab.cos_w, &tab.sin_w, &tab.scale})
    packed.insert(packed.end(), v->begin(), v->end());
  tables_ = Buffer(packed.size() * sizeof(float), Device::cuda);
  cuda_rt::memcpy(tables_.data(), true, packed.data(), false, packed.size() * sizeof(float));
  const size_t ws = size_t(spec.n) * 3 * spec.h * (size_t(spec.wh()) * 2 + spec.w);
  workspace_ = Buffer(ws * sizeof(float), Device::cuda);
}

void ImageParam::check(const char* op, const Tensor& a, Shape want, const char* what) const {
  check_dense(op, what, a, want);
  CUVIZ_CHECK(a.device() == device_, op, ": ", what, " is on ", device_name(a.device()), ", the parameterization on ",
              device_name(device_));
}

void ImageParam::init(const Tensor& params, uint64_t seed, float sd) const {
  check("ImageParam::init", params, spec_.param_shape(), "params");
  std::vector<float> host(size_t(params.numel()));
  for (size_t k = 0; k < host.size(); ++k) host[k] = float(sd * random_normal(seed, kStreamParamInit, k));
  if (device_ == Device::cpu)
    std::memcpy(params.data(), host.data(), host.size() * sizeof(float));
  else
    cuda_rt::memcpy(params.data(), true, host.data(), false, host.size() * sizeof(float));
}

void ImageParam::forward(const Tensor& params, const Tensor& image) {
  check("ImageParam::forward", params, spec_.param_shape(), "params");
  check("ImageParam::forward", image, spec_.image_shape(), "image");
  if (device_ == Device::cuda)
    return image_param_forward_cuda(spec_, static_cast<const float*>(tables_.data()),
                                    static_cast<float*>(workspace_.data()), params, image);
  image_param_forward_cpu<float>(spec_, params, image);
}

void ImageParam::backward(const Tensor& image, const Tensor& dimage, const Tensor& dparams) {
  check("ImageParam::backward", image, spec_.image_shape(), "image");
  check("ImageParam::backward", dimage, spec_.image_shape(), "dimage");
  check("ImageParam::backward", dparams, spec_.param_shape(), "dparams");
  if (device_ == Device::cuda)
    return image_param_backward_cuda(spec_, static_cast<const float*>(tables_.data()),
                                     static_cast<float*>(workspace_.data()), image, dimage, dparams);
  image_param_backward_cpu<float>(spec_, image, dimage, dparams);
}

}  // namespace cuviz
