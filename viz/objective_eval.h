// Evaluation of per-image objectives inside a render step: the expression trees are compiled once
// into leaf TASKS (one per leaf and image, each with a value slot), grouped by the blob they read.
// A step computes every slot's value on the device, then adds the gradient of the LOSS
//   L = -(1/N) sum_i objective_i(image i)
// into the network's activation gradients (seeds) and into d(image) (regularizers). The weight of
// a slot, dL/d(slot), is a constant for expressions without objective x objective products; with
// products it depends on the values, which are then read back once per step.
//   window   : (1/|W|) sum_{(y,x) in W} a[c,y,x]            d/da = 1/|W| on W
//   deepdream: (1/CHW) sum a^2                              d/da = 2a/CHW
//   direction: (1/HW) sum_p <a_p, v>                        d/da_p = v/HW
//   cossim   : (1/HW) sum_p <a_p, v>/(|v| r_p), r_p = sqrt(|a_p|^2 + 1e-8)
//              d/da_p = (v/(|v| r_p) - <a_p,v> a_p/(|v| r_p^3)) / HW
//   diversity: d_i = <G^_i, S - G^_i>, S = sum_j G^_j; with U_k = dL/dd_k and T = sum_j U_j G^_j,
//              dG^_k = U_k S + T - 2 U_k G^_k, dG_k = (dG^_k - G^_k <G^_k, dG^_k>)/|G_k|, dA_k = 2 dG_k A_k
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "core/host_device.h"
#include "nn/network.h"
#include "viz/objective.h"

namespace cuviz {

enum LeafTaskKind : int { kLeafWindow = 0, kLeafDeepdream = 1, kLeafDirection = 2, kLeafCossim = 3 };

// One leaf of one image's objective on one blob.
struct LeafTask {
  int kind = kLeafWindow;
  int image = 0;
  int channel = 0;
  int x0 = 0, x1 = 0, y0 = 0, y1 = 0;  // window [y0, y1) x [x0, x1)
  int slot = 0;                        // value / weight index
  int vec = 0;                         // first element of its direction vector in the group's table
  float vec_norm = 1.f;                // |v| (cossim)
};

// ---- shared per-item maths (CPU loops and CUDA blocks) ---------------------------------------

// Items a task reduces over: window positions, C*H*W elements or H*W positions.
CUVIZ_HD int64_t leaf_items(const LeafTask& t, int c, int h, int w) {
  switch (t.kind) {
    case kLeafWindow: return int64_t(t.y1 - t.y0) * (t.x1 - t.x0);
    case kLeafDeepdream: return int64_t(c) * h * w;
    default: return int64_t(h) * w;
  }
}

// The item's share of the task value; `a` is the image's dense {C, H, W} block.
CUVIZ_HD float leaf_item_value(const LeafTask& t, const float* a, const float* vec, int c, int h, int w, int64_t k) {
  const int64_t hw = int64_t(h) * w;
  switch (t.kind) {
    case kLeafWindow: {
      const int ww = t.x1 - t.x0, n = (t.y1 - t.y0) * ww;
      const int y = t.y0 + int(k / ww), x = t.x0 + int(k % ww);
      return a[(int64_t(t.channel) * h + y) * w + x] / float(n);
    }
    case kLeafDeepdream: return a[k] * a[k] / float(int64_t(c) * hw);
    default: {
      float dot = 0.f, sq = 0.f;
      for (int ch = 0; ch < c; ++ch) {
        const float v = a[ch * hw + k];
        dot += v * vec[t.vec + ch];
        sq += v * v;
      }
      if (t.kind == kLeafDirection) return dot / float(hw);
      return dot / (t.vec_norm * sqrtf(sq + 1e-8f)) / float(hw);
    }
  }
}

// Adds weight * d(item share)/da into the gradient through add(pointer, value).
template <class Add>
CUVIZ_HD void leaf_item_seed(const LeafTask& t, const float* a, const float* vec, int c, int h, int w, int64_t k,
                             float weight, float* g, Add add) {
  const int64_t hw = int64_t(h) * w;
  switch (t.kind) {
    case kLeafWindow: {
      const int ww = t.x1 - t.x0, n = (t.y1 - t.y0) * ww;
      const int y = t.y0 + int(k / ww), x = t.x0 + int(k % ww);
      add(g + (int64_t(t.channel) * h + y) * w + x, weight / float(n));
      return;
    }
    case kLeafDeepdream: add(g + k, weight * 2.f * a[k] / float(int64_t(c) * hw)); return;
    case kLeafDirection:
      for (int ch = 0; ch < c; ++ch) add(g + ch * hw + k, weight * vec[t.vec + ch] / float(hw));
      return;
    default: {
      float dot = 0.f, sq = 0.f;
      for (int ch = 0; ch < c; ++ch) {
        const float v = a[ch * hw + k];
        dot += v * vec[t.vec + ch];
        sq += v * v;
      }
      const float r = sqrtf(sq + 1e-8f), s = weight / float(hw) / t.vec_norm;
      for (int ch = 0; ch < c; ++ch)
        add(g + ch * hw + k, s * (vec[t.vec + ch] / r - dot * a[ch * hw + k] / (r * r * r)));
    }
  }
}

// ---- the compiled objective of a render -------------------------------------------------------

class ObjectiveEvaluator {
 public:
  // per_image: N objectives (i for image i) or one for every image; already resolve_objective'd.
  ObjectiveEvaluator(const std::vector<Objective>& per_image, int n);

  // The blobs the network must compute (plan outputs).
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
  // True when seed() reads the values back every step (products of objectives): such a step
  // waits for the host and cannot be captured as a CUDA graph.
  bool reads_values_every_step() const { return needs_values_; }
  // True after a successful bind (a failed restart leaves the renderer's evaluator unbound).
  bool bound() const { return bound_; }
  // Number of value slots (tests).
  int slots() const { return n_slots_; }

 private:
  struct Group {  // one blob
    std::string layer;
    std::vector<LeafTask> tasks;
    std::vector<float> vecs;
    std::vector<int> diversity;  // (image, slot) pairs, flattened
    Tensor act, grad;
    Buffer tasks_dev, vecs_dev, diversity_dev;
    OwnedTensor gram, dgram, inv_norm, upstream;  // diversity workspaces {N, C, C, 1} / {N, 1, 1, 1}
  };
  struct RegTask {
    RegKind kind;
    float constant;
    int image, slot;
  };
  int slot_of(const ObjectiveNode* node, int image, int part) const;
  double value(const ObjectiveNode& n, int image, const std::vector<float>& v) const;
  void backprop(const ObjectiveNode& n, int image, double u, const std::vector<float>& v,
                std::vector<double>& w) const;
  void add_leaves(const ObjectiveNode& n, int image);
  int group_for(const std::string& layer);
  void update_weights();

  int n_ = 0;
  std::vector<Objective> objectives_;
  std::vector<std::string> layers_;
  std::vector<Group> groups_;
  std::vector<RegTask> regs_;
  std::map<std::tuple<const ObjectiveNode*, int, int>, int> slots_;
  int n_slots_ = 0;
  bool needs_values_ = false;  // a product: weights depend on values
  Device device_ = Device::cpu;
  OwnedTensor values_, weights_;             // on the device, {1, 1, 1, slots}
  std::vector<float> host_values_;
  std::vector<float> host_weights_;
  bool bound_ = false;
};

// CUDA paths (viz/objective.cu, or throwing stand-ins in viz/objective_disabled.cpp).
void leaf_values_cuda(const LeafTask* tasks, int n_tasks, const float* vecs, const Tensor& act, float* values);
void leaf_seeds_cuda(const LeafTask* tasks, int n_tasks, const float* vecs, const Tensor& act, const float* weights,
                     const Tensor& grad);
// Diversity on CUDA: gram {N, C, C}, inv_norm {N}; values[pairs[2k+1]] = d_{pairs[2k]}.
void diversity_values_cuda(const Tensor& act, float* gram, float* inv_norm, const int* pairs, int n_pairs,
                           float* values);
void diversity_seeds_cuda(const Tensor& act, const float* gram, const float* inv_norm, const float* upstream,
                          float* dgram, const Tensor& grad);

}  // namespace cuviz
