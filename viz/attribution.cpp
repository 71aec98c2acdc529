// The Attributor (viz/attribution.h): one forward, the objectives' seeds and one backward to the
// input on a plan made once.
#include "viz/attribution.h"

#include <algorithm>
#include <cmath>

#include "core/nvtx.h"
#include "viz/image_source.h"
#include "viz/method_ops.h"
#include "viz/objective_eval.h"

namespace cuviz {

namespace {

// The evaluator seeds the render's loss L = -(1/N) sum_i objective_i. The Attributor hands it
// -N objective_i instead, so L = sum_i objective_i and the backward carries d objective_i / d(blob)
// itself, with its sign: a backward rule that looks at the sign of dy (guided backprop's
// [dy > 0], the deconvnet's max(dy, 0)) sees the objective's gradient, not the loss's. objective_i
// depends on x_i only (diversity aside), so dL/dx_i = d objective_i / d x_i (exact for N = 1,
// where the factor is -1; otherwise up to the rounding of the slot weight (1/N) * N).
std::vector<Objective> resolved(const std::vector<Objective>& per_image, const Graph& g, int n) {
  std::vector<Objective> out;
  for (const Objective& obj : per_image) out.push_back((-double(n)) * resolve_objective(obj, g));
  return out;
}

}  // namespace

Attributor::Attributor(const Network& net, const std::vector<Objective>& per_image, Shape input,
                       const AttributorOptions& options)
    : net_(net),
      shape_(input),
      eval_(std::make_unique<ObjectiveEvaluator>(resolved(per_image, net.graph(), input.n), input.n)),
      pre_(Preprocess::from_meta(net.graph().meta)) {
  CUVIZ_CHECK(input.n >= 1 && input.c == 3 && input.h > 0 && input.w > 0, "attribution: input ", input.str(),
              " is not a batch of RGB network inputs (N, 3, H, W)");
  const Device d = net.device();
  x_ = OwnedTensor(input, d);
  image_ = OwnedTensor(input, d);
  dimage_ = OwnedTensor(input, d);
  dx_ = OwnedTensor(input, d);
  std::vector<std::string> outputs = eval_->layers();
  if (outputs.empty()) outputs.push_back(net.graph().input);  // image-only objectives
  layers_ = options.layers;
  for (const std::string& l : layers_)
    if (std::find(outputs.begin(), outputs.end(), l) == outputs.end()) outputs.push_back(l);
  plan_ = net.plan(input, outputs,
                   PlanOptions{.backward = true, .backward_rules = options.rules, .grad_taps = layers_});
  for (const std::string& l : layers_) {
    const Shape s = net.activation(plan_, l).shape();
    values_.emplace_back(s);
    grads_.emplace_back(s);
  }
  const ExecScope scope(net_.context_of(plan_));
  eval_->bind(net, plan_, d);
}

Attributor::~Attributor() = default;

std::vector<double> Attributor::unscaled(std::vector<double> v) const {
  for (double& e : v) e /= -double(shape_.n);  // the evaluator holds -N objective_i
  return v;
}

void Attributor::forward(const Tensor& x) {
  CUVIZ_CHECK(x.shape() == shape_, "attribution: input ", x.shape().str(), ", the attributor was planned for ",
              shape_.str());
  copy(x, x_);  // onto the network's device (and dense), whatever x's device
  net_.forward(plan_, x_);
  input_to_image(pre_, x_, image_);  // the [0, 1] image, for image terms
  eval_->compute_values(image_);
}

OwnedTensor Attributor::gradient(const Tensor& x) {
  const ExecScope scope(net_.context_of(plan_));
  CUVIZ_NVTX_RANGE("attribution");
  forward(x);
  for (size_t k = 0; k < layers_.size(); ++k) net_.read_activation(plan_, layers_[k], values_[k]);
  eval_->seed();
  net_.backward_to_input(plan_, dx_);
  fill(dimage_, 0.f);
  eval_->add_image_gradients(image_, dimage_);
  input_to_image_backward_add(pre_, dimage_, dx_);
  // The seeds are those of L = sum_i objective_i (see resolved()): dx is the input gradient.
  OwnedTensor out(shape_);
  copy(dx_, out);
  for (size_t k = 0; k < layers_.size(); ++k) {
    copy(net_.tapped_grad(plan_, layers_[k]), grads_[k]);
  }
  return out;
}

namespace {
size_t layer_slot(const std::vector<std::string>& layers, const std::string& layer) {
  const auto it = std::find(layers.begin(), layers.end(), layer);
  CUVIZ_CHECK(it != layers.end(), "attribution: ", layer, " is not one of the attributor's layers");
  return size_t(it - layers.begin());
}
}  // namespace

OwnedTensor Attributor::activation(const std::string& layer) const {
  const OwnedTensor& v = values_[layer_slot(layers_, layer)];
  OwnedTensor out(v.shape());
  copy(v, out);
  return out;
}

OwnedTensor Attributor::layer_gradient(const std::string& layer) const {
  const OwnedTensor& g = grads_[layer_slot(layers_, layer)];
  OwnedTensor out(g.shape());
  copy(g, out);
  return out;
}

std::vector<double> Attributor::objectives() {
  const ExecScope scope(net_.context_of(plan_));
  return unscaled(eval_->read_objectives());
}

std::vector<double> Attributor::values(const Tensor& x) {
  const ExecScope scope(net_.context_of(plan_));
  forward(x);
  return unscaled(eval_->read_objectives());
}

OwnedTensor saliency(const Tensor& gradient) {
  CUVIZ_CHECK(gradient.device() == Device::cpu && gradient.c() >= 1, "saliency: expects a CPU gradient (N, C, H, W), got ",
              gradient.shape().str());
  OwnedTensor out(Shape{gradient.n(), 1, gradient.h(), gradient.w()});
  for (int n = 0; n < gradient.n(); ++n)
    for (int y = 0; y < gradient.h(); ++y)
      for (int x = 0; x < gradient.w(); ++x) {
        float m = 0.f;
        for (int c = 0; c < gradient.c(); ++c) m = std::max(m, std::abs(gradient.at(n, c, y, x)));
        out.at(n, 0, y, x) = m;
      }
  return out;
}

OwnedTensor saliency_map(const Network& net, const Objective& objective, const std::string& input_path) {
  const ModelMeta& meta = net.graph().meta;
  const OwnedTensor x = load_network_input(input_path, meta, 1, meta.input_size);
  Attributor a(net, {objective}, x.shape());
  return saliency(a.gradient(x));
}

}  // namespace cuviz
