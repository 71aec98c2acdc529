// The render loop (viz/render.h): one plan and one set of buffers, then per step
//   image = param(P); x = pre(T_s(image)); forward; seeds dL/da; dx = backward;
//   dimage = T_s^T(dx) + dR/dimage; dP = param^T(dimage); Adam(P, dP)
// with L = -(1/N) sum_i objective_i, so Adam's descent is the objectives' ascent.
#include "viz/render.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>

#include "core/profiler.h"
#include "core/interrupt.h"
#include "core/nvtx.h"
#include "viz/objective_eval.h"
#include "viz/octaves.h"

namespace cuviz {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

const RenderOptions& checked(const RenderOptions& o, const Network& net) {
  CUVIZ_CHECK(o.size >= 8 && o.size <= 4096, "render: image size ", o.size, " out of range (8..4096)");
  CUVIZ_CHECK(o.height >= 0 && o.width >= 0 && o.h() >= 8 && o.w() >= 8 && o.h() <= 16384 && o.w() <= 16384,
              "render: image ", o.h(), "x", o.w(), " out of range (8..16384 each)");
  CUVIZ_CHECK(o.tile >= 0, "render: tile ", o.tile, " must be >= 0");
  CUVIZ_CHECK(!o.tiled() || (o.param == ParamKind::input && !o.transforms.enabled && o.batch == 1),
              "render: tiles (", o.tile, " px for a ", o.h(), "x", o.w(), " image) need param input, no transforms "
              "and batch 1");
  CUVIZ_CHECK(o.steps >= 0, "render: steps ", o.steps, " must be >= 0");
  CUVIZ_CHECK(o.batch >= 1, "render: batch ", o.batch, " must be >= 1");
  CUVIZ_CHECK(o.progress_every >= 1, "render: progress_every ", o.progress_every, " must be >= 1");
  CUVIZ_CHECK(o.device == net.device(), "render: the network is on ", device_name(net.device()), ", the render on ",
              device_name(o.device));
  const StepOps& s = o.ops;
  const int side = std::min(o.h(), o.w());
  CUVIZ_CHECK(s.roll >= 0 && s.roll < side, "render: roll ", s.roll, " out of range (0..", side - 1, ")");
  CUVIZ_CHECK(s.l2_decay >= 0.f, "render: l2 decay ", s.l2_decay, " must be >= 0");
  CUVIZ_CHECK(s.step_scale_end > 0.f, "render: step-size schedule end ", s.step_scale_end, " must be > 0");
  CUVIZ_CHECK(s.step_scale_end == 1.f || o.optimizer == OptimizerKind::sgd, "render: a step-size schedule (end ",
              s.step_scale_end, ") needs the sgd optimizer: Adam's update does not change with the gradient's scale");
  CUVIZ_CHECK(s.blur_sigma_start >= 0.f && s.blur_sigma_end >= 0.f, "render: blur sigmas ", s.blur_sigma_start, ", ",
              s.blur_sigma_end, " must be >= 0");
  CUVIZ_CHECK(!s.blurs() || o.param != ParamKind::fourier,
              "render: blur acts on the pixels of P; use param pixel or input (fourier parameters are a spectrum)");
  if (o.optimizer == OptimizerKind::lbfgs) {
    // L-BFGS's curvature pairs and line search need L to be one function of P: nothing random or
    // step-dependent between P and the network, and no update but its own.
    const bool plain = !o.transforms.enabled && s.roll == 0 && s.grad_norm == GradNorm::none && s.l2_decay == 0.f &&
                       !s.blurs() && !s.clip && s.crop == 0 && o.hooks.empty() && !o.tiled() &&
                       o.relu_override_steps == 0;
    CUVIZ_CHECK(plain, "render: the lbfgs optimizer needs a deterministic loss: no transforms, roll, gradient ",
                "normalisation, decay, blur, clip, crop, hooks, tiles or ReLU override");
  }
  CUVIZ_CHECK(s.crop >= 0, "render: crop ", s.crop, " must be >= 0");
  CUVIZ_CHECK(s.crop == 0 || (s.crop >= 8 && s.crop <= o.h() && s.crop <= o.w()), "render: crop ", s.crop,
              " px does not fit a ", o.h(), "x", o.w(), " image (8 px at least)");
  CUVIZ_CHECK(s.crop == 0 || (o.param == ParamKind::input && !o.transforms.enabled && s.roll == 0 && o.tile == 0),
              "render: random crops (deepdraw) need param input, no transforms, no roll and no tiles");
  CUVIZ_CHECK(!s.clip || o.param == ParamKind::input,
              "render: clip bounds the network input; use param input (pixel and fourier images are in [0, 1] "
              "through their sigmoid already)");
  return o;
}

ImageParamSpec param_spec(const RenderOptions& o) {
  ImageParamSpec spec;
  spec.kind = o.param;
  spec.n = o.batch;
  spec.h = o.h();
  spec.w = o.w();
  spec.decay_power = o.decay_power;
  spec.decorrelate = o.decorrelate;
  return spec;
}

std::vector<Objective> resolved(const std::vector<Objective>& per_image, const Graph& g) {
  std::vector<Objective> out;
  for (const Objective& obj : per_image) out.push_back(resolve_objective(obj, g));
  return out;
}

}  // namespace

Renderer::Renderer(const Network& net, const std::vector<Objective>& per_image, const RenderOptions& options)
    : net_(net),
      o_(checked(options, net)),
      eval_(std::make_unique<ObjectiveEvaluator>(resolved(per_image, net.graph()), options.batch)),
      param_(param_spec(options), options.device),
      pre_(Preprocess::from_meta(net.graph().meta)),
      params_(param_spec(options).param_shape(), options.device),
      dparams_(param_spec(options).param_shape(), options.device),
      image_(param_spec(options).image_shape(), options.device),
      dimage_(param_spec(options).image_shape(), options.device),
      x_(param_spec(options).image_shape(), options.device),
      dx_(param_spec(options).image_shape(), options.device),
      counter_(sizeof(int64_t), options.device) {
  net_input_ = &x_;
  objectives_ = per_image;
  if (o_.tiled()) {
    // The network is planned per tile shape by the TiledGradient; the loop keeps only image buffers.
    CUVIZ_CHECK(per_image.size() == 1, "render: tiles take one objective");
    tiles_ = std::make_unique<TiledGradient>(net, per_image[0], o_.tile);
    x_ = OwnedTensor();
    dx_ = OwnedTensor();
  } else {
    std::vector<std::string> outputs = eval_->layers();
    if (outputs.empty()) outputs.push_back(net.graph().input);  // image-only objectives (regularizers)
    Shape planned = image_.shape();
    if (crops()) {  // the network sees crop x crop windows only
      planned = Shape{o_.batch, 3, o_.ops.crop, o_.ops.crop};
      crop_x_ = OwnedTensor(planned, o_.device);
      crop_dx_ = OwnedTensor(planned, o_.device);
    }
    plan_ = net.plan(planned, outputs, PlanOptions{.backward = true, .precision = o_.precision});
  }
  const ExecScope scope(net_.context_of(plan_));
  if (!tiles_) eval_->bind(net, plan_, o_.device);
  input_transforms_ = o_.transforms;
  input_transforms_.pad_value = 0.f;  // in input space the neutral colour is the dataset mean, 0
  if (o_.ops.roll > 0 && !tiles_) {
    rolled_ = OwnedTensor(image_.shape(), o_.device);
    drolled_ = OwnedTensor(image_.shape(), o_.device);
  }
  if (o_.ops.blurs()) blur_tmp_ = OwnedTensor(image_.shape(), o_.device);
  for (int c = 0; c < 3; ++c) {  // x = pre(image) is increasing in the image: pre(0) <= x <= pre(1)
    clip_lo_[c] = pre_.offset[c] + std::min(0.f, pre_.scale[c]);
    clip_hi_[c] = pre_.offset[c] + std::max(0.f, pre_.scale[c]);
  }
  init_params();
  reset_counter();
}

// The source's parameters, and a fresh optimizer state. The default source (seed) draws exactly
// what ImageParam::init draws (image_source_test), so existing renders keep their bits.
void Renderer::init_params() {
  if (o_.source.kind == SourceKind::seed && !input_space())
    param_.init(params_, o_.seed);
  else
    cuviz::init_params(o_.source, param_.spec(), net_.graph().meta, o_.seed, params_);
  if (o_.optimizer == OptimizerKind::sgd) sgd_ = std::make_unique<Sgd>(params_.numel(), o_.device, o_.sgd);
  // Adam's moments (two buffers of P's size) only when Adam runs: a dream of a large photo keeps
  // only the buffers it uses.
  if (o_.optimizer == OptimizerKind::adam && !adam_)
    adam_ = std::make_unique<Adam>(params_.numel(), o_.device, o_.adam);
  if (o_.optimizer == OptimizerKind::lbfgs) {  // a fresh history (its buffers on P's device)
    const ExecScope scope(net_.context_of(plan_));
    lbfgs_ = std::make_unique<Lbfgs>(params_, dparams_, o_.lbfgs);
  }
  evaluations_ = 0;
}

Renderer::~Renderer() = default;

void Renderer::restart(const std::vector<Objective>& per_image) {
  objectives_ = per_image;
  auto next = std::make_unique<ObjectiveEvaluator>(resolved(per_image, net_.graph()), o_.batch);
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  auto listed = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out.empty() ? std::string("no layer") : out;
  };
  CUVIZ_CHECK(sorted(next->layers()) == sorted(eval_->layers()), "render: restart with objectives on ",
              listed(next->layers()), ", but the renderer was planned for ", listed(eval_->layers()),
              " (a restart keeps the plan; make a new Renderer for other layers)");
  // The captured step baked the old objectives' launch arguments (task counts, regularizer
  // weights) into its nodes: capture again at the next step that may replay.
  graph_.reset();
  if (tiles_) {
    CUVIZ_CHECK(per_image.size() == 1, "render: tiles take one objective");
    tiles_ = std::make_unique<TiledGradient>(net_, per_image[0], o_.tile);
    eval_ = std::move(next);
    init_params();
    if (adam_) adam_->reset();
    reset_counter();
    return;
  }
  const ExecScope scope(net_.context_of(plan_));
  next->take_buffers(std::move(*eval_));  // same layers: bind reuses the buffers, allocates nothing
  eval_ = std::move(next);  // an error in bind leaves it unbound: steps then throw until a restart succeeds
  eval_->bind(net_, plan_, o_.device);
  init_params();
  if (adam_) adam_->reset();
  reset_counter();
}

void Renderer::reset_counter() {
  const int64_t zero = 0;
  if (o_.device == Device::cuda)
    cuda_rt::memcpy(counter(), true, &zero, false, sizeof zero);
  else
    *counter() = zero;
}

int64_t Renderer::steps_done() const {
  if (o_.device == Device::cpu) return *counter();
  const ExecScope scope(net_.context_of(plan_));
  int64_t t = 0;
  cuda_rt::memcpy(&t, false, counter(), true, sizeof t);
  return t;
}

// Each stage is a ProfileRange (core/profiler.h): an NVTX range in the stage's category ("fwd
// param", "bwd transform", ...) and, under --profile, a row of the profile table; forward and
// backward name their layers inside (docs/profiling.md).
// Every stage runs on the plan's stream (the ExecScope of the caller), so nothing between them
// waits for the host.
const Tensor& Renderer::make_input(StepIndex t, bool transforms) {
  const Tensor* x = &x_;
  {
    CUVIZ_PROFILE_RANGE(ProfileStage::parameterization, ProfilePhase::forward, "param");
    if (input_space())
      input_to_image(pre_, params_, image_);  // the [0, 1] image, for image terms and outputs
    else
      param_.forward(params_, image_);
  }
  CUVIZ_PROFILE_RANGE(ProfileStage::transforms, ProfilePhase::forward, "transform");
  const TransformSpec& spec = transforms ? o_.transforms : TransformSpec::none();
  if (!input_space())
    transform_forward(spec, pre_, o_.seed, t, image_, x_);
  else if (spec.enabled)
    transform_forward(input_transforms_, Preprocess{}, o_.seed, t, params_, x_);
  else
    x = &params_;  // the parameters are the network input: exactly what the source set
  if (transforms && o_.ops.roll > 0) {
    roll_forward(o_.ops.roll, o_.seed, t, *x, rolled_);
    x = &rolled_;
  }
  if (crops()) {  // deepdraw's random window during the steps; its centre for the final evaluation
    crop_forward(transforms, o_.seed, t, *x, crop_x_);
    x = &crop_x_;
  }
  net_input_ = x;
  return *x;
}

// Tiles: dP = -d(tiled objective)/dx at the step's roll (the loss is -objective), through the host.
void Renderer::tiled_gradient_at(StepIndex t) {
  const uint64_t step = t.counter ? uint64_t(steps_done()) : t.value;
  OwnedTensor host;  // P on the host: a copy only when P lives on a device
  if (params_.device() != Device::cpu) {
    host = OwnedTensor(params_.shape());
    copy(params_, host);
  }
  OwnedTensor g = tiles_->gradient(params_.device() == Device::cpu ? params_ : host, o_.seed, step);
  tiled_objective_ = {tiles_->objective()};
  for (int64_t k = 0; k < g.numel(); ++k) g.data()[k] = -g.data()[k];  // image terms included, per tile
  copy(g, dparams_);
}

void Renderer::gradient_at(StepIndex t, bool relu_override) {
  ++evaluations_;
  if (tiles_) return tiled_gradient_at(t);
  const Tensor& x = make_input(t, true);
  plan_.set_relu_gradient_override(relu_override);
  net_.forward(plan_, x);
  {
    CUVIZ_PROFILE_RANGE(ProfileStage::objective, ProfilePhase::forward, "objective");
    eval_->compute_values(image_);
    eval_->seed();
  }
  // With param input and no transforms, the input's gradient is (up to the roll) P's own.
  const bool direct = input_space() && !o_.transforms.enabled;
  const bool roll = o_.ops.roll > 0;
  const Tensor& dnet = crops() ? crop_dx_ : direct && !roll ? dparams_ : dx_;
  net_.backward_to_input(plan_, dnet);
  plan_.set_relu_gradient_override(false);
  if (crops()) {  // the window's gradient in place, zero elsewhere (direct: no transform, no roll)
    CUVIZ_PROFILE_RANGE(ProfileStage::transforms, ProfilePhase::backward, "transform");
    crop_backward(true, o_.seed, t, crop_dx_, dparams_);
  } else {
    CUVIZ_PROFILE_RANGE(ProfileStage::transforms, ProfilePhase::backward, "transform");
    const Tensor* d = &dnet;
    if (roll) {
      const Tensor& back = direct ? dparams_ : drolled_;
      roll_backward(o_.ops.roll, o_.seed, t, dx_, back);
      d = &back;
    }
    if (!input_space())
      transform_backward(o_.transforms, pre_, o_.seed, t, *d, dimage_);
    else if (!direct)
      transform_backward(input_transforms_, Preprocess{}, o_.seed, t, *d, dparams_);
  }
  {  // image terms (total variation, ...) add their gradients to d(image)
    CUVIZ_PROFILE_RANGE(ProfileStage::objective, ProfilePhase::backward, "objective");
    if (input_space()) fill(dimage_, 0.f);
    eval_->add_image_gradients(image_, dimage_);
  }
  CUVIZ_PROFILE_RANGE(ProfileStage::parameterization, ProfilePhase::backward, "param");
  if (input_space())
    input_to_image_backward_add(pre_, dimage_, dparams_);
  else
    param_.backward(image_, dimage_, dparams_);
}

void Renderer::gradient(int t, bool relu_override) {
  const ExecScope scope(net_.context_of(plan_));
  gradient_at(StepIndex(uint64_t(t)), relu_override);
}

void Renderer::update() {
  CUVIZ_CHECK(!lbfgs_, "render: update() is the first-order optimizers' step; L-BFGS steps through step()");
  const ExecScope scope(net_.context_of(plan_));
  CUVIZ_PROFILE_RANGE(ProfileStage::optimizer, ProfilePhase::forward, "update");
  const StepOps& ops = o_.ops;
  const StepIndex t = StepIndex::at(counter());  // this update's number, counted from 0
  if (ops.grad_norm != GradNorm::none) normalize_gradient(ops.grad_norm, o_.batch, dparams_);
  if (ops.l2_decay != 0.f || ops.step_scale_end != 1.f)
    decay_and_schedule(ops.l2_decay, ops.step_scale_end, o_.steps, t, params_, dparams_);
  for (const StepHook& h : o_.hooks)
    if (h.before_update) h.before_update(params_, dparams_, t);
  if (sgd_)
    sgd_->step(params_, dparams_);
  else
    adam_->step_counted(params_, dparams_, counter());
  if (ops.clip) clip_channels(clip_lo_, clip_hi_, params_);
  if (ops.blurs()) {  // after the clip, as deepdraw's make_step (a blur keeps values inside the clip's box)
    const int radius = blur_radius(std::max(ops.blur_sigma_start, ops.blur_sigma_end));
    if (crops())  // deepdraw blurs the window this step updated, not the whole image
      blur_scheduled_window(ops.blur_sigma_start, ops.blur_sigma_end, radius, o_.steps, t, ops.crop, o_.seed, params_,
                            blur_tmp_);
    else
      blur_scheduled(ops.blur_sigma_start, ops.blur_sigma_end, radius, o_.steps, t, params_, blur_tmp_);
  }
  for (const StepHook& h : o_.hooks)
    if (h.after_update) h.after_update(params_, dparams_, t);
  if (o_.device == Device::cuda)
    cuda_rt::increment(counter());
  else
    ++*counter();
}

// The step reads its index from the counter, never from the host: the same launches serve every
// step, which is what lets one captured graph replay them all.
void Renderer::step_eager(bool relu_override) {
  gradient_at(StepIndex::at(counter()), relu_override);
  update();
}

// An unbound evaluator (a restart that failed) is not a capture failure: the eager step throws
// its error, and the graph stays possible for the renderer's next successful restart.
bool Renderer::graph_allowed() const {
  // SGD with momentum decides its first step on the host (Sgd::step), which a replay cannot.
  const bool host_optimizer = sgd_ && o_.sgd.momentum != 0.f;
  const bool host_hook = std::any_of(o_.hooks.begin(), o_.hooks.end(), [](const StepHook& h) { return h.needs_host; });
  return o_.device == Device::cuda && o_.cuda_graph && !graph_failed_ && net_.backend() == Backend::native &&
         !tiles_ && eval_->bound() && !eval_->reads_values_every_step() && !host_optimizer && !host_hook;
}

// Records one step. Launches queued during capture do not run: the graph's first replay is the
// step itself. On failure the capture is ended and its error cleared, and the loop goes on eagerly.
void Renderer::capture_step() {
  void* stream = net_.context_of(plan_).stream;
  std::string why;
  try {
    graph_.begin_capture(stream);
    step_eager(false);
    why = graph_.end_capture(stream);
  } catch (const std::exception& e) {  // any exception: a capture left open would fail every later call
    cuda_rt::CudaGraph::abandon_capture(stream);
    graph_.reset();
    why = e.what();
  }
  if (why.empty()) return;
  graph_failed_ = true;
  static std::atomic<bool> told{false};
  if (!told.exchange(true))
    std::fprintf(stderr, "cuviz: CUDA graph capture of the render step failed, running eagerly: %s\n", why.c_str());
}

// One L-BFGS iteration: it evaluates L (and dP) at the points it chooses through gradient_at, P
// being its x and dP its g. The step index stays the counter's (nothing depends on it: no
// transforms). Runs eagerly: every evaluation reads L back to the host.
void Renderer::step_lbfgs() {
  auto loss = [&] {
    gradient_at(StepIndex::at(counter()), false);
    double l = 0;
    for (double v : eval_->read_objectives()) l -= v / o_.batch;
    return l;
  };
  lbfgs_->iterate(loss);
  // The line search may accept an earlier trial than its last: the objective values must then be
  // P's again (progress, the loss curve, the NaN check), which a forward gives (dP is already
  // the accepted point's).
  if (!lbfgs_->last_evaluation_at_x()) {
    net_.forward(plan_, make_input(StepIndex::at(counter()), true));
    eval_->compute_values(image_);
  }
  if (o_.device == Device::cuda)
    cuda_rt::increment(counter());
  else
    ++*counter();
}

void Renderer::step(bool relu_override) {
  const ExecScope scope(net_.context_of(plan_));
  if (lbfgs_) return step_lbfgs();
  // Under --profile every step runs eagerly: per-op CUDA events need the launches outside a replay.
  if (relu_override || !graph_allowed() || active_profiler()) return step_eager(relu_override);
  if (!graph_.ready()) capture_step();
  if (!graph_.ready()) return step_eager(false);
  CUVIZ_PROFILE_RANGE(ProfileStage::step, ProfilePhase::none, "step (graph)");
  graph_.launch(net_.context_of(plan_).stream);
}

std::vector<double> Renderer::evaluate(int t, bool transforms) {
  if (tiles_) {  // the tiles without a roll
    OwnedTensor host(params_.shape());
    copy(params_, host);
    return {tiles_->value(host)};
  }
  const ExecScope scope(net_.context_of(plan_));
  net_.forward(plan_, make_input(uint64_t(t), transforms));
  eval_->compute_values(image_);
  return eval_->read_objectives();
}

std::vector<double> Renderer::last_objectives() {
  if (tiles_) return tiled_objective_;
  const ExecScope scope(net_.context_of(plan_));
  return eval_->read_objectives();
}

namespace {
// The first element of a host tensor that is NaN or infinite, or -1.
int64_t first_nonfinite(const Tensor& host) {
  const float* v = static_cast<const float*>(host.data());
  for (int64_t i = 0; i < host.numel(); ++i)
    if (!std::isfinite(v[i])) return i;
  return -1;
}
// A copy on the host (the tensor itself when it is there).
Tensor on_host(const Tensor& t, OwnedTensor& keep) {
  if (t.device() == Device::cpu) return t;
  keep = OwnedTensor(t.shape());
  copy(t, keep);
  return keep;
}
}  // namespace

void Renderer::check_finite(int step) {
  const std::vector<double> objective = last_objectives();
  for (size_t i = 0; i < objective.size(); ++i)
    if (!std::isfinite(objective[i]))
      throw Error(cat("render: the objective of image ", i, " is ", objective[i], " at step ", step,
                      " (not finite: check the learning rate, the objective and the model's weights); ",
                      explain_nonfinite(), "; nothing was written"));
  OwnedTensor keep;
  const ExecScope scope(net_.context_of(plan_));  // the copy of dP on the loop's stream
  const Tensor g = on_host(param_grad(), keep);
  if (const int64_t at = first_nonfinite(g); at >= 0)
    throw Error(cat("render: the gradient of image ", at / std::max<int64_t>(1, g.numel() / g.shape().n),
                    " is not finite at step ", step, " (", static_cast<const float*>(g.data())[at],
                    "); ", explain_nonfinite(), "; nothing was written"));
}

std::string Renderer::explain_nonfinite() {
  if (net_input_ == nullptr) return "no network input to check";
  const Tensor& x = network_input();
  OwnedTensor keep;
  const ExecScope loop_scope(net_.context_of(plan_));
  if (first_nonfinite(on_host(x, keep)) >= 0)
    return "the network's input is not finite (the image diverged: lower the learning rate)";
  // A plan keeping every layer's output (by layer name: an in-place layer's own value).
  std::vector<std::string> layers;
  for (const LayerDesc& l : net_.graph().layers) layers.push_back(l.name);
  Plan p = net_.plan(x.shape(), layers, PlanOptions{.precision = o_.precision});
  const ExecScope scope(net_.context_of(p));
  net_.forward(p, x);
  for (const std::string& name : p.layers()) {
    const Tensor a = net_.activation(p, name);
    OwnedTensor host(a.shape());
    net_.read_activation(p, name, host);
    if (const int64_t at = first_nonfinite(host); at >= 0) {
      const auto& all = net_.graph().layers;
      const auto l = std::find_if(all.begin(), all.end(), [&](const LayerDesc& d) { return d.name == name; });
      return cat("the first layer whose output is not finite is ", name, " (",
                 l != all.end() ? layer_kind_name(l->kind) : "?", ", value ", host.data()[at], ")");
    }
  }
  if (!tiles_) {
    std::string back;
    try {
      back = explain_nonfinite_backward(x);
    } catch (const Error&) {  // a diagnosis that fails must not hide the error it explains
    }
    if (!back.empty()) return "every layer's output is finite; " + back;
  }
  return "every layer's output is finite (the objective's own arithmetic or the backward overflowed)";
}

std::string Renderer::explain_nonfinite_backward(const Tensor& x) {
  const std::vector<std::string> outputs = eval_->layers();
  if (outputs.empty()) return "";
  // The layers the loop's plan runs (a forward plan for the same outputs), each a gradient tap.
  const Plan forward_only = net_.plan(x.shape(), outputs, PlanOptions{.precision = o_.precision});
  const std::vector<std::string> run = forward_only.layers();
  Plan p = net_.plan(x.shape(), outputs, PlanOptions{.backward = true, .precision = o_.precision, .grad_taps = run});
  ObjectiveEvaluator ev(resolved(objectives_, net_.graph()), o_.batch);
  const ExecScope scope(net_.context_of(p));
  ev.bind(net_, p, o_.device);
  net_.forward(p, x);
  ev.compute_values(image_);
  ev.seed();
  OwnedTensor dx(x.shape(), o_.device);
  net_.backward_to_input(p, dx);
  const auto& layers = net_.graph().layers;
  auto desc = [&](const std::string& name) {
    return std::find_if(layers.begin(), layers.end(), [&](const LayerDesc& d) { return d.name == name; });
  };
  for (size_t k = run.size(); k-- > 0;) {
    OwnedTensor keep;
    if (first_nonfinite(on_host(net_.tapped_grad(p, run[k]), keep)) < 0) continue;
    // The gradient of run[k]'s output is the sum of what its readers' backwards sent it.
    std::string reader;
    if (const auto l = desc(run[k]); l != layers.end())
      for (size_t j = k + 1; j < run.size() && reader.empty(); ++j)
        if (const auto r = desc(run[j]);
            r != layers.end() && std::find(r->inputs.begin(), r->inputs.end(), l->output) != r->inputs.end())
          reader = cat(run[j], " (", layer_kind_name(r->kind), ")");
    if (reader.empty())  // the objective's own seed
      return cat("the objective's gradient at ", run[k], "'s output (its seed) is not finite");
    return cat("walking back, the first layer whose input gradient is not finite is ", reader, " (the gradient of ",
               run[k], "'s output)");
  }
  OwnedTensor keep;
  if (!run.empty() && first_nonfinite(on_host(dx, keep)) >= 0) {
    const auto l = desc(run.front());
    return cat("walking back, the first layer whose input gradient is not finite is ", run.front(), " (",
               l != layers.end() ? layer_kind_name(l->kind) : "?", ": the gradient of the network's input)");
  }
  return "";
}

std::vector<double> Renderer::part_values(const std::vector<Objective>& parts, int image) {
  CUVIZ_CHECK(!tiles_, "render: part values of a tiled render");
  const ExecScope scope(net_.context_of(plan_));
  eval_->read_objectives();
  std::vector<double> out;
  for (const Objective& p : parts) out.push_back(eval_->part_value(p, image));
  return out;
}

void Renderer::images(const Tensor& out) {
  const ExecScope scope(net_.context_of(plan_));
  if (input_space())
    input_to_image(pre_, params_, image_);
  else
    param_.forward(params_, image_);
  copy(image_, out);
}

namespace {
RenderProfileHook& profile_hook() {
  static RenderProfileHook hook;
  return hook;
}
}  // namespace

void set_render_profile_hook(RenderProfileHook hook) { profile_hook() = std::move(hook); }

std::vector<LayerInfo> Renderer::layer_info() const {
  if (tiles_) return {};
  return net_.describe(plan_);
}

RenderResult render_loop(Renderer& r, const std::function<void(const RenderProgress&)>& progress) {
  if (profile_hook()) {
    profile_hook()(r);
    throw ProfileFinished{};
  }
  const RenderOptions& o = r.options();
  RenderResult result;
  result.images = OwnedTensor(Shape{o.batch, 3, o.h(), o.w()});
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t evals0 = r.evaluations();
  // Ctrl-C or SIGTERM during the loop: stop between two steps, before anything is written
  // (core/interrupt.h; one atomic load per step).
  InterruptScope interruptible;
  for (int t = 0; t < o.steps; ++t) {
    check_interrupt(cat("stopped at step ", t, " of ", o.steps, "; its result was not written"));
    r.step(t < o.relu_override_steps);
    const int done = t + 1;
    result.steps_run = done;
    // L-BFGS may stop before the steps run out (a tolerance met, or no descent left): the loop
    // ends there, reporting this step like the last one.
    const LbfgsStop stop = r.optimizer_stop();
    if (stop != LbfgsStop::running) result.stop = lbfgs_stop_name(stop);
    const bool last = done == o.steps || stop != LbfgsStop::running;
    const bool checkpoint = std::find(o.checkpoints.begin(), o.checkpoints.end(), done) != o.checkpoints.end();
    const bool report = done % o.progress_every == 0 || last || checkpoint;
    // A NaN or Inf in an objective or in dP (a diverging learning rate, activations that overflow,
    // an objective that does): every later step and every output would carry it. Stop here,
    // before anything is written, naming the layer where it appeared. On the CPU every step (the
    // values are on the host: a scan of N objectives and of dP, small beside a forward and a
    // backward); on a GPU at the read-backs the loop makes anyway.
    if (report || o.device == Device::cpu) r.check_finite(done);
    if (report) {
      RenderProgress p;
      p.step = done;
      p.steps = last ? done : o.steps;  // an early stop ends the bar full
      p.objective = r.last_objectives();  // of this step's (transformed) images, before the update
      result.history_steps.push_back(done);
      result.history.push_back(p.objective);
      if (checkpoint) {
        r.images(result.images);
        p.images = &result.images;
      }
      p.seconds = seconds_since(t0);
      if (progress) progress(p);
    }
    if (last) break;
  }
  result.evaluations = r.evaluations() - evals0;
  result.seconds = seconds_since(t0);  // synchronised: the last step read its objectives back

  // The final images, and their objectives without transforms (preprocessing only).
  result.objective = r.evaluate(o.steps, false);
  r.images(result.images);
  // The update after the last checked step can still overflow: nothing non-finite leaves the
  // loop to be written (one scan of the final images).
  for (size_t i = 0; i < result.objective.size(); ++i)
    if (!std::isfinite(result.objective[i]))
      throw Error(cat("render: the final objective of image ", i, " is ", result.objective[i], " (not finite); ",
                      r.explain_nonfinite(), "; nothing was written"));
  if (const int64_t at = first_nonfinite(result.images); at >= 0)
    throw Error(cat("render: the final image ", at / std::max<int64_t>(1, result.images.numel() / o.batch),
                    " holds a non-finite value (the last update diverged: lower the learning rate); nothing was written"));
  return result;
}

RenderResult render(const Network& net, const std::vector<Objective>& per_image, const RenderOptions& o,
                    const std::function<void(const RenderProgress&)>& progress) {
  const auto t_setup = std::chrono::steady_clock::now();
  Renderer r(net, per_image, o);
  const double setup = seconds_since(t_setup);
  RenderResult result = render_loop(r, progress);
  result.setup_seconds = setup;
  return result;
}

}  // namespace cuviz
