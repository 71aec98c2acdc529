// Attribution methods (METHODS.md section 7; docs/attribution.md): which pixels of an input
// decide a class score. Every method is one entry point, batched over images and targets:
//   x: {N, 3, H, W} network inputs (preprocessed, CPU), targets: N class indices (pair i is
//   image i of x with class targets[i]; attribute one image to two classes by repeating it),
// and returns a signed, unnormalised map (AttributionMap::raw) before any absolute value, colour
// max or normalisation: {N, 3, H, W} for the pixel methods, {N, 1, h, w} at the layer's resolution
// for Grad-CAM. The score S_c is the pre-softmax logit z_c (Simonyan, Captum on logits) unless
// AttributionSettings::softmax, then the probability p_c.
//
// Every gradient comes from the Attributor (viz/attribution.h) on the network's device, so the
// methods run on the CPU and on CUDA by one code path; the points they differentiate at (noisy
// copies, the integration path, occluded copies) are made on the host and batched.
//
// The methods form a table (attribution_methods()): name -> entry point, how the command shows
// the map, whether it is deterministic. LRP (viz/lrp.h) plugs in as one more entry.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/network.h"
#include "viz/objective.h"
#include "viz/settings.h"

namespace cuviz {

struct AttributionSettings {
  // SmoothGrad, SmoothGrad^2, VarGrad: n noisy copies x + e, e ~ N(0, sigma^2) per element, with
  // sigma = noise * (max x - min x) over the image (Smilkov et al. 2017: 10-20% of the range).
  int samples = 25;
  double noise = 0.15;
  uint64_t seed = 0;
  // Integrated gradients: steps and quadrature (Captum's names: gausslegendre, riemann_left,
  // riemann_right, riemann_middle, riemann_trapezoid), and the baseline x':
  //   zero  - the zero network input (the dataset mean colour after mean subtraction; Captum's default)
  //   black - the network input of a black image
  //   blur  - x blurred by a Gaussian of sigma = W / 20 pixels (Sturmfels et al. 2020)
  int steps = 50;
  std::string ig_method = "gausslegendre";
  std::string baseline = "zero";
  // Grad-CAM and guided Grad-CAM: the blob (any spatial layer); "" = the last blob with more than
  // one position before the classifier (GoogLeNet: inception_5b/output, 7 x 7).
  std::string layer;
  // Occlusion (Zeiler & Fergus 2014): square patches of the zero input, `patch` pixels, `stride` apart.
  int patch = 16, stride = 8;
  // LRP: the composite (viz/lrp.h).
  std::string rule = "epsilon_plus";
  // Score the softmax probability instead of the logit.
  bool softmax = false;
  // Inputs per forward/backward batch (memory vs speed; results do not depend on it).
  int batch = 8;

  template <class S, class V>
  static void fields(S& s, V&& v) {
    v(Field{.key = "samples", .flag = "--samples", .help = "SmoothGrad, SmoothGrad^2, VarGrad: noisy copies",
            .value = s.samples, .check = Range{1, 100000}});
    v(Field{.key = "noise", .flag = "--noise",
            .help = "SmoothGrad family: noise sigma as a fraction of the input's range (max - min)", .value = s.noise,
            .check = Range{0, 10}});
    v(Field{.key = "seed", .flag = "--seed", .help = "Seed of the SmoothGrad noise", .value = s.seed});
    v(Field{.key = "steps", .flag = "--steps", .help = "Integrated gradients: quadrature points", .value = s.steps,
            .check = Range{1, 100000}});
    v(Field{.key = "ig_method", .flag = "--ig-method", .help = "Integrated gradients: quadrature (Captum's names)",
            .value = s.ig_method,
            .check = OneOf{{"gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid"}}});
    v(Field{.key = "baseline", .flag = "--baseline",
            .help = "Integrated gradients: baseline (zero input, black image, or the input blurred)",
            .value = s.baseline, .check = OneOf{{"zero", "black", "blur"}}});
    v(Field{.key = "layer", .flag = "--layer",
            .help = "Grad-CAM layer (blob); default: the last spatial blob before the classifier", .value = s.layer});
    v(Field{.key = "patch", .flag = "--patch", .help = "Occlusion: patch side in pixels", .value = s.patch,
            .check = Range{1, 4096}});
    v(Field{.key = "stride", .flag = "--stride", .help = "Occlusion: patch stride in pixels", .value = s.stride,
            .check = Range{1, 4096}});
    v(Field{.key = "rule", .flag = "--rule", .help = "LRP composite", .value = s.rule});
    v(Field{.key = "batch", .flag = "--batch", .help = "Inputs per forward/backward batch (speed vs memory only)",
            .value = s.batch, .check = Range{1, 4096}});
  }
};

// A method's result for N (image, target) pairs.
struct AttributionMap {
  OwnedTensor raw;                  // {N, 3, H, W} signed (pixel methods) or {N, 1, h, w} (Grad-CAM)
  std::vector<double> score;        // S_c(x_i), the target's score at the input
  // Integrated gradients only (else empty): S_c(x'), and the completeness error
  // sum(raw_i) - (S_c(x_i) - S_c(x'_i)) (zero for the exact integral; the quadrature's error).
  std::vector<double> baseline_score, completeness_error;
  std::string layer;                // Grad-CAM: the layer used
};

// How the command turns a raw map into one heat map value per pixel (apps/attribute.cpp).
enum class AttributionDisplay {
  abs_max,     // max over colour of |raw| (Simonyan's saliency): gradients, guided backprop, deconvnet
  signed_sum,  // sum over colour, signed (a contribution per pixel): gradient x input, IG, occlusion, LRP
  positive,    // already >= 0 (sum over colour): SmoothGrad^2, VarGrad, Grad-CAM
};

using AttributionProgress = std::function<void(double fraction)>;  // of this method's work
using AttributionFn = std::function<AttributionMap(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                                   const AttributionSettings& s, const AttributionProgress& progress)>;

struct AttributionMethod {
  std::string name;         // --method NAME
  std::string description;  // one line, for --help and the HTML page
  bool deterministic = true;
  AttributionDisplay display = AttributionDisplay::signed_sum;
  AttributionFn run;
};

// ---- the methods --------------------------------------------------------------------------------

// Gradient (Simonyan et al. 2013): raw = dS_c/dx; shown as max_c |dS/dx_c|.
AttributionMap attribute_gradient(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                  const AttributionSettings& s, const AttributionProgress& progress = {});
// Gradient x input (Shrikumar et al. 2016): raw = x * dS_c/dx.
AttributionMap attribute_gradient_x_input(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                          const AttributionSettings& s, const AttributionProgress& progress = {});
// SmoothGrad (Smilkov et al. 2017): raw = (1/n) sum_k g(x + e_k).
AttributionMap attribute_smoothgrad(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                    const AttributionSettings& s, const AttributionProgress& progress = {});
// SmoothGrad^2 (Hooker et al. 2019): raw = (1/n) sum_k g(x + e_k)^2.
AttributionMap attribute_smoothgrad_sq(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                       const AttributionSettings& s, const AttributionProgress& progress = {});
// VarGrad (Adebayo et al. 2018): raw = (1/n) sum_k g(x + e_k)^2 - ((1/n) sum_k g(x + e_k))^2.
AttributionMap attribute_vargrad(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                 const AttributionSettings& s, const AttributionProgress& progress = {});
// Integrated gradients (Sundararajan et al. 2017): raw = (x - x') * sum_k w_k g(x' + a_k (x - x')).
AttributionMap attribute_integrated_gradients(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                              const AttributionSettings& s, const AttributionProgress& progress = {});
// Guided backpropagation (Springenberg et al. 2015): the gradient with guided_relu on every ReLU.
AttributionMap attribute_guided_backprop(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                         const AttributionSettings& s, const AttributionProgress& progress = {});
// Deconvnet (Zeiler & Fergus 2014): the gradient with deconvnet_relu on every ReLU.
AttributionMap attribute_deconvnet(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                   const AttributionSettings& s, const AttributionProgress& progress = {});
// Grad-CAM (Selvaraju et al. 2017): raw = ReLU(sum_k a_k A^k), a_k = mean_{y,x} dS_c/dA^k_{y,x}, {N, 1, h, w}.
AttributionMap attribute_grad_cam(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                  const AttributionSettings& s, const AttributionProgress& progress = {});
// Guided Grad-CAM: guided backprop times Grad-CAM upsampled bilinearly to H x W.
AttributionMap attribute_guided_grad_cam(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                         const AttributionSettings& s, const AttributionProgress& progress = {});
// Occlusion (Zeiler & Fergus 2014, Captum's Occlusion): raw = mean over the patches covering a
// pixel of S_c(x) - S_c(x with the patch set to 0), the same in every channel.
AttributionMap attribute_occlusion(const Network& net, const Tensor& x, const std::vector<int>& targets,
                                   const AttributionSettings& s, const AttributionProgress& progress = {});

// ---- the table ----------------------------------------------------------------------------------

// Every method, in the order `--method all` runs and shows them.
const std::vector<AttributionMethod>& attribution_methods();
// The entry named `name`, or nullptr.
const AttributionMethod* find_attribution_method(const std::string& name);
// The LRP composites `--rule` takes (viz/lrp.h lrp_composites()).
std::vector<std::string> attribution_rules();

// ---- pieces the methods share (tested on their own) --------------------------------------------

// The objective of target k: the logit z_k, or the softmax probability p_k when `softmax`.
Objective target_objective(const Graph& g, int k, bool softmax);
// The target scores S_{targets[i]}(x_i), forward only, `batch` inputs per forward.
std::vector<double> target_scores(const Network& net, const Tensor& x, const std::vector<int>& targets, bool softmax,
                                  int batch = 8);
// Number of classes of the classifier (the channels of class_logit_layer).
int class_count(const Network& net);
// Captum's quadrature for `method` with n points: alphas in [0, 1] and weights (Gauss-Legendre:
// the Legendre nodes mapped to [0, 1], weights halved; riemann_*: Captum's, whose trapezoid
// weights sum to (n - 1) / n). Throws for an unknown method or n < 2 (n = 1 for gausslegendre works).
void quadrature(const std::string& method, int n, std::vector<double>& alphas, std::vector<double>& weights);
// The IG baseline of each image of x (CPU, x's shape).
OwnedTensor ig_baseline(const Network& net, const Tensor& x, const std::string& baseline);
// Bilinear resize of an h x w map to H x W (torch's interpolate(bilinear, align_corners=False)).
std::vector<float> resize_bilinear(const float* src, int h, int w, int H, int W);
// The Grad-CAM layer: `layer` checked (known blob, spatial: more than one position), or the default.
std::string grad_cam_layer(const Network& net, Shape input, const std::string& layer);

}  // namespace cuviz
