// Intra-class facets (Wei et al. 2015, "Understanding intra-class knowledge inside CNN"; Nguyen et
// al. 2016, "Multifaceted feature visualization"; METHODS.md section 8): one class (or one layer's
// notion of "alike") is made of several kinds of image — a class "bell pepper" has peppers on a
// plate, in a heap, cut in half. Given a folder of images (e.g. of one class):
//
//   1. features   each image, centre-cropped and resized to size x size, is run to the layer L;
//                 its feature is the channel vector averaged over L's positions, phi_i (C values).
//                 For --class the default L is the blob the global average pool before the
//                 classifier reads (GoogLeNet: inception_5b/output, whose average is pool5/7x7_s1
//                 exactly at 224 px; averaging the blob works at any size, the 7x7 pool does not).
//   2. reduce     PCA of the n x C matrix [phi_i] to p components (default min(10, n - 1)), as
//                 Nguyen et al. reduce fc7 codes before clustering (they use t-SNE; PCA here).
//   3. cluster    k-means (k-means++ seeds) of the n x p scores into k facets; facets are numbered
//                 by size, largest first.
//   4. visualize  each facet f with members S_f, mean feature mu_f = mean over S_f of phi_i:
//                 (a) inversion (viz/invert.h, Mahendran & Vedaldi's loss and priors) of mu_f
//                     broadcast over L's positions at the render size;
//                 (b) activation maximization through the one render loop, started from the
//                     facet's mean image (the pixel mean of its members: Nguyen et al. start from
//                     the mean image of a facet's cluster) with the objective
//                        direction(L, mu_f / |mu_f|)                    (--layer)
//                        logit_k + direction(L, mu_f / |mu_f|)          (--class k, at the model's
//                                                                         input size; below it the
//                                                                         logit is not reachable and
//                                                                         only the direction is used)
// The page shows each facet's members (thumbnails), its mean image and both visualizations.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/image.h"
#include "nn/network.h"
#include "viz/factorize.h"
#include "viz/invert.h"
#include "viz/render.h"
#include "viz/settings.h"

namespace cuviz {

// `cuviz facets`: every setting, declared once (viz/settings.h); the activation-maximization
// settings are the shared OptimSettings (size, steps, lr, seed, ...); --steps and --seed also
// drive the inversion. The seed also seeds k-means++.
struct FacetsSettings : OptimSettings {
  std::string class_name;  // an index or a label name; "" = none (then layer is required)
  std::string layer;       // "" = the classifier's feature layer (default_facet_layer)
  int k = 4;
  int components = 0;      // PCA components; 0 = min(10, images - 1)

  template <class S, class V>
  static void fields(S& s, V&& v) {
    v(Field{.key = "class", .flag = "--class",
            .help = "Class (index or label name) the folder shows: the layer defaults to the classifier's features "
                    "and the logit joins the objective",
            .value = s.class_name});
    v(Field{.key = "layer", .flag = "--layer",
            .help = "Layer whose spatially averaged activations are clustered (default with --class: the blob the "
                    "pool before the classifier reads)",
            .value = s.layer});
    v(Field{.key = "k", .flag = "--k", .help = "Number of facets (k-means clusters)", .value = s.k,
            .check = Range{1, 1000}});
    v(Field{.key = "components", .flag = "--components",
            .help = "PCA components kept before k-means (0: min(10, images - 1))", .value = s.components,
            .check = Range{0, 100000}});
    OptimSettings::fields(s, v);
  }
};

// The blob whose spatial average feeds the classifier: the input of the layer producing the
// logit (class_logit_layer), followed back through dropout/flatten layers and through a global
// or whole-map average pool to the blob it averages. Error when the model has no linear classifier.
std::string default_facet_layer(const Graph& graph);

// The images of a folder and their features.
struct FacetImages {
  std::vector<std::string> files;                          // readable images, sorted by name
  std::vector<Image> images;                               // each centre-cropped, size x size
  std::vector<std::pair<std::string, std::string>> skipped;  // (file, why) of unreadable ones
  Matrix features;                                         // images x channels: phi_i
  int layer_height = 0, layer_width = 0;                   // the layer's size at size x size
};

// The PNG/JPEG files of `dir` (by extension, any case; not recursive), sorted by name. Error when
// `dir` is not a directory.
std::vector<std::string> facet_image_files(const std::string& dir);

// Reads each file of facet_image_files(dir) (skipping, with the reason, those that do not decode),
// and computes its feature at `layer` for images of size x size. `progress(done, total)` after each
// file. Errors: no image file in `dir`, none readable, an unknown layer.
FacetImages read_facet_images(const Network& net, const std::string& dir, const std::string& layer, int size,
                              const std::function<void(int, int)>& progress = {});

struct FacetClusters {
  int components = 0;
  PcaResult pca;                 // of the features
  std::vector<int> labels;       // per image: its facet (0 = the largest)
  std::vector<int> sizes;        // per facet
  double inertia = 0;            // k-means objective in PCA space
  int iterations = 0;
};

// PCA to `components` (0: min(10, n - 1)) then k-means with k-means++ seeds; facets renumbered by
// size (largest first; ties by the first member). Error when k > n or n < 2 (naming the counts).
FacetClusters cluster_facets(const Matrix& features, int k, int components, uint64_t seed);

// The mean feature of facet f (channels) and its mean image (size x size).
std::vector<float> facet_mean_feature(const FacetImages& in, const FacetClusters& c, int facet);
Image facet_mean_image(const FacetImages& in, const FacetClusters& c, int facet);

// The inversion settings the facets use (s.layer, size, steps, seed) and the target: the mean
// feature broadcast over the layer's positions, {1, C, h, w}.
InvertSettings facet_invert_settings(const FacetsSettings& s, const std::string& layer);
OwnedTensor broadcast_feature(const std::vector<float>& feature, int height, int width);

// The activation-maximization objective of a facet: direction(layer, mu / |mu|), plus the class
// logit when class_index >= 0 (class_logit("logit", k) + direction).
Objective facet_objective(const std::string& layer, const std::vector<float>& mean_feature, int class_index);

}  // namespace cuviz
