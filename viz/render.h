// The render loop of activation maximization (Lucid's render_vis): a batch of N parameterized
// images, each with its own objective, optimised together by Adam (lr 0.05) on
//   params -> image (viz/fourier_param.h) -> transforms + preprocessing (viz/transform.h)
//   -> forward to the deepest layer read -> objective seeds -> backward_to_input
//   -> transform adjoint -> param adjoint (+ regularizer gradients) -> Adam on -mean_i objective_i.
// Everything is planned and allocated once; the step loop allocates nothing and reads nothing back
// from the device except the objective values handed to the progress callback every K steps.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/network.h"
#include "nn/tensor.h"
#include "optim/optimizer.h"
#include "viz/fourier_param.h"
#include "viz/objective.h"
#include "viz/transform.h"

namespace cuviz {

struct RenderOptions {
  int size = 128;        // image height and width (rendered natively, no upsampling)
  int steps = 512;       // Lucid's default
  int batch = 1;         // N images; the objective list has N entries or one shared by all
  ParamKind param = ParamKind::fourier;
  float decay_power = 1.f;
  bool decorrelate = true;
  TransformSpec transforms = TransformSpec::standard();
  AdamConfig adam{};     // lr 0.05, torch's betas and eps
  uint64_t seed = 0;     // parameter init and transform draws
  // Lucid's redirected ReLU gradient during the first `relu_override_steps` steps (16 when on;
  // 0 = off): where no gradient passes a ReLU for an image, pass those that push a negative
  // input up instead (kernels/relu.h relu_backward_data_redirected).
  int relu_override_steps = 0;
  // Steps (1-based, after the update) at which the progress callback also receives the images.
  std::vector<int> checkpoints;
  int progress_every = 16;  // objective readback (and callback) every K steps, and at the last
  Device device = Device::cpu;
  // Arithmetic of the network's conv forward and backward-data (kernels/backend.h): TF32/BF16 use
  // the GPU's tensor cores; on the CPU they emulate those numerics (slower, for tests).
  Precision precision = Precision::fp32;
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
};

class ObjectiveEvaluator;

// The loop's state and its stages, for render() and for tests and tools that need one step's
// gradient: everything is planned and allocated by the constructor.
class Renderer {
 public:
  // Checks the objectives against the network (clear errors), plans, allocates, initialises P.
  Renderer(const Network& net, const std::vector<Objective>& per_image, const RenderOptions& options);
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  // The parameters P (on the device) and the gradient of the last gradient() call.
  const Tensor& params() const { return params_; }
  const Tensor& param_grad() const { return dparams_; }
  // dP of L = -(1/N) sum_i objective_i at step t's transforms, into param_grad(); relu_override
  // switches the redirected ReLU gradient on for this pass.
  void gradient(int t, bool relu_override = false);
  // One Adam update of P with param_grad().
  void update();
  // Evaluates the objectives at step t's transforms (transforms = false: preprocessing only);
  // returns them per image (a host sync).
  std::vector<double> evaluate(int t, bool transforms);
  // Per-image objectives of the last gradient() pass (a host sync).
  std::vector<double> last_objectives();
  // The current images, copied into the CPU tensor `out` {N, 3, H, W}.
  void images(const Tensor& out);

 private:
  const Network& net_;
  RenderOptions o_;
  std::unique_ptr<ObjectiveEvaluator> eval_;
  Plan plan_;
  ImageParam param_;
  Preprocess pre_;
  OwnedTensor params_, dparams_, image_, dimage_, x_, dx_;
  Adam adam_;
};

// Renders N = options.batch images; per_image has N objectives (objective i for image i) or one
// for every image. Objectives are checked against the network's graph first (clear errors).
RenderResult render(const Network& net, const std::vector<Objective>& per_image, const RenderOptions& options,
                    const std::function<void(const RenderProgress&)>& progress = {});

}  // namespace cuviz
