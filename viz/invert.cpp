// Feature inversion and caricatures (viz/invert.h): settings -> the render loop's options and
// objective, the target's features, and the relative feature error measured on the 8-bit image.
#include "viz/invert.h"

#include <cmath>

#include "viz/image_source.h"
#include "viz/transform.h"

namespace cuviz {

OwnedTensor layer_features(const Network& net, const std::string& layer, const Tensor& x) {
  CUVIZ_CHECK(x.device() == Device::cpu && x.n() == 1 && x.c() == 3, "invert: the network input must be one CPU "
              "image {1, 3, H, W}, got ", x.shape().str());
  Plan plan = net.plan(x.shape(), {layer});
  net.forward(plan, x);
  const Tensor a = net.activation(plan, layer);
  OwnedTensor out(Shape{1, a.c(), a.h(), a.w()});
  net.read_activation(plan, layer, out);
  return out;
}

double relative_feature_error(const Network& net, const std::string& layer, const Tensor& x, const Tensor& target) {
  const OwnedTensor f = layer_features(net, layer, x);
  CUVIZ_CHECK(f.shape() == target.shape(), "invert: features ", f.shape().str(), " and target ", target.shape().str(),
              " differ in shape");
  double d2 = 0, t2 = 0;
  for (int64_t k = 0; k < f.numel(); ++k) {
    const double d = double(f.data()[k]) - target.data()[k];
    d2 += d * d;
    t2 += double(target.data()[k]) * target.data()[k];
  }
  return std::sqrt(d2 / t2);
}

namespace {

OwnedTensor cpu_copy(const Tensor& t) {
  OwnedTensor out(t.shape());
  copy(t, out);
  return out;
}

// The caricature notebook's transforms: pad(8, constant 0.5), jitter(8),
// random_scale([0.9, 0.95, 1.05, 1.1] + [1]*4), random_rotate(list(range(-5, 5)) + [0]*5), jitter(2).
TransformSpec caricature_transforms() {
  TransformSpec t;
  t.enabled = true;
  t.pad = 8;
  t.pad_value = 0.5f;
  t.jitter = 8;
  t.jitter2 = 2;
  const float scales[] = {0.9f, 0.95f, 1.05f, 1.1f, 1.f, 1.f, 1.f, 1.f};
  t.n_scales = 0;
  for (float s : scales) t.scales[t.n_scales++] = s;
  t.n_angles = 0;
  for (int a = -5; a < 5; ++a) t.angles_deg[t.n_angles++] = float(a);
  for (int k = 0; k < 5; ++k) t.angles_deg[t.n_angles++] = 0.f;
  return t;
}

}  // namespace

Objective invert_objective(const InvertSettings& s, const Tensor& target) {
  check_settings(s);
  OwnedTensor t = cpu_copy(target);
  if (s.caricature) {
    // dot_compare(layer, cossim_pow=0) + blur_input_each_step(), both with weight 1 as in the
    // notebook. (Maximised with weight +1 the blur term sharpens rather than blurs; next to the
    // unnormalised dot product its gradient is negligible either way.)
    return dot_to(s.layer, std::move(t)) + blur();
  }
  const double hw = double(s.size) * s.size;
  const double lambda_a = s.alpha_weight / (hw * std::pow(invert_defaults::range_b, s.alpha));
  const double lambda_tv = s.tv_weight / (hw * std::pow(invert_defaults::edge_v, s.tv_beta));
  Objective o = -1.0 * l2_to(s.layer, std::move(t));
  if (lambda_a > 0) o = o - lambda_a * alpha_norm(float(s.alpha), 0.5f);
  if (lambda_tv > 0) o = o - lambda_tv * tv_beta(float(s.tv_beta));
  return o;
}

RenderOptions invert_options(const InvertSettings& s, const Network& net) {
  check_settings(s);
  RenderOptions o;
  o.device = net.device();
  o.size = s.size;
  o.steps = s.steps_or_default();
  o.seed = s.seed;
  o.progress_every = 8;
  if (s.caricature) {
    // Lucid's render_vis on param.image(decorrelate=True, fft=True): the loop's defaults (Fourier
    // parameters drawn from the seed, Adam at lr 0.05, the ReLU gradient override), the notebook's
    // transforms.
    o.transforms = caricature_transforms();
    o.adam.lr = float(s.lr_or_default());
    return o;
  }
  o.param = ParamKind::input;
  o.source.kind = SourceKind::noise;
  o.transforms = TransformSpec::none();
  o.relu_override_steps = 0;
  o.ops.clip = true;
  // M&V's optimiser: gradient descent with momentum 0.9 and a decreasing learning rate. The gradient
  // is divided by its mean |g| (so the step does not depend on the layer's or the network's scale)
  // and the step falls linearly from lr to lr * step_end over the steps.
  o.optimizer = OptimizerKind::sgd;
  o.sgd.momentum = float(invert_defaults::momentum);
  o.ops.grad_norm = GradNorm::mean_abs;
  o.ops.step_scale_end = float(invert_defaults::step_end);
  // The step is in the parameters' units, the network input's: lr in [0, 1] image units times the
  // preprocessing's mean |scale| (255 for Caffe's x255 input, about 4.4 for torchvision's).
  const Preprocess pre = Preprocess::from_meta(net.graph().meta);
  const double scale = (std::fabs(pre.scale[0]) + std::fabs(pre.scale[1]) + std::fabs(pre.scale[2])) / 3.0;
  o.sgd.lr = float(s.lr_or_default() * scale);
  return o;
}

InvertResult invert(const Network& net, const InvertSettings& s, const Tensor& target,
                    const std::function<void(const RenderProgress&)>& progress) {
  check_settings(s);
  const OwnedTensor t = cpu_copy(target);
  const RenderOptions o = invert_options(s, net);
  const Objective objective = invert_objective(s, t);
  const RenderResult r = render(net, {objective}, o, progress);
  InvertResult result;
  result.image = OwnedTensor(r.images.shape());
  copy(r.images, result.image);
  result.png = tensor_to_image(result.image, 0);
  // The error of what is written: the 8-bit image, read back and preprocessed as classify does.
  const OwnedTensor x = input_from_image(image_to_tensor(result.png), net.graph().meta);
  result.relative_error = relative_feature_error(net, s.layer, x, t);
  result.objective = r.objective.empty() ? 0.0 : r.objective[0];
  result.objective_text = objective.str();
  result.history_steps = r.history_steps;
  for (const auto& h : r.history) result.history.push_back(h.empty() ? 0.0 : h[0]);
  result.seconds = r.seconds + r.setup_seconds;
  return result;
}

InvertResult invert_photo(const Network& net, const InvertSettings& s, const std::string& photo_path,
                          const std::function<void(const RenderProgress&)>& progress) {
  check_settings(s);
  const OwnedTensor x0 = load_network_input(photo_path, net.graph().meta, 1, s.size);
  const OwnedTensor target = layer_features(net, s.layer, x0);
  return invert(net, s, target, progress);
}

}  // namespace cuviz
