// Evaluation of per-image objectives inside a render step. The expression trees are compiled
// once: every leaf node gets a value SLOT per image (two for channel_interpolate) and hands its
// work to LEAF BATCHES through its term's compile hook (viz/objective_term.h), one batch per kind
// of leaf and blob. A step computes every slot's value on the device, then adds the gradient of
// the LOSS
//   L = -(1/N) sum_i objective_i(image i)
// into the network's activation gradients (seeds) and into d(image) (regularizers). The weight of
// a slot, dL/d(slot), comes from the reverse pass over the tree (the terms' backprop hooks, on
// the host); it is a constant for expressions without objective x objective products, and with
// products it depends on the values, which are then read back once per step. The maths of each
// term is documented in its viz/term_*.h / .cpp.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <typeindex>
#include <vector>

#include "nn/network.h"
#include "viz/objective.h"
#include "viz/objective_term.h"

namespace cuviz {

class ObjectiveEvaluator {
 public:
  // per_image: N objectives (i for image i) or one for every image; already resolve_objective'd.
  ObjectiveEvaluator(const std::vector<Objective>& per_image, int n);

  // The blobs the network must compute (plan outputs), in order of first use.
  const std::vector<std::string>& layers() const { return layers_; }
  // Checks channels, positions and vector lengths against the plan's blob shapes (Error naming
  // the layer and the valid range) and allocates every buffer on the plan's device. Call once.
  void bind(const Network& net, Plan& plan, Device device);
  // Before bind: takes the device buffers of `old` (an evaluator of the same batch on the same
  // plan), so that bind reuses those of the right size instead of allocating (Renderer::restart).
  void take_buffers(ObjectiveEvaluator&& old);

  // Slot values of the current forward (network leaves and regularizers on `image`, the
  // untransformed [0, 1] images {N, 3, H, W}).
  void compute_values(const Tensor& image);
  // Adds the loss gradient into the bound plan's activation gradients (after compute_values).
  void seed();
  // Adds the regularizers' loss gradient into dimage.
  void add_image_gradients(const Tensor& image, const Tensor& dimage);
  // Reads the slot values back and returns objective_i for every image (a host sync).
  std::vector<double> read_objectives();
  // The value on `image` of `part`, a sub-expression of that image's objective (the same nodes,
  // e.g. one loss of a weighted sum), from the values the last read_objectives() read back.
  double part_value(const Objective& part, int image) const;
  // True when seed() reads the values back every step (products of objectives): such a step
  // waits for the host and cannot be captured as a CUDA graph.
  bool reads_values_every_step() const { return needs_values_; }
  // True after a successful bind (a failed restart leaves the renderer's evaluator unbound).
  bool bound() const { return bound_; }
  // Number of value slots (tests).
  int slots() const { return n_slots_; }

 private:
  class Compiler;
  class Walk;
  struct Batch {
    std::type_index type;
    std::unique_ptr<LeafBatch> batch;
  };
  void add_leaves(const ObjectiveNode& n, int image);
  const ObjectiveNode& objective_of(int image) const;
  void update_weights();
  StepBuffers step_buffers();

  int n_ = 0;
  std::vector<Objective> objectives_;
  std::vector<std::string> layers_;
  std::vector<Batch> batches_;  // in order of creation: the order of values and seeds
  std::map<std::tuple<const ObjectiveNode*, int, int>, int> slots_;  // (node, image, part) -> slot
  int n_slots_ = 0;
  bool needs_values_ = false;  // a product: weights depend on values
  Device device_ = Device::cpu;
  OwnedTensor values_, weights_;             // on the device, {1, 1, 1, slots}
  std::vector<float> host_values_;
  std::vector<float> host_weights_;
  bool bound_ = false;
};

}  // namespace cuviz
