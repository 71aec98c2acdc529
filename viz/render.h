// The render loop of activation maximization (Lucid's render_vis): a batch of N parameterized
// images, each with its own objective, optimised together by Adam (lr 0.05) on
//   params -> image (viz/fourier_param.h) -> transforms + preprocessing (viz/transform.h)
//   -> forward to the deepest layer read -> objective seeds -> backward_to_input
//   -> transform adjoint -> param adjoint (+ regularizer gradients) -> Adam on -mean_i objective_i.
// Everything is planned and allocated once (and reused batch after batch by sweeps, restart); the
// step loop allocates nothing and reads nothing back from the device except the objective values
// handed to the progress callback every K steps. Every per-step value the kernels need (the step
// index of the transform draws, Adam's bias corrections) comes from a step counter in device
// memory, so on a GPU one step is captured once as a CUDA graph and replayed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/cuda_runtime.h"
#include "nn/network.h"
#include "core/tensor.h"
#include "optim/lbfgs.h"
#include "optim/optimizer.h"
#include "viz/fourier_param.h"
#include "viz/image_source.h"
#include "viz/method_ops.h"
#include "viz/objective.h"
#include "viz/settings.h"
#include "viz/transform.h"

namespace cuviz {

// A method's own per-step operation, a hook of the loop (not a loop of its own). It receives P,
// dP and the update's step (the Renderer's counter, in device memory on a GPU) and runs on the
// render's stream. It must only launch work on the current stream (no host reads, no syncs): on a
// GPU the step is captured once as a CUDA graph and replayed, and the hook with it. A hook that
// needs the host (reads values back, decides on the CPU) says so with needs_host, and the steps
// then run eagerly, the hook called every step.
struct StepHook {
  std::function<void(const Tensor& params, const Tensor& grad, StepIndex update)> before_update, after_update;
  bool needs_host = false;
};

// The loop's options. The ones that are settings start at the shared defaults of viz/settings.h
// (render_options() converts an OptimSettings); the rest say how to run, not what to render.
struct RenderOptions {
  int size = settings_defaults::size;    // image height and width (rendered natively, no upsampling)
  // A non-square image: its height and width (0: size). Sources that crop a photo need a square.
  int height = 0, width = 0;
  int h() const { return height > 0 ? height : size; }
  int w() const { return width > 0 ? width : size; }
  int steps = settings_defaults::steps;  // Lucid's default
  int batch = 1;         // N images; the objective list has N entries or one shared by all
  ParamKind param = ParamKind::fourier;
  float decay_power = 1.f;
  bool decorrelate = true;
  TransformSpec transforms = TransformSpec::standard();
  AdamConfig adam{};     // lr 0.05, torch's betas and eps
  uint64_t seed = settings_defaults::seed;  // parameter init and transform draws
  // Lucid's redirected ReLU gradient during the first `relu_override_steps` steps (Lucid's 16;
  // 0 = off): where no gradient passes a ReLU for an image, pass those that push a negative
  // input up instead (kernels/relu.h relu_backward_data_redirected).
  int relu_override_steps = settings_defaults::relu_override;
  // Steps (1-based, after the update) at which the progress callback also receives the images.
  std::vector<int> checkpoints;
  int progress_every = 16;  // objective readback (and callback) every K steps, and at the last
  Device device = Device::cpu;
  // GPU, native backend: run the steps after the ReLU-override ones as one captured CUDA graph
  // (same results; one launch per step instead of one per kernel). false: launch eagerly (for
  // profiling comparisons).
  bool cuda_graph = true;
  // Arithmetic of the network's conv forward and backward-data (kernels/backend.h): TF32/BF16 use
  // the GPU's tensor cores; on the CPU they emulate those numerics (slower, for tests).
  Precision precision = Precision::fp32;

  // ---- the method layer (docs/visualization.md, "The method layer"). The defaults are the loop
  // above, launch for launch: a new method is these settings plus its objective.
  // Where the image starts: Lucid's seeded normal(0, 0.01) parameters (the default), zeros, noise,
  // a photo or an .npy network input (viz/image_source.h; param input for an .npy).
  ImageSource source;
  // Operations before and after each update (viz/method_ops.h): roll, gradient normalisation, L2
  // decay, step-size schedule, clip, blur, and deepdraw's random crops around the gradient.
  StepOps ops;
  // The optimizer: Adam (above) or SGD (google/deepdream: lr 1.5, momentum 0, with mean |g|
  // normalisation). SGD with momentum keeps its first-step flag on the host, so its steps are
  // launched eagerly rather than replayed as a CUDA graph.
  OptimizerKind optimizer = OptimizerKind::adam;
  SgdConfig sgd{};
  // L-BFGS (style transfer, neural-style's default optimizer): each step is one iteration, with
  // a fixed step or a strong-Wolfe line search (optim/lbfgs.h). It minimises the same loss
  // L = -(1/N) sum_i objective_i, which must then be a deterministic function of P: param input
  // or pixel/fourier, but no transforms, roll, step ops, hooks, tiles or ReLU override. The loop
  // stops early when L-BFGS stops (its tolerances; RenderResult::stop says why).
  LbfgsConfig lbfgs{};
  // Further per-step operations of a method (StepHook), run in order around the optimizer after
  // the built-in ones: before_update after the decay/schedule, after_update after the clip.
  std::vector<StepHook> hooks;
  // Tiles (the TF DeepDream tutorial; viz/octaves.h TiledGradient): when > 0 and the image is
  // larger than `tile` in either dimension, the gradient stage runs tile by tile instead of over
  // the whole image: the network is planned for tiles only (memory bounded by the tile size, not
  // the image's), the image is rolled by a random shift of up to tile / 2 per step (the roll stage;
  // ops.roll is not applied on top) so seams never stay in one place, and the objective is the
  // tiles' area-weighted mean. Needs param input, no transforms, batch 1; steps run eagerly.
  int tile = 0;
  bool tiled() const { return tile > 0 && (h() > tile || w() > tile); }
};

// What the progress callback sees.
struct RenderProgress {
  int step = 0, steps = 0;               // steps done, of steps
  std::vector<double> objective;         // per image, at this step's transformed images
  double seconds = 0;                    // since the loop started
  const Tensor* images = nullptr;        // CPU {N, 3, H, W} in [0, 1]: only at checkpoints
};

struct RenderResult {
  OwnedTensor images;                    // CPU {N, 3, H, W} in [0, 1]
  std::vector<double> objective;         // per image, final, evaluated WITHOUT transforms
  std::vector<int> history_steps;        // the steps at which history was recorded
  std::vector<std::vector<double>> history;  // per recorded step: per image (transformed)
  double seconds = 0;                    // the step loop only
  double setup_seconds = 0;              // planning and allocation
  int steps_run = 0;                     // options.steps, or fewer when the optimizer stopped
  int64_t evaluations = 0;               // gradient passes (forward + backward) in the loop
  std::string stop = "steps";            // why the loop ended: "steps", or L-BFGS's stop reason
};

class ObjectiveEvaluator;
class TiledGradient;

// The loop's state and its stages, for render(), for sweeps (one Renderer for every batch,
// restart) and for tests and tools that need one step's gradient: everything is planned and
// allocated by the constructor.
class Renderer {
 public:
  // Checks the objectives against the network (clear errors), plans, allocates, initialises P.
  Renderer(const Network& net, const std::vector<Objective>& per_image, const RenderOptions& options);
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  // A new batch on the same plan and buffers: binds `per_image` (N objectives or one; they must
  // read the same layers as the constructor's, since the plan computes only those: Error
  // otherwise), re-initialises P from the seed, zeroes Adam's moments and the step counter. The
  // Renderer is then in exactly the state a new Renderer for these objectives starts in.
  void restart(const std::vector<Objective>& per_image);
  const RenderOptions& options() const { return o_; }

  // The parameters P (on the device) and the gradient of the last gradient() call.
  const Tensor& params() const { return params_; }
  const Tensor& param_grad() const { return dparams_; }
  // dP of L = -(1/N) sum_i objective_i at step t's transforms, into param_grad(); relu_override
  // switches the redirected ReLU gradient on for this pass.
  void gradient(int t, bool relu_override = false);
  // One Adam update of P with param_grad(): update number steps_done() + 1. Advances the counter.
  void update();
  // One step of the loop: gradient at the transforms of step steps_done(), then update(). On a
  // GPU with the native backend and options.cuda_graph, the first step without relu_override is
  // captured as a CUDA graph and every later one replays it (objectives with products read
  // values back every step and stay eager). Never fails for want of a graph: when capture or
  // instantiation fails it prints one notice and continues eagerly.
  void step(bool relu_override = false);
  // Steps done since construction or restart (reads the counter: a host sync on a GPU).
  int64_t steps_done() const;
  // True once a captured graph replays the steps (tests, profiling).
  bool graph_active() const { return graph_.ready(); }
  // Evaluates the objectives at step t's transforms (transforms = false: preprocessing only);
  // returns them per image (a host sync).
  std::vector<double> evaluate(int t, bool transforms);
  // Per-image objectives of the last gradient() pass (a host sync).
  std::vector<double> last_objectives();
  // The values of sub-expressions of image `image`'s objective at the last gradient() pass (a
  // host sync): e.g. the content, style and TV losses of style transfer's weighted sum.
  std::vector<double> part_values(const std::vector<Objective>& parts, int image = 0);
  // Gradient passes (forward + backward) since construction or restart.
  int64_t evaluations() const { return evaluations_; }
  // L-BFGS's stop (LbfgsStop::running for the other optimizers, and while it may go on).
  LbfgsStop optimizer_stop() const { return lbfgs_ ? lbfgs_->stop() : LbfgsStop::running; }
  // The L-BFGS state (null for the other optimizers), for tests and logs.
  const Lbfgs* lbfgs() const { return lbfgs_.get(); }
  // Throws (naming the image, the step and where the number first went wrong: see
  // explain_nonfinite) when an objective of the last gradient() pass or param_grad() holds a NaN
  // or an infinity. render_loop calls it every step on the CPU and at every read-back on a GPU.
  void check_finite(int step);
  // Where a non-finite number starts, for an error message: runs one forward of the last
  // network_input() on a plan that keeps every layer's output and names the first layer (in the
  // network's order) whose output is not finite, or says the input itself, or that every output is
  // finite (then the objective or the backward overflowed). Slow (a second plan): errors only.
  std::string explain_nonfinite();
  // The backward half of explain_nonfinite (the forward being finite): the last gradient pass
  // again on a plan that taps every layer's output gradient; walking back from the last layer,
  // the first whose output gradient is not finite, and the layer reading that output (whose
  // backward made it). "" when nothing is found.
  std::string explain_nonfinite_backward(const Tensor& x);
  // The current images, copied into the CPU tensor `out` {N, 3, H, W}.
  void images(const Tensor& out);
  // Name, kind, shapes and nominal FLOPs/bytes of every layer the render's plan runs
  // (Network::describe; empty for a tiled render, whose plans belong to its tiles), for --profile.
  std::vector<LayerInfo> layer_info() const;
  // The network input of the last gradient() or evaluate() pass (on the render's device): with
  // param input and no transforms or roll it is params() itself, so a start from an .npy feeds the
  // network exactly the file's floats.
  const Tensor& network_input() const { return *net_input_; }

 private:
  void gradient_at(StepIndex t, bool relu_override);
  void tiled_gradient_at(StepIndex t);
  void step_eager(bool relu_override);
  void step_lbfgs();
  void capture_step();
  bool graph_allowed() const;
  int64_t* counter() const { return static_cast<int64_t*>(counter_.data()); }
  void reset_counter();
  void init_params();
  bool input_space() const { return o_.param == ParamKind::input; }
  // ops.crop smaller than the image: the network sees random crop x crop windows of P.
  bool crops() const { return o_.ops.crop > 0 && (o_.h() > o_.ops.crop || o_.w() > o_.ops.crop); }
  // The network input at step t (param, transforms, roll), returned for forward.
  const Tensor& make_input(StepIndex t, bool transforms);

  const Network& net_;
  RenderOptions o_;
  std::unique_ptr<ObjectiveEvaluator> eval_;
  Plan plan_;
  ImageParam param_;
  Preprocess pre_;
  OwnedTensor params_, dparams_, image_, dimage_, x_, dx_;
  std::unique_ptr<Adam> adam_;    // when options.optimizer is adam
  std::unique_ptr<Sgd> sgd_;      // when options.optimizer is sgd
  std::unique_ptr<Lbfgs> lbfgs_;  // when options.optimizer is lbfgs
  int64_t evaluations_ = 0;       // gradient passes
  TransformSpec input_transforms_;  // param input: the transforms in input space (pad value 0, the mean)
  OwnedTensor rolled_, drolled_;  // ops.roll: the rolled input and the gradient before the roll back
  OwnedTensor blur_tmp_;          // ops blur: the pass between the two 1-D blurs
  OwnedTensor crop_x_, crop_dx_;  // ops.crop: the network's window of P and its gradient
  float clip_lo_[3] = {}, clip_hi_[3] = {};  // ops.clip: the network input of 0 and 1 per channel
  const Tensor* net_input_ = nullptr;
  std::unique_ptr<TiledGradient> tiles_;  // options.tiled(): the gradient stage, tile by tile
  std::vector<double> tiled_objective_;   // of the last tiled gradient pass
  Buffer counter_;                // int64 steps done, on the render's device
  cuda_rt::CudaGraph graph_;     // one step, captured by the first step() that may use it
  bool graph_failed_ = false;    // capture failed once: stay eager
  std::vector<Objective> objectives_;  // as bound (constructor or restart), for explain_nonfinite
};

// --profile N for every method (apps/profile.h): while a hook is set, render_loop hands its
// Renderer to the hook instead of running its steps, then throws ProfileFinished, which the
// command line catches (exit 0, nothing written). One hook per process, set before the command runs.
using RenderProfileHook = std::function<void(Renderer&)>;
void set_render_profile_hook(RenderProfileHook hook);
struct ProfileFinished {};

// Runs options.steps steps of the loop on `r` (fresh, or restarted) and returns its images and
// objectives; setup_seconds is left 0 (the caller planned). render() and sweeps call it.
RenderResult render_loop(Renderer& r, const std::function<void(const RenderProgress&)>& progress = {});

// Renders N = options.batch images; per_image has N objectives (objective i for image i) or one
// for every image. Objectives are checked against the network's graph first (clear errors).
RenderResult render(const Network& net, const std::vector<Objective>& per_image, const RenderOptions& options,
                    const std::function<void(const RenderProgress&)>& progress = {});

}  // namespace cuviz
