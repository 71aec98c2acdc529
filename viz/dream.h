// DeepDream (Mordvintsev 2015; google/deepdream's notebook; METHODS.md section 3) as a
// configuration of the one render loop (docs/visualization.md, "DeepDream"): param input started
// from the photo, objective deepdream(L) (the mean of the layer's squared activations, google's
// L2 objective up to a constant the gradient normalisation divides out), no transforms, a random
// roll of up to `jitter` px, the gradient divided by its mean |g|, SGD with lr `step` and no
// momentum, a clip to the valid pixel range, through render_octaves (viz/octaves.h: octaves with
// the detail carried up) and, for octaves larger than `tile`, the loop's tiled gradient stage.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "nn/network.h"
#include "viz/render.h"
#include "viz/settings.h"

namespace cuviz {

// `cuviz dream`: every setting of a dream, declared once (viz/settings.h).
struct DreamSettings {
  std::string layer = "inception_4c/output";
  std::string objective;  // "" = deepdream(layer)
  std::string guide;      // "" = none; else a photo whose features at `layer` the dream matches
  int octaves = 4;        // google/deepdream's octave_n
  double octave_scale = 1.4;
  int iters = 10;         // iter_n, per octave
  double step = 1.5;      // step_size
  int jitter = 32;
  int tile = 512;
  uint64_t seed = settings_defaults::seed;

  template <class S, class V>
  static void fields(S& s, V&& v) {
    v(Field{.key = "layer", .flag = "--layer", .help = "Layer whose L2 objective deepdream(L) is maximised",
            .value = s.layer});
    v(Field{.key = "objective", .flag = "--objective",
            .help = "Another objective expression instead of deepdream(LAYER), e.g. 'inception_4c/output:10'",
            .value = s.objective});
    v(Field{.key = "guide", .flag = "--guide",
            .help = "Guided dream (google/deepdream's objective_guide): match this image's features at --layer "
                    "instead of deepdream(LAYER); the guide is used at its own size (keep it small, e.g. 224 px)",
            .value = s.guide, .absent = std::string()});
    v(Field{.key = "octaves", .flag = "--octaves", .help = "Octaves (google/deepdream's octave_n)", .value = s.octaves,
            .check = Range{1, 32}});
    v(Field{.key = "octave_scale", .flag = "--octave-scale", .help = "Size ratio between octaves",
            .value = s.octave_scale, .check = Range{1.01, 16}});
    v(Field{.key = "iters", .flag = "--iters", .help = "Steps per octave (iter_n)", .value = s.iters,
            .check = Range{1, 100000}});
    v(Field{.key = "step", .flag = "--step", .help = "Step size (SGD on the gradient divided by its mean |g|)",
            .value = s.step, .check = Positive{}});
    v(Field{.key = "jitter", .flag = "--jitter", .help = "Random roll of up to this many px per step",
            .value = s.jitter, .check = Range{0, 4096}});
    v(Field{.key = "tile", .flag = "--tile",
            .help = "Octaves larger than this many px in either side are processed in tiles (memory bounded by the "
                    "tile; at least the layer's receptive field)",
            .value = s.tile, .check = Range{8, 16384}});
    v(Field{.key = "seed", .flag = "--seed", .help = "Seed of the roll draws", .value = s.seed});
  }

  // The objective text: `objective`, deepdream(layer), or for a guided dream guide(layer,[GUIDE])
  // (a description: the guide's features are computed by dream(), not parsed).
  std::string objective_text() const {
    if (!guide.empty()) return "guide(" + layer + ",[" + guide + "])";
    return objective.empty() ? "deepdream(" + layer + ")" : objective;
  }
};

// The receptive field, in input pixels, of one unit of `blob`: the largest over every path from
// the input (kernel extents times the jump of strides before them; a global pool: the input size).
int receptive_field(const Graph& graph, const std::string& blob);

struct DreamOctave {
  int height = 0, width = 0;
  bool tiled = false;
  double objective_start = 0, objective_end = 0;  // the objective at the octave's start and end image
};

struct DreamResult {
  OwnedTensor image;  // CPU {1, 3, H, W} in [0, 1], the photo's size
  std::vector<DreamOctave> octaves;  // smallest first
  int receptive_field = 0;
  double seconds = 0;
};

struct DreamProgress {
  int octave = 0, octaves = 0;  // 0-based octave being run, of
  int step = 0, steps = 0;      // steps done in it, of
  double objective = 0;         // at this step's (rolled) image
  double seconds = 0;           // since the dream started
};

// The render loop's options of a dream's settings on `device` (size and source are set per octave).
RenderOptions dream_options(const DreamSettings& s, Device device);

// The objective of a dream: parse_objective(objective_text()), or with a guide, guide(layer, the
// guide photo's features at layer, computed once at the guide's own size).
Objective dream_objective(const Network& net, const DreamSettings& s);

// Dreams on `image` (CPU {1, 3, H, W} in [0, 1], any size): Error for settings out of range, an
// objective the network lacks, a guide that cannot be read, a tile smaller than the objective
// layers' receptive field, or an image too small for the octaves.
DreamResult dream(const Network& net, const DreamSettings& s, const Tensor& image,
                  const std::function<void(const DreamProgress&)>& progress = {});

}  // namespace cuviz
