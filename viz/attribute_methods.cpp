// The attribution methods (viz/attribute_methods.h): each one a few lines over gradients_at, the
// one loop that batches points through an Attributor. docs/attribution.md quotes the lines that
// implement each definition.
#include "viz/attribute_methods.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>

#include "nn/backward_rule.h"
#include "viz/attribution.h"
#include "viz/method_ops.h"
#include "viz/lrp.h"

namespace cuviz {

// ---- shared pieces ------------------------------------------------------------------------------

Objective target_objective(const Graph& g, int k, bool softmax) {
  if (!softmax) return class_logit(class_logit_layer(g), k);
  // p_k is channel k of the softmax's output (1 x 1: its spatial mean is the value).
  for (auto it = g.layers.rbegin(); it != g.layers.rend(); ++it)
    if (it->kind == LayerKind::softmax) return channel(it->output, k);
  throw Error(cat("attribution: --softmax: model ", g.name, " has no softmax layer"));
}

int class_count(const Network& net) {
  const ModelMeta& m = net.graph().meta;
  const Plan p = net.plan(Shape{1, 3, m.input_size, m.input_size}, {class_logit_layer(net.graph())});
  return net.activation(p, class_logit_layer(net.graph())).shape().image_size();
}

namespace {

void check_pairs(const Tensor& x, const std::vector<int>& targets, const char* what) {
  CUVIZ_CHECK(x.device() == Device::cpu && x.c() == 3 && x.n() >= 1, what, ": expects CPU network inputs {N, 3, H, W}, got ",
              x.shape().str());
  CUVIZ_CHECK(int(targets.size()) == x.n(), what, ": ", targets.size(), " targets for ", x.n(), " images");
}

// Batches of points through Attributors: gradient (or value) of S_{target_j} at point j. One
// Attributor serves consecutive batches of the same size and targets (the usual case: the samples
// or steps of one image), so a method plans once per image, not once per batch.
class PointRunner {
 public:
  PointRunner(const Network& net, const AttributionSettings& s, AttributorOptions options = {})
      : net_(net), s_(s), options_(std::move(options)) {
    CUVIZ_CHECK(s.batch >= 1, "attribution: batch ", s.batch, " must be at least 1");
  }

  // Gradients (into grad, points' shape, when defined) and scores of points[j] for targets[j].
  // after_batch(attributor, first point, count) runs after each batch (Grad-CAM reads its layer).
  void run(const Tensor& points, const std::vector<int>& targets, const Tensor& grad, std::vector<double>& scores,
           const std::function<void(Attributor&, int, int)>& after_batch = {},
           const std::function<void(double)>& progress = {}) {
    const int m = points.n();
    scores.assign(size_t(m), 0.0);
    for (int j0 = 0; j0 < m; j0 += s_.batch) {
      const int c = std::min(s_.batch, m - j0);
      Attributor& a = attributor(std::vector<int>(targets.begin() + j0, targets.begin() + j0 + c), points.shape(), c);
      const Tensor batch = points.batch(j0, c);
      std::vector<double> v;
      if (grad.defined()) {
        copy(a.gradient(batch), grad.batch(j0, c));
        v = a.objectives();
      } else {
        v = a.values(batch);
      }
      std::copy(v.begin(), v.end(), scores.begin() + j0);
      if (after_batch) after_batch(a, j0, c);
      if (progress) progress(double(j0 + c) / m);
    }
  }

 private:
  Attributor& attributor(const std::vector<int>& targets, Shape shape, int count) {
    if (!a_ || targets != targets_) {
      a_.reset();
      std::vector<Objective> objs;
      for (int t : targets) objs.push_back(target_objective(net_.graph(), t, s_.softmax));
      a_ = std::make_unique<Attributor>(net_, objs, Shape{count, 3, shape.h, shape.w}, options_);
      targets_ = targets;
    }
    return *a_;
  }

  const Network& net_;
  const AttributionSettings& s_;
  AttributorOptions options_;
  std::unique_ptr<Attributor> a_;
  std::vector<int> targets_;
};

// Plain (or rule-modified) gradients of every pair at its own input: one point per pair.
AttributionMap pair_gradients(const Network& net, const Tensor& x, const std::vector<int>& targets,
                              const AttributionSettings& s, const AttributionProgress& progress,
                              AttributorOptions options = {}) {
  AttributionMap r;
  r.raw = OwnedTensor(x.shape());
  PointRunner(net, s, std::move(options)).run(x, targets, r.raw, r.score, {}, progress);
  return r;
}

// Image i of x repeated `count` times plus Gaussian noise of sigma = noise * (max x_i - min x_i).
OwnedTensor noisy_copies(const Tensor& x, int i, int count, double noise, uint64_t seed) {
  const int64_t m = x.shape().image_size();
  const float* xi = x.image(i);
  const auto [lo, hi] = std::minmax_element(xi, xi + m);
  const double sigma = noise * (double(*hi) - double(*lo));
  OwnedTensor out(Shape{count, 3, x.h(), x.w()});
  std::mt19937_64 rng(seed * 1000003ull + uint64_t(i));
  std::normal_distribution<double> gauss(0.0, sigma);
  for (int k = 0; k < count; ++k)
    for (int64_t e = 0; e < m; ++e) out.image(k)[e] = float(double(xi[e]) + gauss(rng));
  return out;
}

enum class NoiseStat { mean, mean_square, variance };

// The NoiseTunnel family (Captum's smoothgrad, smoothgrad_sq, vargrad over the plain gradient):
// per pair, n gradients at noisy copies, reduced element by element.
AttributionMap noise_tunnel(const Network& net, const Tensor& x, const std::vector<int>& targets,
                            const AttributionSettings& s, const AttributionProgress& progress, NoiseStat stat) {
  check_pairs(x, targets, "smoothgrad");
  CUVIZ_CHECK(s.samples >= 1, "smoothgrad: --samples ", s.samples, " must be at least 1");
  CUVIZ_CHECK(s.noise >= 0 && std::isfinite(s.noise), "smoothgrad: --noise ", s.noise, " must be >= 0");
  AttributionMap r;
  r.raw = OwnedTensor(x.shape());
  r.score = target_scores(net, x, targets, s.softmax, s.batch);
  const int n = s.samples;
  const int64_t m = x.shape().image_size();
  PointRunner runner(net, s);
  for (int i = 0; i < x.n(); ++i) {
    const OwnedTensor points = noisy_copies(x, i, n, s.noise, s.seed);
    OwnedTensor g(points.shape());
    std::vector<double> scores;
    runner.run(points, std::vector<int>(size_t(n), targets[size_t(i)]), g, scores, {}, [&](double f) {
      if (progress) progress((i + f) / x.n());
    });
    for (int64_t e = 0; e < m; ++e) {
      double sum = 0, sq = 0;
      for (int k = 0; k < n; ++k) {
        const double v = g.image(k)[e];
        sum += v;
        sq += v * v;
      }
      const double mean = sum / n, mean_sq = sq / n;
      r.raw.image(i)[e] = float(stat == NoiseStat::mean          ? mean
                                : stat == NoiseStat::mean_square ? mean_sq
                                                                 : mean_sq - mean * mean);
    }
  }
  return r;
}

}  // namespace

std::vector<double> target_scores(const Network& net, const Tensor& x, const std::vector<int>& targets, bool softmax,
                                  int batch) {
  check_pairs(x, targets, "attribution");
  AttributionSettings s;
  s.softmax = softmax;
  s.batch = batch;
  std::vector<double> scores;
  PointRunner(net, s).run(x, targets, Tensor(), scores);
  return scores;
}

void quadrature(const std::string& method, int n, std::vector<double>& alphas, std::vector<double>& weights) {
  alphas.clear();
  weights.clear();
  if (method == "gausslegendre") {
    CUVIZ_CHECK(n >= 1, "integrated gradients: --steps ", n, " must be at least 1");
    // Gauss-Legendre on [-1, 1]: the nodes z_i are the roots of the Legendre polynomial P_n (Newton
    // from Tricomi's guess cos(pi (i - 1/4) / (n + 1/2))), weights 2 / ((1 - z^2) P_n'(z)^2); mapped
    // to [0, 1] as Captum does: alpha = (1 + z) / 2, weight / 2. Exact for polynomials of degree 2n - 1.
    for (int i = 1; i <= n; ++i) {
      double z = std::cos(M_PI * (i - 0.25) / (n + 0.5)), pp = 1;
      for (int it = 0; it < 100; ++it) {
        double p1 = 1, p2 = 0;
        for (int j = 1; j <= n; ++j) {
          const double p3 = p2;
          p2 = p1;
          p1 = ((2.0 * j - 1) * z * p2 - (j - 1.0) * p3) / j;
        }
        pp = n * (z * p1 - p2) / (z * z - 1);
        const double z1 = z;
        z = z1 - p1 / pp;
        if (std::abs(z - z1) < 1e-15) break;
      }
      alphas.push_back(0.5 * (1 + z));
      weights.push_back(0.5 * 2 / ((1 - z * z) * pp * pp));
    }
    return;
  }
  CUVIZ_CHECK(n >= 2, "integrated gradients: --steps ", n, " must be at least 2 for ", method);
  // Captum's Riemann sums: n points, each weighted 1/n (trapezoid: the end points 1/(2n), so the
  // weights sum to (n - 1)/n, as in Captum).
  for (int i = 0; i < n; ++i) {
    double a;
    if (method == "riemann_left")
      a = double(i) / n;
    else if (method == "riemann_right")
      a = double(i + 1) / n;
    else if (method == "riemann_middle")
      a = (i + 0.5) / n;
    else if (method == "riemann_trapezoid")
      a = double(i) / (n - 1);
    else
      throw Error(cat("integrated gradients: unknown method '", method,
                      "' (gausslegendre, riemann_left, riemann_right, riemann_middle, riemann_trapezoid)"));
    alphas.push_back(a);
    weights.push_back(method == "riemann_trapezoid" && (i == 0 || i == n - 1) ? 0.5 / n : 1.0 / n);
  }
}

OwnedTensor ig_baseline(const Network& net, const Tensor& x, const std::string& baseline) {
  OwnedTensor b(x.shape());
  if (baseline == "zero") {
    fill(b, 0.f);
  } else if (baseline == "black") {
    // The network input of an all-zero [0, 1] image: x = (0 * scale - mean) / std per channel.
    const Preprocess pre = Preprocess::from_meta(net.graph().meta);
    for (int i = 0; i < x.n(); ++i)
      for (int c = 0; c < 3; ++c)
        std::fill(b.image(i) + int64_t(c) * x.h() * x.w(), b.image(i) + int64_t(c + 1) * x.h() * x.w(), pre.offset[c]);
  } else if (baseline == "blur") {
    const float sigma = std::max(1.f, float(x.w()) / 20.f);
    copy(x, b);
    OwnedTensor tmp(x.shape());
    blur_scheduled(sigma, sigma, blur_radius(sigma), 1, StepIndex{0}, b, tmp);
  } else {
    throw Error(cat("integrated gradients: unknown baseline '", baseline, "' (zero, black, blur)"));
  }
  return b;
}

std::string grad_cam_layer(const Network& net, Shape input, const std::string& layer) {
  const Graph& g = net.graph();
  const std::string logits = class_logit_layer(g);
  if (!layer.empty()) {
    const Plan p = net.plan(Shape{1, 3, input.h, input.w}, {layer});  // unknown names throw here
    const Shape s = net.activation(p, layer).shape();
    CUVIZ_CHECK(s.h * s.w > 1, "grad_cam: layer ", layer, " is not spatial (", s.str(),
                "): Grad-CAM needs a layer with more than one position, e.g. a conv or inception output");
    return layer;
  }
  // The last blob with more than one position that the classifier's input depends on.
  const Plan p = net.plan(Shape{1, 3, input.h, input.w}, {logits});
  const std::vector<LayerInfo> info = net.describe(p);
  for (auto it = info.rbegin(); it != info.rend(); ++it)
    if (it->output.h * it->output.w > 1)
      for (const LayerDesc& l : g.layers)
        if (l.name == it->name) return l.output;
  throw Error(cat("grad_cam: model ", g.name, " has no spatial layer before ", logits));
}

// ---- the methods --------------------------------------------------------------------------------

AttributionMap attribute_gradient(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                  const AttributionSettings& s, const AttributionProgress& progress) {
  check_pairs(x, targets, "gradient");
  return pair_gradients(net, x, targets, s, progress);  // raw = dS_c / dx
}

AttributionMap attribute_gradient_x_input(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                          const AttributionSettings& s, const AttributionProgress& progress) {
  check_pairs(x, targets, "gradient_x_input");
  AttributionMap r = pair_gradients(net, x, targets, s, progress);
  for (int64_t e = 0; e < r.raw.numel(); ++e) r.raw.data()[e] *= x.data()[e];  // raw = x * dS_c / dx
  return r;
}

AttributionMap attribute_smoothgrad(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                    const AttributionSettings& s, const AttributionProgress& progress) {
  return noise_tunnel(net, x, targets, s, progress, NoiseStat::mean);
}

AttributionMap attribute_smoothgrad_sq(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                       const AttributionSettings& s, const AttributionProgress& progress) {
  return noise_tunnel(net, x, targets, s, progress, NoiseStat::mean_square);
}

AttributionMap attribute_vargrad(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                 const AttributionSettings& s, const AttributionProgress& progress) {
  return noise_tunnel(net, x, targets, s, progress, NoiseStat::variance);
}

AttributionMap attribute_integrated_gradients(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                              const AttributionSettings& s, const AttributionProgress& progress) {
  check_pairs(x, targets, "integrated_gradients");
  std::vector<double> alpha, w;
  quadrature(s.ig_method, s.steps, alpha, w);
  const OwnedTensor base = ig_baseline(net, x, s.baseline);
  const int n = int(alpha.size());
  const int64_t m = x.shape().image_size();
  AttributionMap r;
  r.raw = OwnedTensor(x.shape());
  PointRunner runner(net, s);
  for (int i = 0; i < x.n(); ++i) {
    // The path x' + a_k (x - x'), one point per quadrature node.
    OwnedTensor points(Shape{n, 3, x.h(), x.w()}), g(Shape{n, 3, x.h(), x.w()});
    const float *xi = x.image(i), *bi = base.image(i);
    for (int k = 0; k < n; ++k)
      for (int64_t e = 0; e < m; ++e) points.image(k)[e] = float(bi[e] + alpha[size_t(k)] * (double(xi[e]) - bi[e]));
    std::vector<double> scores;
    runner.run(points, std::vector<int>(size_t(n), targets[size_t(i)]), g, scores, {}, [&](double f) {
      if (progress) progress((i + f) / x.n());
    });
    // IG_e = (x_e - x'_e) * sum_k w_k dS/dx_e (x' + a_k (x - x'))
    for (int64_t e = 0; e < m; ++e) {
      double sum = 0;
      for (int k = 0; k < n; ++k) sum += w[size_t(k)] * g.image(k)[e];
      r.raw.image(i)[e] = float((double(xi[e]) - bi[e]) * sum);
    }
  }
  // Completeness (Sundararajan's axiom): sum_e IG_e = S(x) - S(x') for the exact integral; what
  // the quadrature leaves is the error reported.
  OwnedTensor both(Shape{2 * x.n(), 3, x.h(), x.w()});
  copy(x, both.batch(0, x.n()));
  copy(base, both.batch(x.n(), x.n()));
  std::vector<int> t2 = targets;
  t2.insert(t2.end(), targets.begin(), targets.end());
  const std::vector<double> sc = target_scores(net, both, t2, s.softmax, s.batch);
  for (int i = 0; i < x.n(); ++i) {
    r.score.push_back(sc[size_t(i)]);
    r.baseline_score.push_back(sc[size_t(x.n() + i)]);
    double total = 0;
    for (int64_t e = 0; e < m; ++e) total += r.raw.image(i)[e];
    r.completeness_error.push_back(total - (sc[size_t(i)] - sc[size_t(x.n() + i)]));
  }
  return r;
}

AttributionMap attribute_guided_backprop(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                         const AttributionSettings& s, const AttributionProgress& progress) {
  check_pairs(x, targets, "guided_backprop");
  return pair_gradients(net, x, targets, s, progress, AttributorOptions{.rules = {guided_relu_rule()}});
}

AttributionMap attribute_deconvnet(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                   const AttributionSettings& s, const AttributionProgress& progress) {
  check_pairs(x, targets, "deconvnet");
  return pair_gradients(net, x, targets, s, progress, AttributorOptions{.rules = {deconvnet_relu_rule()}});
}

AttributionMap attribute_grad_cam(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                  const AttributionSettings& s, const AttributionProgress& progress) {
  check_pairs(x, targets, "grad_cam");
  const std::string layer = grad_cam_layer(net, x.shape(), s.layer);
  AttributionMap r;
  r.layer = layer;
  OwnedTensor dx(x.shape());
  PointRunner(net, s, AttributorOptions{.layers = {layer}})
      .run(x, targets, dx, r.score,
           [&](Attributor& a, int j0, int count) {
             const OwnedTensor act = a.activation(layer), grad = a.layer_gradient(layer);
             const int C = act.c(), h = act.h(), w = act.w();
             if (!r.raw.defined()) r.raw = OwnedTensor(Shape{x.n(), 1, h, w});
             for (int j = 0; j < count; ++j) {
               // a_k = mean_{y,x} dS_c / dA^k_{y,x};  cam = ReLU(sum_k a_k A^k)
               std::vector<double> cam(size_t(h) * w, 0.0);
               for (int k = 0; k < C; ++k) {
                 double ak = 0;
                 for (int p = 0; p < h * w; ++p) ak += grad.image(j)[int64_t(k) * h * w + p];
                 ak /= h * w;
                 for (int p = 0; p < h * w; ++p) cam[size_t(p)] += ak * act.image(j)[int64_t(k) * h * w + p];
               }
               for (int p = 0; p < h * w; ++p) r.raw.image(j0 + j)[p] = float(std::max(cam[size_t(p)], 0.0));
             }
           },
           progress);
  return r;
}

AttributionMap attribute_guided_grad_cam(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                         const AttributionSettings& s, const AttributionProgress& progress) {
  check_pairs(x, targets, "guided_grad_cam");
  const AttributionMap cam = attribute_grad_cam(net, x, targets, s, [&](double f) {
    if (progress) progress(0.5 * f);
  });
  AttributionMap r = attribute_guided_backprop(net, x, targets, s, [&](double f) {
    if (progress) progress(0.5 + 0.5 * f);
  });
  r.layer = cam.layer;
  const int64_t hw = int64_t(x.h()) * x.w();
  for (int i = 0; i < x.n(); ++i) {
    // guided backprop (3 x H x W) times the Grad-CAM map upsampled bilinearly to H x W
    const std::vector<float> up = resize_bilinear(cam.raw.image(i), cam.raw.h(), cam.raw.w(), x.h(), x.w());
    for (int c = 0; c < 3; ++c)
      for (int64_t p = 0; p < hw; ++p) r.raw.image(i)[c * hw + p] *= up[size_t(p)];
  }
  return r;
}

AttributionMap attribute_occlusion(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                   const AttributionSettings& s, const AttributionProgress& progress) {
  check_pairs(x, targets, "occlusion");
  CUVIZ_CHECK(s.patch >= 1 && s.patch <= std::min(x.h(), x.w()), "occlusion: patch ", s.patch,
              " must be between 1 and the input size ", std::min(x.h(), x.w()));
  CUVIZ_CHECK(s.stride >= 1, "occlusion: stride ", s.stride, " must be at least 1");
  const int H = x.h(), W = x.w(), p = s.patch;
  // Captum's windows: starts 0, stride, ..., ceil((H - p) / stride) * stride, the last clipped
  // at the border.
  const int ny = (H - p + s.stride - 1) / s.stride + 1, nx = (W - p + s.stride - 1) / s.stride + 1;
  const int64_t hw = int64_t(H) * W;
  AttributionMap r;
  r.raw = OwnedTensor(x.shape());
  r.score = target_scores(net, x, targets, s.softmax, s.batch);
  PointRunner runner(net, s);
  for (int i = 0; i < x.n(); ++i) {
    OwnedTensor points(Shape{ny * nx, 3, H, W});
    for (int k = 0; k < ny * nx; ++k) {
      float* dst = points.image(k);
      std::memcpy(dst, x.image(i), sizeof(float) * size_t(3 * hw));
      const int y0 = (k / nx) * s.stride, x0 = (k % nx) * s.stride;
      for (int c = 0; c < 3; ++c)
        for (int y = y0; y < std::min(y0 + p, H); ++y)
          for (int xx = x0; xx < std::min(x0 + p, W); ++xx) dst[c * hw + int64_t(y) * W + xx] = 0.f;
    }
    std::vector<double> occluded;
    runner.run(points, std::vector<int>(size_t(ny * nx), targets[size_t(i)]), Tensor(), occluded, {}, [&](double f) {
      if (progress) progress((i + f) / x.n());
    });
    // raw(pixel) = mean over the windows covering it of S(x) - S(x occluded by the window)
    std::vector<double> sum(size_t(hw), 0.0), count(size_t(hw), 0.0);
    for (int k = 0; k < ny * nx; ++k) {
      const int y0 = (k / nx) * s.stride, x0 = (k % nx) * s.stride;
      const double d = r.score[size_t(i)] - occluded[size_t(k)];
      for (int y = y0; y < std::min(y0 + p, H); ++y)
        for (int xx = x0; xx < std::min(x0 + p, W); ++xx) {
          sum[size_t(y) * W + xx] += d;
          count[size_t(y) * W + xx] += 1;
        }
    }
    for (int c = 0; c < 3; ++c)
      for (int64_t e = 0; e < hw; ++e)
        r.raw.image(i)[c * hw + e] = count[size_t(e)] > 0 ? float(sum[size_t(e)] / count[size_t(e)]) : 0.f;
  }
  return r;
}

// ---- the table ----------------------------------------------------------------------------------

const std::vector<AttributionMethod>& attribution_methods() {
  using D = AttributionDisplay;
  static const std::vector<AttributionMethod> table = {
      {"gradient", "Simonyan saliency: |dS/dx|, max over colour", true, D::abs_max, attribute_gradient},
      {"gradient_x_input", "gradient x input", true, D::signed_sum, attribute_gradient_x_input},
      {"smoothgrad", "SmoothGrad: mean gradient over noisy copies", false, D::abs_max, attribute_smoothgrad},
      {"smoothgrad_sq", "SmoothGrad^2: mean squared gradient over noisy copies", false, D::positive,
       attribute_smoothgrad_sq},
      {"vargrad", "VarGrad: variance of the gradient over noisy copies", false, D::positive, attribute_vargrad},
      {"integrated_gradients", "integrated gradients from the baseline", true, D::signed_sum,
       attribute_integrated_gradients},
      {"guided_backprop", "guided backpropagation", true, D::abs_max, attribute_guided_backprop},
      {"deconvnet", "deconvnet (Zeiler & Fergus)", true, D::abs_max, attribute_deconvnet},
      {"grad_cam", "Grad-CAM on a conv layer", true, D::positive, attribute_grad_cam},
      {"guided_grad_cam", "guided backprop x Grad-CAM", true, D::abs_max, attribute_guided_grad_cam},
      {"occlusion", "occlusion: score drop under a sliding grey patch", true, D::signed_sum, attribute_occlusion},
      // Layer-wise relevance propagation (viz/lrp.h): the composite `--rule` names, zennit's semantics.
      {"lrp", "layer-wise relevance propagation (--rule COMPOSITE)", true, D::signed_sum,
       [](const Network& net, const Tensor& x, const std::vector<int>& targets, const AttributionSettings& s,
          const AttributionProgress& progress) {
         LrpOptions o;
         o.composite = s.rule;
         AttributionMap r;
         r.raw = lrp(net, x, targets, o);
         r.score = target_scores(net, x, targets, s.softmax, s.batch);
         if (progress) progress(1.0);
         return r;
       }},
  };
  return table;
}

// Half-pixel centres: output o samples input coordinate (o + 1/2) h / H - 1/2, clamped at 0.
std::vector<float> resize_bilinear(const float* src, int h, int w, int H, int W) {
  std::vector<float> out(size_t(H) * W);
  auto coord = [](int o, int in, int outn, int& i0, int& i1, float& t) {
    float c = (float(o) + 0.5f) * float(in) / float(outn) - 0.5f;
    if (c < 0) c = 0;
    i0 = std::min(int(c), in - 1);
    i1 = std::min(i0 + 1, in - 1);
    t = c - float(i0);
  };
  for (int y = 0; y < H; ++y) {
    int y0, y1;
    float ty;
    coord(y, h, H, y0, y1, ty);
    for (int x = 0; x < W; ++x) {
      int x0, x1;
      float tx;
      coord(x, w, W, x0, x1, tx);
      const float top = src[y0 * w + x0] * (1 - tx) + src[y0 * w + x1] * tx;
      const float bot = src[y1 * w + x0] * (1 - tx) + src[y1 * w + x1] * tx;
      out[size_t(y) * W + x] = top * (1 - ty) + bot * ty;
    }
  }
  return out;
}

const AttributionMethod* find_attribution_method(const std::string& name) {
  for (const AttributionMethod& m : attribution_methods())
    if (m.name == name) return &m;
  return nullptr;
}

std::vector<std::string> attribution_rules() {
  return lrp_composites();
}

}  // namespace cuviz
