// Feature inversion (Mahendran & Vedaldi, "Understanding deep image representations by inverting
// them", CVPR 2015; METHODS.md section 5) and Lucid's caricatures, as configurations of the one
// render loop (docs/visualization.md, "Feature inversion" and "Caricatures").
//
// Inversion: given target features Phi0 at layer L, find the image x minimising
//   ||Phi(x) - Phi0||^2 / ||Phi0||^2  +  lambda_a R_a(x)  +  lambda_TV R_TV(x)
//   R_a(x)  = sum |x - 1/2|^alpha                               (alpha-norm, alpha = 6)
//   R_TV(x) = sum ((x[y,x+1]-x[y,x])^2 + (x[y+1,x]-x[y,x])^2)^(beta/2)   (TV^beta, beta = 2)
// over the [0, 1] image's pixels and channels. M&V balance the terms by normalising each
// regulariser by the image's size and its typical range: with B the typical deviation of a pixel
// from the mean and V = B / 6.5 the typical difference between neighbours,
//   lambda_a  = alpha_weight / (H W B^alpha),     lambda_TV = tv_weight / (H W V^beta),
// so that a natural image has R terms of order 1 at weight 1 and the weights read as fractions of
// the loss, which is itself normalised by ||Phi0||^2 (their code: B = 80 on the 0..255 scale,
// V = B/6.5; here B = 80/255 on the [0, 1] image). The loop: param input started from
// uniform noise (0.5 +- 0.1, from the seed), no transforms, gradient descent with momentum 0.9 on
// the network input (M&V's optimiser) with the gradient divided by its mean |g| and a step falling
// linearly from `lr` (in [0, 1] image units) to lr / 50, and a clip to the valid pixel range after
// each step (M&V's hard bound on the pixel range), so the PNG is the image optimised.
//
// Caricature (Lucid's feature-inversion/caricature notebook): maximise <Phi(x), Phi0> (dot_compare
// with cossim_pow 0) plus Lucid's blur_input_each_step term, from Lucid's decorrelated Fourier
// parameterisation, 512 Adam steps at lr 0.05 under the notebook's transforms (pad 8, jitter 8,
// scales 0.9 0.95 1.05 1.1 and four 1s, rotations -5..4 degrees and five 0s, jitter 2).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/image.h"
#include "nn/network.h"
#include "viz/render.h"
#include "viz/settings.h"

namespace cuviz {

// Why the defaults are what they are: docs/visualization.md, "Feature inversion" (measured on BVLC
// GoogLeNet at inception_3a/output, 224 px, CPU).
namespace invert_defaults {
inline constexpr double range_b = 80.0 / 255.0;  // M&V's B on the [0, 1] image
inline constexpr double edge_v = range_b / 6.5;   // M&V's V = B / 6.5
inline constexpr double alpha = 6, beta = 2;
// M&V's energy is C ||Phi(x) - Phi0||^2 / ||Phi0||^2 + R_a / (H W B^alpha) + R_TV / (H W V^beta) (their
// code, aravindhm/nnpreimage: x0_sigma B = 80, lambdaAlpha (1/B)^alpha, lambdaBeta (6.5/B)^beta, the
// regularisers averaged over pixels, the loss weight divided by ||Phi0||^2): with the loss at weight
// 1 both prior weights are 1/C. C = 300.
inline constexpr double alpha_weight = 1.0 / 300;
inline constexpr double tv_weight = 1.0 / 300;
inline constexpr int steps = 300;
inline constexpr double lr = 0.005;         // the first step, in [0, 1] image units per unit mean |g|
inline constexpr double momentum = 0.9;
inline constexpr double step_end = 0.02;    // the last step is lr * step_end
inline constexpr int caricature_steps = 512;  // Lucid's notebook
inline constexpr double caricature_lr = 0.05;  // Lucid's render_vis default
}  // namespace invert_defaults

// `cuviz invert`: every setting, declared once (viz/settings.h).
struct InvertSettings {
  std::string layer;
  double alpha = invert_defaults::alpha;
  double alpha_weight = invert_defaults::alpha_weight;
  double tv_beta = invert_defaults::beta;
  double tv_weight = invert_defaults::tv_weight;
  int steps = 0;    // 0: the method's default (inversion 300, caricature 512)
  double lr = 0;    // 0: the method's default (inversion 0.005, caricature 0.05)
  int size = settings_defaults::size;
  uint64_t seed = settings_defaults::seed;
  bool caricature = false;

  template <class S, class V>
  static void fields(S& s, V&& v) {
    v(Field{.key = "layer", .flag = "--layer", .help = "Layer whose features are inverted (e.g. inception_3a/output)",
            .value = s.layer, .required = true});
    v(Field{.key = "alpha", .flag = "--alpha", .help = "Exponent of the alpha-norm prior sum |x - 0.5|^alpha",
            .value = s.alpha, .check = Range{1, 64}});
    v(Field{.key = "alpha_weight", .flag = "--alpha-weight",
            .help = "Weight of the alpha-norm prior, before M&V's normalisation by H W B^alpha", .value = s.alpha_weight,
            .check = Range{0, 1e6}});
    v(Field{.key = "tv_beta", .flag = "--tv-beta", .help = "Exponent beta of the TV^beta prior", .value = s.tv_beta,
            .check = Range{1, 64}});
    v(Field{.key = "tv_weight", .flag = "--tv-weight",
            .help = "Weight of the TV^beta prior, before M&V's normalisation by H W V^beta", .value = s.tv_weight,
            .check = Range{0, 1e6}});
    v(Field{.key = "steps", .flag = "--steps", .help = "Steps (0: 300 for an inversion, 512 for a caricature)",
            .value = s.steps, .check = Range{0, 1000000}});
    v(Field{.key = "lr", .flag = "--lr",
            .help = "Learning rate (0: an inversion's first step, 0.005 in [0, 1] image units per unit mean |g|, falling "
                    "linearly to 1/50 of it; a caricature's Adam rate, Lucid's 0.05)",
            .value = s.lr, .check = Range{0, 1e3}});
    v(Field{.key = "size", .flag = "--size", .help = "Image height and width in pixels (the photo is centre-cropped "
            "and resized to it, as classify does)", .value = s.size, .check = Range{8, 4096}});
    v(Field{.key = "seed", .flag = "--seed", .help = "Seed of the start (and of the caricature's transforms)",
            .value = s.seed});
    // A flag without a value on the command line (apps/invert.cpp adds it), so no generated option.
    v(Field{.key = "caricature", .flag = "",
            .help = "Maximise <Phi(x), Phi(x0)> with Lucid's caricature settings instead of inverting", .value = s.caricature});
  }

  int steps_or_default() const {
    return steps > 0 ? steps : caricature ? invert_defaults::caricature_steps : invert_defaults::steps;
  }
  double lr_or_default() const { return lr > 0 ? lr : caricature ? invert_defaults::caricature_lr : invert_defaults::lr; }
};

// The features of network input `x` (CPU {1, 3, H, W}, preprocessed) at `layer`: CPU {1, C, h, w}.
// Error naming the layer when the network has none of that name.
OwnedTensor layer_features(const Network& net, const std::string& layer, const Tensor& x);

// ||Phi(x) - target|| / ||target|| at `layer` for network input x (CPU {1, 3, H, W}).
double relative_feature_error(const Network& net, const std::string& layer, const Tensor& x, const Tensor& target);

// The objective the loop maximises for these settings and target (the minimised one, negated, for
// an inversion; dot_to + blur for a caricature).
Objective invert_objective(const InvertSettings& s, const Tensor& target);

// The render loop's options for these settings on the network (the lr is converted from [0, 1]
// image units to the network input's).
RenderOptions invert_options(const InvertSettings& s, const Network& net);

struct InvertResult {
  OwnedTensor image;              // CPU {1, 3, S, S} in [0, 1]
  Image png;                      // the image as 8 bits (what `cuviz invert` writes)
  double relative_error = 0;      // ||Phi(png) - Phi0|| / ||Phi0||, measured on png
  double objective = 0;           // final, of the image (before quantisation)
  std::string objective_text;     // the objective maximised, as printed (Objective::str)
  std::vector<int> history_steps;  // the steps at which the objective was read
  std::vector<double> history;    // the objective at those steps
  double seconds = 0;
};

// The one entry point: inverts `target` (CPU {1, C, h, w}: the features at s.layer of an image of
// s.size x s.size, or any tensor of that shape, e.g. a mean feature vector broadcast over space).
// Error for settings out of range, an unknown layer, or a target of the wrong shape.
InvertResult invert(const Network& net, const InvertSettings& s, const Tensor& target,
                    const std::function<void(const RenderProgress&)>& progress = {});

// The convenience: the target is the features of the photo at `photo_path`, centre-cropped and
// resized to s.size and preprocessed as `cuviz classify` does.
InvertResult invert_photo(const Network& net, const InvertSettings& s, const std::string& photo_path,
                          const std::function<void(const RenderProgress&)>& progress = {});

}  // namespace cuviz
