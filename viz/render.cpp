// The render loop (viz/render.h): one plan and one set of buffers, then per step
//   image = param(P); x = pre(T_s(image)); forward; seeds dL/da; dx = backward;
//   dimage = T_s^T(dx) + dR/dimage; dP = param^T(dimage); Adam(P, dP)
// with L = -(1/N) sum_i objective_i, so Adam's descent is the objectives' ascent.
#include "viz/render.h"

#include <algorithm>
#include <chrono>

#include "viz/objective_eval.h"

namespace cuviz {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

RenderResult render(const Network& net, const std::vector<Objective>& per_image, const RenderOptions& o,
                    const std::function<void(const RenderProgress&)>& progress) {
  const auto t_setup = std::chrono::steady_clock::now();
  CUVIZ_CHECK(o.size >= 8 && o.size <= 4096, "render: image size ", o.size, " out of range (8..4096)");
  CUVIZ_CHECK(o.steps >= 0, "render: steps ", o.steps, " must be >= 0");
  CUVIZ_CHECK(o.batch >= 1, "render: batch ", o.batch, " must be >= 1");
  CUVIZ_CHECK(o.progress_every >= 1, "render: progress_every ", o.progress_every, " must be >= 1");
  CUVIZ_CHECK(o.device == net.device(), "render: the network is on ", device_name(net.device()), ", the render on ",
              device_name(o.device));
  const int n = o.batch, h = o.size, w = o.size;

  std::vector<Objective> objectives;
  for (const Objective& obj : per_image) objectives.push_back(resolve_objective(obj, net.graph()));
  ObjectiveEvaluator eval(objectives, n);
  std::vector<std::string> outputs = eval.layers();
  if (outputs.empty()) outputs.push_back(net.graph().input);  // image-only objectives (regularizers)
  Plan plan = net.plan(Shape{n, 3, h, w}, outputs, PlanOptions{.backward = true});
  eval.bind(net, plan, o.device);

  ImageParamSpec spec;
  spec.kind = o.param;
  spec.n = n;
  spec.h = h;
  spec.w = w;
  spec.decay_power = o.decay_power;
  spec.decorrelate = o.decorrelate;
  ImageParam param(spec, o.device);
  const Preprocess pre = Preprocess::from_meta(net.graph().meta);
  OwnedTensor params(spec.param_shape(), o.device), dparams(spec.param_shape(), o.device);
  OwnedTensor image(spec.image_shape(), o.device), dimage(spec.image_shape(), o.device);
  OwnedTensor x(spec.image_shape(), o.device), dx(spec.image_shape(), o.device);
  Adam adam(params.numel(), o.device, o.adam);
  param.init(params, o.seed);

  RenderResult result;
  result.images = OwnedTensor(spec.image_shape());
  const bool any_checkpoint = !o.checkpoints.empty();
  result.setup_seconds = seconds_since(t_setup);

  const auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < o.steps; ++t) {
    param.forward(params, image);
    transform_forward(o.transforms, pre, o.seed, uint64_t(t), image, x);
    plan.set_relu_gradient_override(t < o.relu_override_steps);
    net.forward(plan, x);
    eval.compute_values(image);
    eval.seed();
    net.backward_to_input(plan, dx);
    transform_backward(o.transforms, pre, o.seed, uint64_t(t), dx, dimage);
    eval.add_image_gradients(image, dimage);
    param.backward(image, dimage, dparams);
    adam.step(params, dparams);

    const int done = t + 1;
    const bool checkpoint =
        any_checkpoint && std::find(o.checkpoints.begin(), o.checkpoints.end(), done) != o.checkpoints.end();
    if (done % o.progress_every == 0 || done == o.steps || checkpoint) {
      RenderProgress p;
      p.step = done;
      p.steps = o.steps;
      p.objective = eval.read_objectives();  // of this step's (transformed) images, before the update
      result.history_steps.push_back(done);
      result.history.push_back(p.objective);
      if (checkpoint) {
        param.forward(params, image);
        copy(image, result.images);
        p.images = &result.images;
      }
      p.seconds = seconds_since(t0);
      if (progress) progress(p);
    }
  }
  result.seconds = seconds_since(t0);  // synchronised: the last step read its objectives back
  plan.set_relu_gradient_override(false);

  // The final images, and their objectives without transforms (preprocessing only).
  param.forward(params, image);
  transform_forward(TransformSpec::none(), pre, o.seed, uint64_t(o.steps), image, x);
  net.forward(plan, x);
  eval.compute_values(image);
  result.objective = eval.read_objectives();
  copy(image, result.images);
  return result;
}

}  // namespace cuviz
