// Neuron groups (Olah et al. 2018, "The Building Blocks of Interpretability"; Lucid's
// ChannelReducer; METHODS.md section 8): the activations of one layer on one photo, a matrix X of
// H*W positions x C channels, factored as X ~ W H with k factors (NMF by default, or PCA: then
// X ~ mean + W H). Row f of H is a direction in channel space (a "group" of channels acting
// together), column f of W says where in the photo that group is active. Each direction is
// rendered by activation maximization with the objective direction(L, H_f) (viz/term_direction.h)
// — all k in one batch of the one render loop, as a sweep renders channels — and shown beside its
// spatial map, colour-coded over the photo as in Building Blocks, and its strongest channels.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/image.h"
#include "nn/network.h"
#include "viz/factorize.h"
#include "viz/render.h"
#include "viz/settings.h"

namespace cuviz {

// `cuviz groups`: every setting, declared once (viz/settings.h); the render settings are the
// shared OptimSettings (size, steps, lr, seed, ...). The seed also seeds NMF's init.
struct GroupsSettings : OptimSettings {
  std::string layer = "inception_4d/output";  // Lucid's mixed4d, Building Blocks' layer
  int k = 6;                                   // Lucid's n_groups
  std::string method = "nmf";
  std::string solver = "hals";
  int iterations = 200;                        // scikit-learn's max_iter
  double tol = 1e-4;                           // scikit-learn's tol
  std::string objective = "direction";

  template <class S, class V>
  static void fields(S& s, V&& v) {
    v(Field{.key = "layer", .flag = "--layer", .help = "Layer (blob) whose activations are factored", .value = s.layer});
    v(Field{.key = "k", .flag = "--k", .help = "Number of factors (neuron groups)", .value = s.k,
            .check = Range{1, 4096}});
    v(Field{.key = "method", .flag = "--method",
            .help = "nmf (non-negative factors, Lucid's default) or pca (principal components)", .value = s.method,
            .check = OneOf{{"nmf", "pca"}}});
    v(Field{.key = "solver", .flag = "--solver",
            .help = "NMF solver: hals (coordinate descent) or mu (multiplicative updates)", .value = s.solver,
            .check = OneOf{{"hals", "mu"}}});
    v(Field{.key = "iterations", .flag = "--iterations", .help = "NMF iteration budget", .value = s.iterations,
            .check = Range{1, 1000000}});
    v(Field{.key = "tol", .flag = "--tol",
            .help = "NMF stops when the error fell by less than tol x the initial error over 10 iterations (0: never)",
            .value = s.tol, .check = Range{0, 1}});
    v(Field{.key = "objective", .flag = "--objective",
            .help = "How each factor is rendered: direction (mean <a, v>) or direction_cossim (mean cosine)",
            .value = s.objective, .check = OneOf{{"direction", "direction_cossim"}}});
    OptimSettings::fields(s, v);
  }
};

// The factorization of one layer's activations on one photo.
struct LayerFactors {
  std::string method;          // "nmf" | "pca"
  int height = 0, width = 0;   // the layer's spatial size: rows of X are positions h * width + w
  Matrix x;                    // positions x channels
  Matrix w, h;                 // positions x k, k x channels
  std::vector<float> mean;     // PCA: the channel means (X ~ mean + W H); NMF: zeros
  double relative_error = 0;   // ||X - (mean + W H)||_F / ||X||_F
  int iterations = 0;          // NMF
  std::vector<double> explained_variance;  // PCA
  double total_variance = 0;               // PCA
};

// The network input of a photo (centre-cropped and resized to the model's input size, as
// classify) and that cropped, resized photo as an image.
struct PhotoInput {
  Image image;
  OwnedTensor input;
};
PhotoInput photo_input(const Network& net, const Image& photo);

// The activations of `layer` (one image) on the network input, as positions x channels, with the
// layer's height and width. Throws naming the layer when it is unknown.
Matrix layer_activations(const Network& net, const Tensor& input, const std::string& layer, int& height, int& width);

// Factors X (positions x channels of a height x width layer) as the settings say. Throws one
// clear error when k exceeds the channels or the positions (NMF: min(n, m); PCA: min(n - 1, m)).
LayerFactors factor_layer(const Matrix& x, int height, int width, const GroupsSettings& s, Device device);

// Factor f's share of the reconstruction: the positions x channels matrix W[:, f] H[f, :]. The k
// shares (plus the mean for PCA) sum to the reconstruction.
Matrix factor_share(const LayerFactors& f, int factor);

// The `count` channels of factor f's direction with the largest weights (by |weight| for PCA),
// strongest first, as (channel, weight).
std::vector<std::pair<int, float>> top_channels(const Matrix& h, int factor, int count);

// The colour (RGB in [0, 1]) of factor f on the page: a fixed palette, then evenly spaced hues.
std::array<float, 3> factor_colour(int factor);

// Factor f's spatial map (W[:, f], positive part, divided by its maximum) upsampled bilinearly
// (pixel centres aligned) to size x size, values in [0, 1].
std::vector<float> factor_map(const LayerFactors& f, int factor, int size);
// The photo (size x size) dimmed, with the map overlaid in the colour: lerp(0.25 photo, colour, map).
Image map_overlay(const Image& photo, const std::vector<float>& map, std::array<float, 3> colour);
// All factors at once, as Building Blocks colours a photo by its groups: each pixel takes the
// maps' weighted mean colour, with opacity its largest map value.
Image groups_overlay(const Image& photo, const LayerFactors& f);

// The render of every factor's direction: one batch of k images with objective
// settings.objective(layer, H_f / |H_f|); RenderResult as render() returns it.
RenderResult render_factors(const Network& net, const LayerFactors& f, const GroupsSettings& s,
                            const std::function<void(const RenderProgress&)>& progress = {});

// Writes the page into `dir` (an existing, empty directory): photo.png, groups.png (all maps),
// maps/factor_<f>.png, renders/factor_<f>.png, groups.json (`info` plus the factors: colour, top
// channels, objective, files) and index.html; with `raw` also W.npy (positions x k) and H.npy
// (k x channels), float32.
void write_groups_page(const std::string& dir, const Image& photo, const LayerFactors& f, const RenderResult& renders,
                       const nlohmann::json& info, bool raw);

}  // namespace cuviz
