// Checks of attribution maps that neither Captum nor zennit ships as one command
// (docs/attribution.md, "Sanity checks" and "Faithfulness"):
//  - Adebayo et al. 2018, "Sanity checks for saliency maps": the cascading model-randomisation
//    test. Re-initialise the network's blocks from the top (the classifier) down, one more per
//    step, recompute the map, and compare it with the original one by Spearman rank correlation
//    and SSIM. A map that stays similar while the weights that define the class are random does
//    not explain the model.
//  - Petsiuk et al. 2018 (RISE), deletion and insertion: remove the pixels the map ranks first
//    (deletion: the probability should fall fast, low AUC is good) or insert them into a blurred
//    copy (insertion: it should rise fast, high AUC is good).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/network.h"
#include "viz/attribute_methods.h"

namespace cuviz {

// The heat map of pair i as one value per input pixel (H x W, row-major): raw reduced over colour
// as `display` says (abs_max: max |raw|; signed_sum / positive: sum), a layer map (Grad-CAM)
// upsampled bilinearly (half-pixel centres) to H x W.
std::vector<float> display_map(const AttributionMap& r, AttributionDisplay display, int i, int H, int W);

// Spearman's rank correlation (average ranks for ties; 0 when either is constant).
double spearman(const std::vector<float>& a, const std::vector<float>& b);
// SSIM (Wang et al. 2004: 7 x 7 uniform window as skimage's default, K1 0.01, K2 0.03, data range
// 1) of two H x W maps, each first scaled to [0, 1] by its own max |value| (as Adebayo et al.
// compare normalised absolute maps).
double ssim(const std::vector<float>& a, const std::vector<float>& b, int H, int W);

// ---- cascading randomisation --------------------------------------------------------------------

// The network's blocks from the top down: layers with weights grouped by the name before the first
// '/' (GoogLeNet: loss3, inception_5b, ..., inception_3a, conv2, conv1), the order they last appear.
std::vector<std::string> cascade_blocks(const Graph& g);
// Re-initialises every weighted layer of `block` in `net` (on its device): weights ~ N(0, s^2)
// with s the original weights' standard deviation (the scale of the layer's init), biases 0.
void randomize_block(Network& net, const std::string& block, uint64_t seed);

struct SanityStep {
  std::string block;         // the block randomised at this step (and every one above it)
  double spearman = 0, ssim = 0;
  std::vector<float> map;    // the display map, H x W
};

// Adebayo's cascade for one method on pair (x: {1, 3, H, W}, target): `randomized` is a second
// copy of the network (its weights are overwritten, block by block). `original` is the method's
// display map on the trained network. progress(fraction) after each step.
std::vector<SanityStep> cascading_randomization(Network& randomized, const AttributionMethod& method, const Tensor& x,
                                                int target, const AttributionSettings& s,
                                                const std::vector<float>& original, uint64_t seed,
                                                const std::function<void(double)>& progress = {});

// ---- deletion and insertion ---------------------------------------------------------------------

struct Faithfulness {
  double deletion_auc = 0, insertion_auc = 0;
  std::vector<double> deletion, insertion;  // softmax probability of the target after each step (steps + 1)
};

// Petsiuk's deletion and insertion for pair (x: {1, 3, H, W}, target), ranking pixels by `map`
// (H x W, largest first): `steps` equal steps of H*W/steps pixels; deletion sets them to the zero
// input (the mean colour), insertion copies them into the input blurred with sigma W/20 (the IG
// blur baseline). The score is the softmax probability of the target (as Petsiuk); AUC by the
// trapezoid rule over the fraction of pixels in [0, 1].
Faithfulness deletion_insertion(const Network& net, const Tensor& x, int target, const std::vector<float>& map,
                                int steps = 32, int batch = 8);

}  // namespace cuviz
