// Image parameterizations on the CPU: templated plain loops over the shared per-element maths
// (OpenMP over images x channels; the double reference), ImageParam's float path with both DFT
// passes as SGEMMs, t = [Re Im](M1 (Z * scale)) M2, and the device dispatch of ImageParam.
#include "viz/fourier_param.h"

#include <cstring>
#include <string>

#include "core/check.h"
#include "kernels/gemm.h"
#include "core/cuda_runtime.h"
#include "viz/random.h"
#include "viz/viz_cuda.h"

namespace cuviz {

const char* param_kind_name(ParamKind k) {
  return k == ParamKind::fourier ? "fourier" : k == ParamKind::pixel ? "pixel" : "input";
}

ParamKind parse_param_kind(const char* s) {
  const std::string v = s;
  if (v == "fourier" || v == "fft") return ParamKind::fourier;
  if (v == "pixel") return ParamKind::pixel;
  if (v == "input") return ParamKind::input;
  throw Error(cat("unknown parameterization '", v, "' (choices: fourier, pixel, input)"));
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

// rgb = sigmoid(C t) in place over the {N, 3, H, W} planes, OpenMP over all pixels of the batch.
template <class T>
void color_stage_forward(const ImageParamSpec& spec, T* t) {
  const int64_t plane = int64_t(spec.h) * spec.w;
  const bool decorrelate = spec.decorrelate;
#pragma omp parallel for collapse(2) if (spec.n * plane > 16384)
  for (int i = 0; i < spec.n; ++i)
    for (int64_t p = 0; p < plane; ++p) rgb_from_t_at(t + i * 3 * plane + p, t + i * 3 * plane + p, plane, decorrelate);
}

// dt = C^T (drgb * s (1 - s)) over the batch; dt may not alias image or dimage.
template <class T>
void color_stage_backward(const ImageParamSpec& spec, const T* image, const T* dimage, T* dt) {
  const int64_t plane = int64_t(spec.h) * spec.w;
  const bool decorrelate = spec.decorrelate;
#pragma omp parallel for collapse(2) if (spec.n * plane > 16384)
  for (int i = 0; i < spec.n; ++i)
    for (int64_t p = 0; p < plane; ++p) {
      const int64_t o = i * 3 * plane + p;
      rgb_from_t_backward_at(image + o, dimage + o, dt + o, plane, decorrelate);
    }
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
  color_stage_forward(spec, t);
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
  color_stage_backward(spec, image.data(), dimage.data(), dt);
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
  if (device == Device::cpu && spec.kind == ParamKind::fourier) {
    // The twiddles come from the same exact-at-quarter-turn tables as the loops (so the DC and
    // Nyquist imaginary parts meet exact zeros here too); products are formed in double and
    // rounded once.
    const FourierTables<double> tab(spec);
    const int h = spec.h, w = spec.w, wh = spec.wh();
    m1_.resize(size_t(4) * h * h);
    for (int r = 0; r < h; ++r)
      for (int ky = 0; ky < h; ++ky) {
        const int k = int(int64_t(ky) * r % h);
        const float c = float(tab.cos_h[k]), sn = float(tab.sin_h[k]);
        m1_[size_t(r) * 2 * h + ky] = c;
        m1_[size_t(r) * 2 * h + h + ky] = -sn;
        m1_[size_t(h + r) * 2 * h + ky] = sn;
        m1_[size_t(h + r) * 2 * h + h + ky] = c;
      }
    m2_.resize(size_t(2) * wh * w);
    for (int kx = 0; kx < wh; ++kx)
      for (int c = 0; c < w; ++c) {
        const int k = int(int64_t(kx) * c % w);
        const double g = tab.norm * rdft_weight(kx, w);
        m2_[size_t(kx) * w + c] = float(g * tab.cos_w[k]);
        m2_[size_t(wh + kx) * w + c] = float(-g * tab.sin_w[k]);
      }
    scale_.assign(tab.scale.begin(), tab.scale.end());
    buf_a_.resize(size_t(2) * h * 3 * spec.n * wh);
    buf_b_.resize(buf_a_.size());
  }
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
  // The input parameterization is the identity into the network's input space, not an image map:
  // treating it as pixels would apply a sigmoid it does not have.
  CUVIZ_CHECK(spec_.kind != ParamKind::input, op, ": the input parameterization has no image map "
              "(the Renderer maps it with input_to_image)");
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
  if (spec_.kind == ParamKind::fourier) return forward_cpu(params, image);
  image_param_forward_cpu<float>(spec_, params, image);
}

void ImageParam::backward(const Tensor& image, const Tensor& dimage, const Tensor& dparams) {
  check("ImageParam::backward", image, spec_.image_shape(), "image");
  check("ImageParam::backward", dimage, spec_.image_shape(), "dimage");
  check("ImageParam::backward", dparams, spec_.param_shape(), "dparams");
  if (device_ == Device::cuda)
    return image_param_backward_cuda(spec_, static_cast<const float*>(tables_.data()),
                                     static_cast<float*>(workspace_.data()), image, dimage, dparams);
  if (spec_.kind == ParamKind::fourier) return backward_cpu(image, dimage, dparams);
  image_param_backward_cpu<float>(spec_, image, dimage, dparams);
}

// Layouts: Z planes {2H, 3N Wh} (Re rows, then Im rows; plane nc in columns nc Wh ..), so pass 1
// is one GEMM for the whole batch; Y regrouped to {3N H, 2Wh} ([Re | Im] per row) so pass 2 is one
// GEMM writing t straight into the {N, 3, H, W} image.
void ImageParam::forward_cpu(const Tensor& params, const Tensor& image) {
  const int h = spec_.h, w = spec_.w, wh = spec_.wh(), planes = 3 * spec_.n, cols = planes * wh;
  float* z = buf_a_.data();
  float* y = buf_b_.data();
  const float* src = params.data();
#pragma omp parallel for collapse(2) if (int64_t(cols) * h > 16384)
  for (int nc = 0; nc < planes; ++nc)
    for (int ky = 0; ky < h; ++ky) {
      const float* in = src + (int64_t(nc) * h + ky) * wh * 2;
      const float* sc = scale_.data() + int64_t(ky) * wh;
      float* zr = z + int64_t(ky) * cols + int64_t(nc) * wh;
      float* zi = zr + int64_t(h) * cols;
      for (int kx = 0; kx < wh; ++kx) {
        zr[kx] = in[2 * kx] * sc[kx];
        zi[kx] = in[2 * kx + 1] * sc[kx];
      }
    }
  sgemm_parallel(false, false, 2 * h, cols, 2 * h, 1.f, m1_.data(), 2 * h, z, cols, 0.f, y, cols);
  float* ys = buf_a_.data();
#pragma omp parallel for collapse(2) if (int64_t(cols) * h > 16384)
  for (int nc = 0; nc < planes; ++nc)
    for (int r = 0; r < h; ++r) {
      float* row = ys + (int64_t(nc) * h + r) * 2 * wh;
      std::memcpy(row, y + int64_t(r) * cols + int64_t(nc) * wh, sizeof(float) * size_t(wh));
      std::memcpy(row + wh, y + int64_t(h + r) * cols + int64_t(nc) * wh, sizeof(float) * size_t(wh));
    }
  sgemm_parallel(false, false, planes * h, w, 2 * wh, 1.f, ys, 2 * wh, m2_.data(), w, 0.f, image.data(), w);
  color_stage_forward(spec_, image.data());
}

// The adjoint runs the same steps backwards with the transposed matrices: dY = dt M2^T,
// dZ = M1^T dY (M1^T = [[C, S], [-S, C]] since C, S are symmetric), then dZ * scale interleaved.
void ImageParam::backward_cpu(const Tensor& image, const Tensor& dimage, const Tensor& dparams) {
  const int h = spec_.h, w = spec_.w, wh = spec_.wh(), planes = 3 * spec_.n, cols = planes * wh;
  // dt {N, 3, H, W} lives in dparams (H 2Wh >= H W floats per plane): it is read by the first
  // GEMM only, before the last step overwrites dparams.
  float* dt = dparams.data();
  color_stage_backward(spec_, image.data(), dimage.data(), dt);
  float* dys = buf_a_.data();
  sgemm_parallel(false, true, planes * h, 2 * wh, w, 1.f, dt, w, m2_.data(), w, 0.f, dys, 2 * wh);
  float* dy = buf_b_.data();
#pragma omp parallel for collapse(2) if (int64_t(cols) * h > 16384)
  for (int nc = 0; nc < planes; ++nc)
    for (int r = 0; r < h; ++r) {
      const float* row = dys + (int64_t(nc) * h + r) * 2 * wh;
      std::memcpy(dy + int64_t(r) * cols + int64_t(nc) * wh, row, sizeof(float) * size_t(wh));
      std::memcpy(dy + int64_t(h + r) * cols + int64_t(nc) * wh, row + wh, sizeof(float) * size_t(wh));
    }
  float* dz = buf_a_.data();
  sgemm_parallel(true, false, 2 * h, cols, 2 * h, 1.f, m1_.data(), 2 * h, dy, cols, 0.f, dz, cols);
  float* out = dparams.data();
#pragma omp parallel for collapse(2) if (int64_t(cols) * h > 16384)
  for (int nc = 0; nc < planes; ++nc)
    for (int ky = 0; ky < h; ++ky) {
      float* o = out + (int64_t(nc) * h + ky) * wh * 2;
      const float* sc = scale_.data() + int64_t(ky) * wh;
      const float* zr = dz + int64_t(ky) * cols + int64_t(nc) * wh;
      const float* zi = zr + int64_t(h) * cols;
      for (int kx = 0; kx < wh; ++kx) {
        o[2 * kx] = zr[kx] * sc[kx];
        o[2 * kx + 1] = zi[kx] * sc[kx];
      }
    }
}

}  // namespace cuviz
