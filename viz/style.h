// Style transfer (Gatys, Ecker & Bethge 2015, "A Neural Algorithm of Artistic Style";
// jcjohnson/neural-style's defaults; METHODS.md section 6) as a configuration of the one render
// loop (docs/visualization.md, "Style transfer"). The image x (the network input itself: param
// input, no transforms) minimises
//   L(x) = content_weight * content(Lc)                   MSE of the features at the content layer
//                                                         against the content photo's
//        + style_weight * sum_l w_l * style(L_l)          MSE between Gram matrices G = F F^T/(C H W)
//                                                         and the style images' blended Gram matrix
//        + tv_weight * s^2 * tv2                          squared total variation (neural-style's TVLoss)
// (viz/term_style.h, kernels/gram.h), i.e. the loop maximises -L. tv2 is measured on the [0, 1]
// image and s is the model's input scale (network-input units per image unit, 255 for the Caffe
// models), so tv_weight acts on the network input's units as neural-style's does on Caffe VGG's.
// Optimizer: L-BFGS (optim/lbfgs.h; neural-style's: history 100, fixed step 1, or a strong-Wolfe
// line search) or Adam (lr 10 in Caffe units, neural-style's -optimizer adam, scaled by s/255
// for other preprocessings). Start: noise (neural-style's randn * 0.001 Caffe units around the
// dataset mean), the content photo, or another image. Multiscale: the sizes in turn, each
// starting from the previous result resized. Original colours: the result's luminance with the
// content photo's chrominance (YUV, neural-style's -original_colors).
//
// Layers: neural-style's for VGG (content relu4_2; style relu1_1, relu2_1, relu3_1, relu4_1,
// relu5_1), and for GoogLeNet (Lucid's style-transfer notebook on InceptionV1, in Caffe names):
// content inception_3b/output (mixed3b); style conv2/3x3 (conv2d2), inception_3a/output,
// inception_4a/output, inception_4b/output, inception_4c/output (mixed3a, mixed4a..4c) with
// per-layer weights 2, 2, 200, 100, 100 (which balance the layers' Gram magnitudes; style.cpp).
// Other models need --content-layer and --style-layers.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "io/image.h"
#include "kernels/gram.h"
#include "nn/network.h"
#include "viz/render.h"
#include "viz/settings.h"

namespace cuviz {

// `cuviz style`: every setting of a style transfer, declared once (viz/settings.h).
struct StyleSettings {
  std::string content_layer;        // "" = the model's default (above)
  std::string style_layers;         // comma-separated; "" = the model's default
  std::string style_layer_weights;  // w_l, comma-separated, one per style layer; "" = the model's (VGG: 1 each)
  std::string style_blend;          // one weight per style image (normalised to sum 1); "" = equal
  double content_weight = 5;        // neural-style's defaults
  double style_weight = 100;
  double tv_weight = 1e-3;
  std::string gram_norm = "chw";    // kernels/gram.h: chw (neural-style) or gatys
  std::string optimizer = "lbfgs";
  std::string line_search = "fixed";  // lbfgs: neural-style's fixed step, or strong_wolfe
  int history = 100;                // lbfgs correction pairs
  double lr = 10;                   // adam, in Caffe (0..255) units
  int iters = 1000;                 // per scale
  int size = 512;                   // the output's longer side
  double style_scale = 1.0;         // style images resized to style_scale * size (longer side)
  // neural-style starts from noise (-init random); cuviz starts from the content photo by default: on
  // GoogLeNet at 256 px a noise start leaves the cat faint (docs/visualization.md, "Style transfer").
  std::string init = "content";     // noise, content, or an image file
  bool original_colors = false;
  std::string multiscale;           // sizes, comma-separated and increasing; "" = size alone
  uint64_t seed = settings_defaults::seed;
  int save_every = 0;               // write the image every K iterations (0: never)
  int progress_every = 10;

  template <class S, class V>
  static void fields(S& s, V&& v) {
    v(Field{.key = "content_layer", .flag = "--content-layer",
            .help = "Content layer (default: relu4_2 on VGG, inception_3b/output on GoogLeNet)", .value = s.content_layer});
    v(Field{.key = "style_layers", .flag = "--style-layers",
            .help = "Style layers, comma-separated (default: relu1_1,...,relu5_1 on VGG; conv2/3x3,inception_3a/output,"
                    "inception_4a/output,inception_4b/output,inception_4c/output on GoogLeNet)",
            .value = s.style_layers});
    v(Field{.key = "style_layer_weights", .flag = "--style-layer-weights",
            .help = "Weight of each style layer, comma-separated (default: 1 each; GoogLeNet's defaults 2,2,200,100,100)",
            .value = s.style_layer_weights});
    v(Field{.key = "style_blend", .flag = "--style-blend",
            .help = "Weight of each style image, comma-separated (normalised to sum 1; default: equal)",
            .value = s.style_blend});
    v(Field{.key = "content_weight", .flag = "--content-weight", .help = "Content loss weight", .value = s.content_weight,
            .check = Range{0, 1e12}});
    v(Field{.key = "style_weight", .flag = "--style-weight", .help = "Style loss weight", .value = s.style_weight,
            .check = Range{0, 1e12}});
    v(Field{.key = "tv_weight", .flag = "--tv-weight", .help = "Total-variation weight (network-input units)",
            .value = s.tv_weight, .check = Range{0, 1e12}});
    v(Field{.key = "gram_norm", .flag = "--gram-norm",
            .help = "Gram normalisation: chw (G / (C*H*W), MSE: neural-style) or gatys (raw G, 1/(4 C^2 M^2))",
            .value = s.gram_norm, .check = OneOf{{"chw", "gatys"}}});
    v(Field{.key = "optimizer", .flag = "--optimizer", .help = "lbfgs or adam", .value = s.optimizer,
            .check = OneOf{{"lbfgs", "adam"}}});
    v(Field{.key = "line_search", .flag = "--line-search",
            .help = "L-BFGS step: fixed (neural-style) or strong_wolfe", .value = s.line_search,
            .check = OneOf{{"fixed", "strong_wolfe"}}});
    v(Field{.key = "history", .flag = "--history", .help = "L-BFGS correction pairs", .value = s.history,
            .check = Range{1, 1000}});
    v(Field{.key = "lr", .flag = "--lr", .help = "Adam's learning rate (Caffe 0..255 units)", .value = s.lr,
            .check = Positive{}});
    v(Field{.key = "iters", .flag = "--iters", .help = "Iterations (per scale)", .value = s.iters,
            .check = Range{1, 1000000}});
    v(Field{.key = "size", .flag = "--size", .help = "Output size: the longer side, px", .value = s.size,
            .check = Range{16, 8192}});
    v(Field{.key = "style_scale", .flag = "--style-scale", .help = "Style images' size relative to --size",
            .value = s.style_scale, .check = Range{0.01, 16}});
    v(Field{.key = "init", .flag = "--init", .help = "Start image: noise, content, or an image file",
            .value = s.init});
    v(Field{.key = "original_colors", .flag = "", .help = "", .value = s.original_colors});
    v(Field{.key = "multiscale", .flag = "--multiscale",
            .help = "Sizes to run in turn, comma-separated and increasing (e.g. 256,512; the last is the output's)",
            .value = s.multiscale});
    v(Field{.key = "seed", .flag = "--seed", .help = "Seed of the noise start", .value = s.seed});
    v(Field{.key = "save_every", .flag = "--save-every", .help = "Write OUT_<iter>.png every K iterations (0: never)",
            .value = s.save_every, .check = Range{0, 1000000}});
    v(Field{.key = "progress_every", .flag = "", .help = "", .value = s.progress_every, .check = Range{1, 1000000}});
  }
};

// The layers and their weights a run uses.
struct StyleLayers {
  std::string content;
  std::vector<std::string> style;
  std::vector<double> style_weights;  // one per style layer
};

// The layers for `graph` under `s` (defaults by model, checked against the graph: an unknown
// layer is one Error naming it and suggesting near names).
StyleLayers style_layers(const Graph& graph, const StyleSettings& s);
// The sizes to run: multiscale's list, or {size} (Error for an empty, non-increasing or bad list).
std::vector<int> style_scales(const StyleSettings& s);
// The blend weights for `n` style images, normalised to sum 1 (Error for the wrong count).
std::vector<double> style_blend(const StyleSettings& s, int n);

// One point of the loss curve: weighted losses (their sum is L) at an iteration.
struct StyleLossPoint {
  int scale = 0;             // index into the scales
  int iteration = 0;         // within the scale
  int64_t evaluations = 0;   // network evaluations (forward + backward) so far, all scales
  double content = 0, style = 0, tv = 0, total = 0;
};

struct StyleScaleRun {
  int height = 0, width = 0;
  int iterations = 0;        // run (L-BFGS may stop early)
  int64_t evaluations = 0;
  std::string stop;          // why the scale ended: "steps" or L-BFGS's reason
  double seconds = 0;       // the scale: captures, planning and the loop
  double loop_seconds = 0;  // the loop's iterations only
};

struct StyleResult {
  OwnedTensor image;         // CPU {1, 3, H, W} in [0, 1] (original colours applied when asked)
  StyleLayers layers;
  std::vector<int> scales;
  std::vector<StyleScaleRun> runs;
  std::vector<StyleLossPoint> curve;  // every progress_every iterations and at each scale's end
  StyleLossPoint start_losses;        // of the start image (first scale, iteration 0)
  StyleLossPoint final_losses;        // of the output image (last scale), evaluated afresh
  // mean(P^2) of the content target at the last scale: content / content_weight / this is the
  // squared relative feature distance ||F - P||^2 / ||P||^2 of the output.
  double content_mean_square = 0;
  double seconds = 0;
};

struct StyleProgress {
  int scale = 0, scales = 0;
  int iteration = 0, iterations = 0;  // within the scale
  StyleLossPoint losses;
  double seconds = 0;
  const Tensor* image = nullptr;      // at save_every iterations: the current image {1, 3, H, W}
};

// Style transfer of the photo `content` (any size and aspect; the output has its aspect, longer
// side `size`) in the style of `styles` (any sizes and aspects: each is resized to longer side
// style_scale * size, so a style image of another shape works); `init_image` when init names a
// file (resized to the output's size). Error for settings out of range, unknown layers, a blend
// of the wrong count, non-finite losses.
StyleResult style_transfer(const Network& net, const StyleSettings& s, const Image& content,
                           const std::vector<Image>& styles, const Image* init_image = nullptr,
                           const std::function<void(const StyleProgress&)>& progress = {});

// The output size for a content image of h x w at longer side `size` (aspect kept, >= 1 px).
void style_size(int h, int w, int size, int& out_h, int& out_w);
// neural-style's -original_colors: the luminance Y of `generated` with the U, V of `content`
// (same size; both [0, 1] RGB, CPU {1, 3, H, W}), clamped to [0, 1].
OwnedTensor original_colors(const Tensor& generated, const Tensor& content);

}  // namespace cuviz
