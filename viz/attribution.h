// The method layer's entry point for methods that need gradients, not an optimisation
// (docs/visualization.md, "The method layer"; METHODS.md section 7): saliency, and the batches of
// backward passes SmoothGrad and integrated gradients average. One plan (truncated at the deepest
// blob the objectives read, data gradients only) and one set of buffers serve every call:
//   x -> forward -> objective seeds (viz/objective_eval.h) -> backward_to_input -> d objective_i / d x_i
// exactly the stages of one Renderer step with param input and no transforms, so the input
// gradient equals the one the Renderer computes for the same objective and input (attribution_test).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/network.h"
#include "viz/objective.h"
#include "viz/transform.h"

namespace cuviz {

class ObjectiveEvaluator;

// What an attribution method needs of the backward beyond the plain input gradient.
struct AttributorOptions {
  // Backward rules (nn/backward_rule.h), on for every gradient(): guided backprop, deconvnet, LRP.
  std::vector<std::shared_ptr<const BackwardRule>> rules = {};
  // Blobs whose value and gradient each gradient() keeps (Grad-CAM's layer): computed by the plan,
  // gradient tapped (Network::tapped_grad), read with activation() and layer_gradient().
  std::vector<std::string> layers = {};
};

class Attributor {
 public:
  // per_image: N objectives (i for image i of the input) or one for all; input: {N, 3, H, W}.
  // Checks the objectives against the network (clear errors), plans and allocates once.
  Attributor(const Network& net, const std::vector<Objective>& per_image, Shape input,
             const AttributorOptions& options = {});
  ~Attributor();
  Attributor(const Attributor&) = delete;
  Attributor& operator=(const Attributor&) = delete;

  Shape input_shape() const { return shape_; }
  // d objective_i / d x_i for every image i of `x`, the network input (preprocessed; CPU or the
  // network's device), as a CPU tensor of x's shape. Image terms of an objective (tv, l1, ...)
  // act on the [0, 1] image x stands for, as in a render with param input.
  OwnedTensor gradient(const Tensor& x);
  // The objectives of the last gradient() call, per image (no backward of their own).
  std::vector<double> objectives();
  // The objectives at x: forward only.
  std::vector<double> values(const Tensor& x);
  // For a blob of AttributorOptions::layers, after gradient(): its value at x (read after the
  // forward) and d objective_i / d blob_i (the backward's gradient tap), CPU tensors.
  OwnedTensor activation(const std::string& layer) const;
  OwnedTensor layer_gradient(const std::string& layer) const;

 private:
  void forward(const Tensor& x);
  std::vector<double> unscaled(std::vector<double> v) const;

  const Network& net_;
  Shape shape_;
  std::unique_ptr<ObjectiveEvaluator> eval_;
  Plan plan_;
  Preprocess pre_;
  OwnedTensor x_, image_, dimage_, dx_;  // on the network's device
  std::vector<std::string> layers_;      // AttributorOptions::layers
  std::vector<OwnedTensor> values_, grads_;  // per layer: CPU copies of the last gradient()'s
};

// Saliency (Simonyan 2013): |gradient| maximised over the colour channels, {N, 1, H, W} (CPU).
OwnedTensor saliency(const Tensor& gradient);

// The saliency of `objective` for one photo or .npy network input (viz/image_source.h
// load_network_input at the model's input size): the simplest method built on the Attributor.
OwnedTensor saliency_map(const Network& net, const Objective& objective, const std::string& input_path);

}  // namespace cuviz
