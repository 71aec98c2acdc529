// Drivers around the render loop (docs/visualization.md, "The method layer"): octaves, as
// google/deepdream runs them, and tiles, as the TF DeepDream tutorial computes the gradient of an
// image larger than the network comfortably takes. Neither is a second loop: an octave is a
// Renderer (the one loop, with its image source and step ops) at that octave's size, and a tile is
// an Attributor pass (viz/attribution.h).
//
// A schedule (render_schedule, deepdraw): octaves of given sizes, each with its own objectives,
// steps and step ops, each starting from the previous result resized; no detail image.
//
// Octaves: base_0 = the full-size network input, base_k = resize(base_{k-1}, 1/scale); from the
// smallest octave up, the loop starts from base_k + resize(detail), runs `steps` steps, and
// detail = result - base_k is carried up. The result is the last octave's network input.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "nn/network.h"
#include "viz/attribution.h"
#include "viz/render.h"

namespace cuviz {

struct OctaveSpec {
  int octaves = 4;     // google/deepdream's octave_n
  float scale = 1.4f;  // octave_scale
  int steps = 10;      // iter_n: loop steps per octave
};

// The octave sizes of one side, largest (the base's) first: s_k = round(s_{k-1} / scale), as
// scipy's zoom sizes its output. Error when one falls below the render's minimum of 8 px.
std::vector<int> octave_sizes(int size, const OctaveSpec& spec);

// Bilinear resize of a CPU tensor {N, C, H, W} to h x w with half-pixel centres, antialiased when
// it shrinks (resize_forward, viz/method_ops.h: torch's interpolate(bilinear, align_corners=False,
// antialias=True); growing, that is plain bilinear with the edges clamped). Same size: a copy.
// The octave bases shrink through it, so a smaller octave is a low-passed, not an aliased, image.
OwnedTensor resize_tensor(const Tensor& t, int h, int w);

struct OctaveResult {
  OwnedTensor input;   // CPU {N, 3, H, W}: the final network input (base + detail)
  OwnedTensor images;  // CPU {N, 3, H, W}: the [0, 1] image it stands for
  std::vector<int> sizes;                     // per octave run, smallest first (heights)
  std::vector<int> widths;                    // per octave run, smallest first
  std::vector<std::vector<double>> objective_start;  // per octave run: per image, at its start image
  std::vector<std::vector<double>> objective;  // per octave run: per image, final, untransformed
};

// Runs the octaves of `base` (the full-size network input, CPU {N, 3, H, W} or {1, 3, H, W} for
// every image; H and W each shrink by `scale` per octave) with `options` (param input: the detail
// lives in the network's input space; options.size, .height, .width and .steps are set per octave,
// ops.roll is capped below the octave's smaller side, .source is replaced by each octave's start,
// and options.tile makes an octave larger than a tile run its gradient tile by tile).
// `progress` is handed to each octave's loop.
OctaveResult render_octaves(const Network& net, const std::vector<Objective>& per_image, const RenderOptions& options,
                            const Tensor& base, const OctaveSpec& spec,
                            const std::function<void(const RenderProgress&)>& progress = {});

// One octave of a per-octave schedule (deepdraw; viz/class_model.h): the loop at this size with
// its own objectives, steps, step ops (blur and step-size schedules, crop) and SGD learning rate.
struct ScheduledOctave {
  int height = 0, width = 0;
  int steps = 0;
  std::vector<Objective> objectives;  // per image, or one for every image
  StepOps ops;
  float lr = 0.f;  // options.sgd.lr for this octave
};

// Runs `octaves` in order, each a Renderer (the one loop) at its size: octave 0 starts from `start`
// (a CPU network input {N, 3, H, W} of octave 0's size), each later one from the previous result
// resized to its size (resize_tensor), with no detail image (deepdraw rescales the whole image).
// `options` gives everything the octaves share (param input, SGD, seed, device); size, steps, ops,
// lr and source are set per octave. Per-octave objectives must suit the network (render's checks).
OctaveResult render_schedule(const Network& net, const RenderOptions& options, const Tensor& start,
                             const std::vector<ScheduledOctave>& octaves,
                             const std::function<void(const RenderProgress&)>& progress = {});

// The gradient of an image larger than a tile, tile by tile (TF DeepDream tutorial's
// calc_tiled_gradients): the image is rolled by a random shift (so tile seams move every step),
// cut into ceil(H / tile) x ceil(W / tile) tiles of equal size (within a pixel, so no sliver of a
// tile is left at an edge), each tile's objective gradient computed by an Attributor (one per tile
// shape, at most four, planned once), weighted by the tile's share of the image's area (so the
// tiled objective is the area-weighted mean of the tiles' objectives, the whole image's for a
// spatial mean such as deepdream(L) up to the tiles' borders), and the result rolled back. Single
// images {1, 3, H, W}, CPU in and out; the network may be on any device.
class TiledGradient {
 public:
  TiledGradient(const Network& net, const Objective& objective, int tile);
  // d(sum over tiles t of w_t objective(tile t)) / dx, w_t = area_t / area, at the roll drawn from
  // (seed, step), |shift| <= min(tile / 2, min(H, W) - 1).
  OwnedTensor gradient(const Tensor& x, uint64_t seed, uint64_t step);
  // The tiled objective sum_t w_t objective(tile t) of the last gradient() call.
  double objective() const { return objective_value_; }
  // The tiled objective at x without a roll: forward only.
  double value(const Tensor& x);
  int tile() const { return tile_; }

 private:
  Attributor& attributor(int h, int w);
  const Network& net_;
  Objective objective_;
  int tile_;
  double objective_value_ = 0;
  std::vector<std::unique_ptr<Attributor>> attributors_;
};

}  // namespace cuviz
