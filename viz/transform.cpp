// Transforms on the CPU: the composed affine resample (gather forward, scatter adjoint) with the
// preprocessing folded in, the `none` transform, and the dispatch to CUDA.
#include "viz/transform.h"

#include <vector>

#include "core/check.h"
#include "viz/viz_cuda.h"

namespace cuviz {

TransformSpec TransformSpec::standard() {
  TransformSpec s;
  s.n_scales = 11;
  for (int i = 0; i < 11; ++i) s.scales[i] = float(1.0 + (i - 5) / 50.0);
  s.n_angles = 26;
  for (int i = 0; i < 21; ++i) s.angles_deg[i] = float(i - 10);
  for (int i = 21; i < 26; ++i) s.angles_deg[i] = 0.f;
  return s;
}

TransformSpec TransformSpec::none() {
  TransformSpec s;
  s.enabled = false;
  return s;
}

TransformSpec TransformSpec::parse(const std::string& name) {
  if (name == "standard") return standard();
  if (name == "none") return none();
  throw Error(cat("unknown transform '", name, "' (choices: standard, none)"));
}

Preprocess Preprocess::from_meta(const ModelMeta& meta) {
  Preprocess p;
  for (int c = 0; c < 3; ++c) {
    CUVIZ_CHECK(meta.std[c] != 0.f, "preprocess: model std of channel ", c, " is zero");
    p.src[c] = meta.bgr ? 2 - c : c;
    p.scale[c] = meta.value_scale / meta.std[c];
    p.offset[c] = -meta.mean[c] / meta.std[c];
  }
  return p;
}

namespace {

template <class T>
void check_transform(const char* op, const TransformSpec& spec, size_t n_thetas, const BasicTensor<T>& a,
                     const BasicTensor<T>& b) {
  check_nonempty(op, "input", a);
  CUVIZ_CHECK(a.c() == 3, op, ": expects 3-channel images, got ", a.shape().str());
  check_shape(op, "output", b, a.shape());
  CUVIZ_CHECK(n_thetas == size_t(a.n()) || !spec.enabled, op, ": ", n_thetas, " affine maps for ", a.n(),
              " images");
  CUVIZ_CHECK(spec.pad >= 0, op, ": negative pad ", spec.pad);
}

void check_draws(const char* op, const TransformSpec& spec) {
  if (!spec.enabled) return;
  CUVIZ_CHECK(spec.n_scales > 0 && spec.n_scales <= TransformSpec::kMaxScales && spec.n_angles > 0 &&
                  spec.n_angles <= TransformSpec::kMaxAngles,
              op, ": transform needs 1..", TransformSpec::kMaxScales, " scales and 1..", TransformSpec::kMaxAngles,
              " angles, got ", spec.n_scales, " and ", spec.n_angles);
  CUVIZ_CHECK(spec.jitter >= 0 && spec.jitter2 >= 0, op, ": negative jitter");
  for (int i = 0; i < spec.n_scales; ++i) CUVIZ_CHECK(spec.scales[i] > 0.f, op, ": scale ", spec.scales[i], " <= 0");
}

}  // namespace

void draw_affines(const TransformSpec& spec, int h, int w, uint64_t seed, uint64_t step, std::span<Affine> out) {
  check_draws("draw_affines", spec);
  for (size_t i = 0; i < out.size(); ++i) out[i] = draw_affine(spec, h, w, seed, step, int(i));
}

template <class T>
void affine_resample_forward_cpu(const TransformSpec& spec, const Preprocess& pre, std::span<const Affine> thetas,
                                 const BasicTensor<T>& image, const BasicTensor<T>& out) {
  check_transform("affine_resample_forward", spec, thetas.size(), image, out);
  const int h = image.h(), w = image.w(), hp = h + 2 * spec.pad, wp = w + 2 * spec.pad;
  const int64_t plane = int64_t(h) * w;
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < image.n(); ++n)
    for (int c = 0; c < 3; ++c) {
      const T* src = image.image(n) + pre.src[c] * plane;
      T* dst = out.image(n) + c * plane;
      for (int oy = 0; oy < h; ++oy)
        for (int ox = 0; ox < w; ++ox) {
          T v = src[int64_t(oy) * w + ox];
          if (spec.enabled)
            v = resample_at(src, affine_taps<T>(thetas[n], oy, ox, h, w, hp, wp), h, w, spec.pad, T(spec.pad_value));
          dst[int64_t(oy) * w + ox] = v * T(pre.scale[c]) + T(pre.offset[c]);
        }
    }
}

template <class T>
void affine_resample_backward_cpu(const TransformSpec& spec, const Preprocess& pre, std::span<const Affine> thetas,
                                  const BasicTensor<T>& dout, const BasicTensor<T>& dimage) {
  check_transform("affine_resample_backward", spec, thetas.size(), dout, dimage);
  for (int c = 0; c < 3; ++c)
    for (int d = 0; d < c; ++d)
      CUVIZ_CHECK(pre.src[c] != pre.src[d], "affine_resample_backward: preprocessing reads image channel ",
                  pre.src[c], " twice");
  const int h = dout.h(), w = dout.w(), hp = h + 2 * spec.pad, wp = w + 2 * spec.pad;
  const int64_t plane = int64_t(h) * w;
  // Each network channel c reads exactly one image channel src[c], so (n, c) pairs scatter into
  // disjoint planes and run in parallel without atomics, each in a fixed order (deterministic).
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < dout.n(); ++n)
    for (int c = 0; c < 3; ++c) {
      const T* g = dout.image(n) + c * plane;
      T* dst = dimage.image(n) + pre.src[c] * plane;
      const T a = T(pre.scale[c]);
      for (int64_t k = 0; k < plane; ++k) dst[k] = T(0);
      for (int oy = 0; oy < h; ++oy)
        for (int ox = 0; ox < w; ++ox) {
          const T go = g[int64_t(oy) * w + ox] * a;
          if (!spec.enabled) {
            dst[int64_t(oy) * w + ox] = go;
            continue;
          }
          const Taps<T> k = affine_taps<T>(thetas[n], oy, ox, h, w, hp, wp);
          for (int dy = 0; dy < 2; ++dy)
            for (int dx = 0; dx < 2; ++dx) {
              const int y = k.y0 + dy - spec.pad, x = k.x0 + dx - spec.pad;
              if (y < 0 || y >= h || x < 0 || x >= w) continue;  // pad pixel (or off canvas): no parameter
              dst[int64_t(y) * w + x] += go * (dx ? k.wx : T(1) - k.wx) * (dy ? k.wy : T(1) - k.wy);
            }
        }
    }
}

template void affine_resample_forward_cpu<float>(const TransformSpec&, const Preprocess&, std::span<const Affine>,
                                                 const Tensor&, const Tensor&);
template void affine_resample_forward_cpu<double>(const TransformSpec&, const Preprocess&, std::span<const Affine>,
                                                  const TensorD&, const TensorD&);
template void affine_resample_backward_cpu<float>(const TransformSpec&, const Preprocess&, std::span<const Affine>,
                                                  const Tensor&, const Tensor&);
template void affine_resample_backward_cpu<double>(const TransformSpec&, const Preprocess&, std::span<const Affine>,
                                                   const TensorD&, const TensorD&);

void transform_forward(const TransformSpec& spec, const Preprocess& pre, uint64_t seed, StepIndex step,
                       const Tensor& image, const Tensor& out) {
  check_draws("transform_forward", spec);
  if (check_same_device<float>("transform_forward", {&image, &out}) == Device::cuda) {
    check_transform<float>("transform_forward", spec, size_t(image.n()), image, out);
    return transform_forward_cuda(spec, pre, seed, step, image, out);
  }
  std::vector<Affine> thetas(spec.enabled ? size_t(image.n()) : 0);
  draw_affines(spec, image.h(), image.w(), seed, step.get(), thetas);
  affine_resample_forward_cpu<float>(spec, pre, thetas, image, out);
}

void transform_backward(const TransformSpec& spec, const Preprocess& pre, uint64_t seed, StepIndex step,
                        const Tensor& dout, const Tensor& dimage) {
  check_draws("transform_backward", spec);
  if (check_same_device<float>("transform_backward", {&dout, &dimage}) == Device::cuda) {
    check_transform<float>("transform_backward", spec, size_t(dout.n()), dout, dimage);
    return transform_backward_cuda(spec, pre, seed, step, dout, dimage);
  }
  std::vector<Affine> thetas(spec.enabled ? size_t(dout.n()) : 0);
  draw_affines(spec, dout.h(), dout.w(), seed, step.get(), thetas);
  affine_resample_backward_cpu<float>(spec, pre, thetas, dout, dimage);
}

}  // namespace cuviz
