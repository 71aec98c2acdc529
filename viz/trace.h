// The gradient trace (docs/backprop.md, "Following one backward pass"): one forward, the
// objective's seeds and one backward to the input, with every value on the way kept and its
// gradient copied out at the moment it is complete (gradient taps, nn/backward_rule.h), so a
// reader can follow the chain rule from the objective back to the pixels:
//
//   value v (in backward order)   forward: mean, std, fraction of zeros of v
//                                 backward: g_v = d objective / d v, its L2 norm, and the map
//                                           M_v(y, x) = sum_c g_v(c, y, x)
//
// The maps show where the signal goes: a channel objective seeds one channel of its layer (a flat
// map), a 1x1 conv spreads it over the channels of its input, a 3x3 or 5x5 conv spreads it over
// space, a ReLU zeroes it where the forward was negative (the `:pre` value beside each post-ReLU
// value shows the mask), a max pool routes it to each window's winner, a concat splits it between
// the inception branches and a fan-out sums the branches again. The last value is the network
// input; its gradient is the one the Attributor (and a Renderer step with param input and no
// transforms) computes for the same objective and input, image terms included.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/image.h"
#include "nn/network.h"
#include "viz/objective.h"

namespace cuviz {

// One value of the backward pass.
struct TraceStep {
  std::string value;  // the name that resolves to it (docs/network.md, "Names"): blob or blob:pre
  std::string layer;  // the layer that wrote it; "" for the network input
  std::string kind;   // layer_kind_name of that layer; "input" for the network input
  Shape shape;
  // Forward: statistics of the value over all its elements.
  double act_mean = 0, act_std = 0, act_zero_fraction = 0;
  // Backward: g = d objective / d value.
  double grad_norm = 0;           // sqrt(sum g^2)
  double grad_max_abs = 0;        // max |g|
  double grad_nonzero_fraction = 0;
  OwnedTensor grad;               // g itself (CPU, the value's shape)
  OwnedTensor grad_map;           // {1, 1, H, W}: sum over channels of g
  bool trunk = false;             // every path from the objective to the input passes through it
};

struct TraceResult {
  std::vector<TraceStep> steps;  // backward order: the objective's layers first, the input last
  double objective = 0;          // the objective at the input
};

// Traces one backward pass of `objective` through `net` for one network input x {1, 3, H, W}
// (preprocessed; CPU or the network's device). Errors (unknown layer, channel out of range, a
// batch of more than one) are thrown before anything is computed.
TraceResult trace_backward(const Network& net, const Objective& objective, const Tensor& x);

// A map {1, 1, H, W} as an RGB image in a diverging colour map (blue negative, white zero, red
// positive; ColorBrewer RdBu), scaled by the 99th percentile of the map's |values| (larger ones
// clamped to the end colours; the largest |value| when that percentile is zero; all white for a zero map),
// resized to height x width: each output pixel is the mean of the map cells its area overlaps
// (nearest neighbour when enlarging by a whole factor: each cell stays a visible square).
Image diverging_image(const Tensor& map, int height, int width);

// What the page says about where the trace came from (also written to trace.json).
struct TracePageInfo {
  std::string model, objective, input;  // input: the photo's path or "noise(...)"
  int size = 0;
  uint64_t seed = 0;
  std::string device;
};

// Writes the page into `dir`: index.html (one row per step: name, kind, shape, forward statistics,
// gradient norm and picture), grad/NNN.png (the maps, at least 112 px), summary.png (the trunk's
// maps in a row, 64 px each) and trace.json (the settings and every row's numbers). Everything is
// written into a temporary directory beside `dir` and renamed over it at the end, so a failure
// leaves no partial page. An existing `dir` is replaced only when it is empty or an earlier trace
// page (holds trace.json); any other existing path is an error.
void write_trace_page(const std::string& dir, const TraceResult& r, const TracePageInfo& info);

}  // namespace cuviz
