// Network: plans and runs a Graph on one device. A Plan fixes the input shape and the requested
// outputs, keeps only the layers those outputs need, and carves every activation (and, for
// backward, every gradient) out of ONE arena (a compact backward plan reuses the memory of the
// activations its backward does not need, PlanOptions::stash); concat branches write straight into their channel
// slice of the concat output, and in-place ReLUs overwrite their input. Backward to the input
// applies the chain rule in reverse layer order, d(blob) = seed + sum over its readers; backward
// rules (nn/backward_rule.h) replace chosen layers' terms, and gradient taps copy chosen blobs'
// gradients out as they become complete (PlanOptions).
// On a GPU each plan has its own CUDA stream, which every op of its forward and backward is
// launched on, and a pinned host buffer through which host inputs and read-back results travel.
// Naming of blobs, pre-activations and layers: docs/network.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kernels/backend.h"
#include "kernels/pool2d.h"
#include "kernels/relu.h"
#include "nn/backward_rule.h"
#include "nn/graph.h"
#include "nn/layer_ops.h"
#include "core/tensor.h"

namespace cuviz {

// What a backward plan keeps from its forward (docs/network.md, "The stash").
//   compact: only what the backward to the input needs (ReLU bit masks, max-pool winners, LRN
//            and softmax tensors, the requested outputs); other activations share memory by
//            liveness. Costs a mask pass per ReLU and a winner search per max pool.
//   full:    every activation has its own memory for the plan's lifetime (any blob readable).
//   automatic: compact on a GPU, where memory decides how many images a batch holds; full on
//            the CPU, where memory is plentiful and the extra passes only cost time (about 5% of
//            a 128 px render step on 2 cores).
enum class Stash { automatic, compact, full };

struct PlanOptions {
  bool backward = false;      // allocate activation gradients (backward_to_input, activation_grad)
  bool weight_grads = false;  // also compute conv/linear weight gradients in backward (training); implies backward
  // Backward plans without weight gradients (weight gradients need every activation: always full).
  Stash stash = Stash::automatic;
  Precision precision = Precision::fp32;  // conv forward and backward-data arithmetic (kernels/backend.h)
  // Backward plans: rules that replace the backward of the layers they select (nn/backward_rule.h),
  // on from the start; the planner keeps what they declare they need. Switch them per backward with
  // Plan::enable_backward_rule.
  std::vector<std::shared_ptr<const BackwardRule>> backward_rules = {};
  // Backward plans: blobs whose gradient each backward copies into the plan's own memory before
  // anything overwrites it (an in-place ReLU's backward, the slices of a concat), read with
  // Network::tapped_grad. Any name the plan computes, `blob:pre` included.
  std::vector<std::string> grad_taps = {};
};

// One row of `cuviz info`: a layer of a plan.
struct LayerInfo {
  std::string name;
  std::string type;      // layer_kind_name
  Shape output;          // for the plan's batch size
  int64_t params = 0;    // weight elements
  int64_t macs = 0;      // multiply-accumulates per image (conv: out_elems * in_c/groups * kh * kw; linear: in * out)
  std::vector<Shape> inputs;  // for the plan's batch size
  // The step's nominal cost for the whole batch (the --profile table, docs/profiling.md "What the
  // columns count"): FLOPs (conv, linear: 2 x MACs x batch, forward and backward-data each; the
  // element-wise kinds a few per element) and the bytes its kernels must move at least (inputs,
  // weights and outputs once each; backward: dy, weights, dx and what the kind's backward reads of
  // the forward). A ReLU fused into its conv, a dropout or a flatten launch no forward of their own: 0.
  int64_t flops_forward = 0, flops_backward = 0;
  int64_t bytes_forward = 0, bytes_backward = 0;
};

class Network;

// Everything one input shape and one set of outputs needs: the layers to run, their tensors in
// one arena, the gradient bookkeeping. Made by Network::plan, used by the Network that made it.
class Plan {
 public:
  Plan() = default;
  Plan(Plan&&) = default;
  Plan& operator=(Plan&&) = default;

  // The input shape the plan was made for.
  Shape input_shape() const { return input_; }
  // Names of the layers the plan runs, in order.
  const std::vector<std::string>& layers() const { return layer_names_; }
  // Bytes of the plan's one arena (activations, gradients, scratch, weight gradients, op workspace).
  size_t arena_bytes() const { return arena_.capacity(); }
  // Ops launched by the last forward (layers that only alias memory launch none).
  int64_t ops_run() const { return ops_run_; }
  // Of those, the ops that ran on the cuDNN/cuBLAS oracle (Network::set_backend(Backend::cudnn)).
  int64_t oracle_ops_run() const { return oracle_ops_run_; }
  bool has_backward() const { return options_.backward || options_.weight_grads; }
  bool has_weight_grads() const { return options_.weight_grads; }
  // Switches a backward rule of the plan (PlanOptions::backward_rules, or the built-in
  // "relu_redirect") on or off for the following backwards. Throws for a name the plan lacks.
  void enable_backward_rule(std::string_view name, bool on);
  bool backward_rule_enabled(std::string_view name) const;
  // Backward through ReLUs with Lucid's redirected gradient (kernels/relu.h
  // relu_backward_data_redirected) while on; render loops switch it on for their first steps.
  // The built-in rule "relu_redirect" (nn/backward_rule.h), which every plan carries.
  void set_relu_gradient_override(bool on) { enable_backward_rule("relu_redirect", on); }
  bool relu_gradient_override() const { return backward_rule_enabled("relu_redirect"); }

 private:
  friend class Network;
  struct Step {
    int layer = -1;
    std::vector<int> in;            // value ids
    int out = -1;                   // value id
    bool aliases_input = false;     // forward writes nothing new: dropout, flatten, in-place relu
    bool fused_into_conv = false;   // relu computed by the preceding conv (Conv2dParams::fuse_relu)
    bool fuse_relu = false;         // conv: apply the next relu in the same pass
    std::vector<int> concat_offset; // concat: first channel of each input in the output
    std::vector<char> placed;       // concat: input already lives in its slice (no copy)
    MaskTensor mask;                // compact relu: bits of out > 0, for the backward
    WinnerTensor winners;           // compact max pool: each window's winner, for the backward
    std::vector<int> rules;         // indices into rules_ of the rules that select this layer
    std::vector<int> taps;          // indices into taps_ of the gradients of `out` to copy out
  };
  // A backward rule of the plan and whether backward applies it.
  struct RuleSlot {
    std::shared_ptr<const BackwardRule> rule;
    bool enabled = false;
  };

  // Owner of the plan's CUDA stream (null on the CPU).
  struct OwnedStream {
    void* handle = nullptr;
    OwnedStream() = default;
    OwnedStream(OwnedStream&& o) noexcept : handle(o.handle) { o.handle = nullptr; }
    OwnedStream& operator=(OwnedStream&& o) noexcept {
      std::swap(handle, o.handle);  // o destroys the old stream
      return *this;
    }
    ~OwnedStream();
  };

  uint64_t network_id_ = 0;
  Shape input_{};
  PlanOptions options_{};
  std::vector<Step> steps_;
  std::vector<std::string> layer_names_;
  std::vector<char> in_plan_;            // per value
  std::vector<Shape> shape_;             // per value
  std::vector<int> overwritten_by_;      // per value: layer that overwrites it in place, or -1
  std::vector<char> kept_;               // per value: its memory holds it for the plan's lifetime
  std::vector<Tensor> act_, grad_;       // per value
  std::vector<std::vector<int>> overlaps_;  // per value: values whose gradient memory overlaps its own
  std::vector<char> seeded_;             // per value: gradient handed out by activation_grad
  std::vector<std::vector<Tensor>> dweights_;  // per graph layer: gradients of its weights
  Arena arena_;
  Tensor grad_block_;                    // all activation gradients, as one flat tensor to zero
  Tensor scratch_;                       // a contribution to a gradient that already holds values
  Tensor workspace_;                     // ops' device temporaries (conv weight-gradient partial sums)
  OwnedStream stream_;                   // GPU: the stream of every op of the plan
  Buffer staging_;                       // GPU: pinned host memory for input copies and read-backs,
  int64_t staging_floats_ = 0;           //   allocated by the first host transfer (render loops make none)
  int64_t ops_run_ = 0;
  int64_t oracle_ops_run_ = 0;
  bool forward_ran_ = false;
  bool grads_used_ = false;              // backward ran since the gradients were last zeroed
  std::vector<RuleSlot> rules_;          // [0]: "relu_redirect" (off), then PlanOptions::backward_rules
  std::vector<int> tap_value_;           // per gradient tap: its value
  std::vector<Tensor> taps_;             // per gradient tap: its copy of the gradient (in the arena)
  std::vector<int> input_taps_;          // taps of the input, copied once the backward is done
  bool taps_ready_ = false;              // backward filled the taps since the last forward
};

class Network {
 public:
  // Validates the graph and copies its weights to `device`. Throws when the graph is malformed
  // (naming the layer) or when `device` is cuda and no CUDA device can be used.
  Network(Graph graph, Device device);

  const Graph& graph() const { return graph_; }
  Device device() const { return device_; }
  // Runs the GPU ops of later forwards and backwards on `b` (kernels/backend.h). Throws when `b`
  // cannot run here (cudnn on the CPU, or without cuDNN).
  void set_backend(Backend b);
  Backend backend() const { return backend_; }

  // A plan for inputs of `input` shape computing `outputs` (blob, `blob:pre` or layer names;
  // empty = the graph's final blobs). Computes every shape (Error naming the layer on mismatch).
  Plan plan(Shape input, const std::vector<std::string>& outputs = {}, PlanOptions options = {}) const;

  // Runs the plan's layers on x (any device; copied into the plan). Zeroes the gradients of a
  // backward plan, so seeds written after forward are the only ones backward sees.
  void forward(Plan& plan, const Tensor& x) const;
  // The value of a blob (a view into the plan; a channel slice when it is a concat branch).
  Tensor activation(const Plan& plan, std::string_view name) const;
  // The gradient of a blob: objectives ADD their seeds here after forward (names may share memory).
  Tensor activation_grad(Plan& plan, std::string_view name) const;
  // Copies a blob's value into dst (same shape, any device), through the plan's pinned staging
  // buffer when dst is on the host and the blob is one of the plan's outputs or smaller.
  void read_activation(Plan& plan, std::string_view name, const Tensor& dst) const;
  // Sets every activation gradient to zero (forward does this too).
  void zero_grads(Plan& plan) const;
  // Backpropagates the seeds to the input and writes d(input) into dx (shape of the plan's input,
  // any device). Computes weight gradients too when the plan has them.
  void backward_to_input(Plan& plan, const Tensor& dx) const;
  // Backpropagates the seeds without returning d(input) (training: weight gradients only).
  void backward(Plan& plan) const;
  // The gradient of a blob named in PlanOptions::grad_taps as the last backward left it complete
  // (the plan's copy, on the network's device; valid until the next backward overwrites it).
  Tensor tapped_grad(const Plan& plan, std::string_view name) const;

  // Weight `index` of `layer` (on the network's device; kind-specific order, see LayerKind).
  Tensor weight(std::string_view layer, int index) const;
  // Gradient of that weight computed by the last backward of a weight_grads plan.
  Tensor weight_grad(const Plan& plan, std::string_view layer, int index) const;

  // Where the plan's ops run (its stream, its workspace, this network's backend): callers that
  // queue their own work between forward and backward (render loops) install it with ExecScope,
  // so everything lands on the plan's stream in order.
  ExecContext context_of(const Plan& plan) const;

  // Name, type, output shape, parameters and MACs of every layer the plan runs.
  std::vector<LayerInfo> describe(const Plan& plan) const;

 private:
  int value_of(std::string_view name) const;
  int layer_index(std::string_view name) const;
  int plan_value(const Plan& plan, std::string_view name, const char* what) const;
  int kept_value(const Plan& plan, std::string_view name, const char* what) const;
  void check_owner(const Plan& plan, const char* what) const;
  // The passes of plan(), in order; each reads what the earlier ones left in the PlanBuild.
  struct PlanBuild;
  void plan_truncate(PlanBuild& b, const std::vector<std::string>& outputs) const;  // outputs, layers that run
  void plan_shapes(PlanBuild& b) const;    // shapes, steps, readers
  void plan_rules(PlanBuild& b) const;     // backward rules: the layers they select, what they keep
  void plan_taps(PlanBuild& b) const;      // gradient taps: the step that copies each (memory: allocate)
  void plan_aliases(PlanBuild& b) const;   // in-place ReLU, views
  void plan_concats(PlanBuild& b) const;   // concat branches in their slice
  void plan_groups(PlanBuild& b) const;    // memory groups and channel ranges
  void plan_liveness(PlanBuild& b) const;  // what the backward keeps (the stash)
  void plan_offsets(PlanBuild& b) const;   // activation offsets by liveness
  void plan_allocate(PlanBuild& b) const;  // the arena and every tensor in it
  void plan_views(PlanBuild& b) const;     // aliases and slices, kept values, gradient overlaps
  void run_backward(Plan& plan) const;
  const BackwardRule* enabled_rule(const Plan& plan, const Plan::Step& s) const;
  // One step's arguments for its op-table entry (nn/layer_ops.h).
  LayerCall call_of(const Plan& plan, const Plan::Step& s) const;
  void download(Plan& plan, const Tensor& src, const Tensor& dst) const;
  float* staging(Plan& plan) const;

  Graph graph_;
  Device device_;
  Backend backend_ = Backend::native;
  uint64_t id_ = 0;
  // Values: every write of a blob is a new value (in-place layers make several per blob).
  std::vector<std::string> value_blob_;        // blob name of each value
  std::vector<int> value_producer_;            // producing layer, -1 for the input
  std::vector<std::vector<int>> layer_inputs_; // value ids read by each layer
  std::vector<int> layer_output_;              // value id written by each layer
  std::vector<std::pair<std::string, int>> names_;  // every accepted name -> value, sorted by name
  std::vector<std::vector<OwnedTensor>> layer_aux_;  // per layer: LayerOp::make_aux (affine: mean 0, variance 1)
};

}  // namespace cuviz
