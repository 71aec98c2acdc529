// The method layer on CUDA: every step op against the CPU, the .npy start's bit-exact network
// input on the device, and a DeepDream-like render (param input, roll, mean |g| normalisation,
// SGD, L2 decay, schedule, blur, clip) replayed as a CUDA graph against eager launches (same bits)
// and against the CPU. Skips without a device.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "../nn/reference_net.h"
#include "io/npy.h"
#include "nn/network.h"
#include "test_util.h"
#include "method_test_util.h"
#include "viz/method_ops.h"
#include "viz/octaves.h"
#include "viz/render.h"

namespace cuviz {
namespace {

OwnedTensor to_device(const Tensor& t) {
  OwnedTensor out(t.shape(), Device::cuda);
  copy(t, out);
  return out;
}

TEST(MethodOpsCuda, EveryOpMatchesTheCpu) {
  CUVIZ_REQUIRE_GPU();
  OwnedTensor p(Shape{2, 3, 13, 11}), g(p.shape()), tmp(p.shape());
  test::fill_uniform(p, 1, -2, 2);
  test::fill_uniform(g, 2);
  OwnedTensor dp = to_device(p), dg = to_device(g), dtmp(p.shape(), Device::cuda), dout(p.shape(), Device::cuda);
  OwnedTensor out(p.shape());
  // The roll moves floats: exact.
  roll_forward(5, 3, StepIndex(7), p, out);
  roll_forward(5, 3, StepIndex(7), dp, dout);
  EXPECT_TRUE(test::same_bits(test::host_copy(dout), out));
  roll_backward(5, 3, StepIndex(7), p, out);
  roll_backward(5, 3, StepIndex(7), dp, dout);
  EXPECT_TRUE(test::same_bits(test::host_copy(dout), out));
  // Blur: the same taps, expf on both sides (within an ulp or two), same summation order.
  OwnedTensor pb = test::host_copy(dp);
  OwnedTensor dpb = to_device(p);
  blur_scheduled(0.8f, 2.f, blur_radius(2.f), 4, StepIndex(1), pb, tmp);
  blur_scheduled(0.8f, 2.f, blur_radius(2.f), 4, StepIndex(1), dpb, dtmp);
  EXPECT_TRUE(test::all_close(test::host_copy(dpb), pb, 1e-6, 1e-6));
  const float lo[3] = {-1.f, 0.f, -0.5f}, hi[3] = {1.f, 0.5f, 1.5f};
  OwnedTensor pc = test::host_copy(dp), dpc = to_device(p);
  clip_channels(lo, hi, pc);
  clip_channels(lo, hi, dpc);
  EXPECT_TRUE(test::same_bits(test::host_copy(dpc), pc));
  OwnedTensor gc = test::host_copy(dg), dgc = to_device(g);
  decay_and_schedule(0.3f, 0.5f, 5, StepIndex(3), p, gc);
  decay_and_schedule(0.3f, 0.5f, 5, StepIndex(3), dp, dgc);
  EXPECT_TRUE(test::all_close(test::host_copy(dgc), gc, 1e-6, 1e-6));
  Preprocess pre = Preprocess::from_meta(ModelMeta{});
  OwnedTensor img(p.shape()), dimg(p.shape(), Device::cuda);
  input_to_image(pre, p, img);
  input_to_image(pre, dp, dimg);
  EXPECT_TRUE(test::all_close(test::host_copy(dimg), img, 0, 1e-6));
  OwnedTensor acc = test::host_copy(dg), dacc = to_device(g);
  input_to_image_backward_add(pre, p, acc);
  input_to_image_backward_add(pre, dp, dacc);
  EXPECT_TRUE(test::all_close(test::host_copy(dacc), acc, 1e-6, 1e-6));
}

TEST(MethodOpsCuda, NpyStartIsTheNetworkInputBitForBit) {
  CUVIZ_REQUIRE_GPU();
  OwnedTensor x(Shape{1, 3, 16, 16});
  test::fill_uniform(x, 4, -150.0, 150.0);
  x.data()[0] = -0.f;
  const std::string path = cat(::testing::TempDir(), "/start_cuda.npy");
  write_npy(path, x);
  Network net(test::unit_net(), Device::cuda);
  RenderOptions o;
  o.size = 16;
  o.param = ParamKind::input;
  o.transforms = TransformSpec::none();
  o.source = ImageSource::parse(path);
  o.device = Device::cuda;
  Renderer r(net, {channel("inc/output", 3)}, o);
  r.gradient(0);
  EXPECT_TRUE(test::same_bits(test::host_copy(r.network_input()), x));
}

RenderOptions deepdream_like(Device device, bool graph) {
  RenderOptions o;
  o.size = 24;
  o.batch = 2;
  o.steps = 12;
  o.seed = 2;
  o.progress_every = 4;
  o.checkpoints = {6};
  o.param = ParamKind::input;
  o.source = ImageSource::parse("noise");
  o.transforms = TransformSpec::none();
  o.optimizer = OptimizerKind::sgd;
  o.sgd.lr = 0.05f;
  o.sgd.momentum = 0.f;
  o.ops.grad_norm = GradNorm::mean_abs;
  o.ops.l2_decay = 0.1f;
  o.ops.step_scale_end = 0.5f;
  o.ops.roll = 4;
  o.ops.blur_sigma_start = 0.6f;
  o.ops.blur_sigma_end = 0.3f;
  o.ops.clip = true;
  o.device = device;
  o.cuda_graph = graph;
  return o;
}

TEST(MethodOpsCuda, DeepDreamLikeLoopReplaysAsAGraphAndMatchesTheCpu) {
  CUVIZ_REQUIRE_GPU();
  const std::vector<Objective> obj = {parse_objective("deepdream(inc/output)")};
  Network gpu(test::unit_net(), Device::cuda), cpu(test::unit_net(), Device::cpu);
  Renderer graph(gpu, obj, deepdream_like(Device::cuda, true)), eager(gpu, obj, deepdream_like(Device::cuda, false));
  const RenderResult a = render_loop(graph), b = render_loop(eager);
  EXPECT_TRUE(graph.graph_active()) << "the method ops kept the step from being captured";
  EXPECT_TRUE(test::same_bits(a.images, b.images));
  EXPECT_EQ(a.history, b.history);
  const RenderResult c = render(cpu, obj, deepdream_like(Device::cpu, false));
  // Reductions differ in order (mean |g|, the network's sums): ~1e-6 relative per step.
  EXPECT_TRUE(test::all_close(a.images, c.images, 1e-3));
}

// A kernel-only hook is captured into the step's graph and replays like the built-in op it
// repeats; a hook that needs the host keeps the steps eager.
TEST(MethodOpsCuda, KernelHooksReplayInTheGraphHostHooksStayEager) {
  CUVIZ_REQUIRE_GPU();
  const std::vector<Objective> obj = {parse_objective("deepdream(inc/output)")};
  Network gpu(test::unit_net(), Device::cuda);
  const RenderOptions builtin = deepdream_like(Device::cuda, true);
  RenderOptions hooked = builtin;
  hooked.ops.l2_decay = 0.f;
  hooked.ops.step_scale_end = 1.f;
  hooked.hooks.push_back(StepHook{.before_update = [&](const Tensor& p, const Tensor& g, StepIndex t) {
    decay_and_schedule(0.1f, 0.5f, builtin.steps, t, p, g);
  }});
  Renderer a(gpu, obj, builtin), b(gpu, obj, hooked);
  const RenderResult ra = render_loop(a), rb = render_loop(b);
  EXPECT_TRUE(b.graph_active());
  EXPECT_TRUE(test::same_bits(ra.images, rb.images));
  hooked.hooks[0].needs_host = true;
  Renderer c(gpu, obj, hooked);
  const RenderResult rc = render_loop(c);
  EXPECT_FALSE(c.graph_active());
  EXPECT_TRUE(test::same_bits(ra.images, rc.images));
}

// The octave driver with the loop on the GPU (the detail is carried on the host between octaves).
TEST(MethodOpsCuda, OctavesOnTheGpuMatchTheCpu) {
  CUVIZ_REQUIRE_GPU();
  const std::vector<Objective> obj = {parse_objective("deepdream(inc/output)")};
  OwnedTensor base(Shape{1, 3, 28, 28});
  test::fill_uniform(base, 3, -0.4, 0.4);
  const OctaveSpec spec{.octaves = 3, .scale = 1.4f, .steps = 4};
  Network gpu(test::unit_net(), Device::cuda), cpu(test::unit_net(), Device::cpu);
  RenderOptions o = deepdream_like(Device::cuda, true);
  o.batch = 1;
  o.source = ImageSource{};
  const OctaveResult a = render_octaves(gpu, obj, o, base, spec);
  o.device = Device::cpu;
  const OctaveResult b = render_octaves(cpu, obj, o, base, spec);
  EXPECT_EQ(a.sizes, b.sizes);
  EXPECT_TRUE(test::all_close(a.input, b.input, 1e-3));
}

// The image-space kernels added for deepdraw and the octaves, against the CPU: the crop and its
// adjoint (moves floats: exact), the blur's adjoint (same taps and order: within float rounding),
// the antialiased resize and its adjoint (double accumulation on both sides).
TEST(MethodOpsCuda, CropBlurAdjointAndResizeMatchTheCpu) {
  CUVIZ_REQUIRE_GPU();
  OwnedTensor p(Shape{2, 3, 13, 17}), win(Shape{2, 3, 9, 9});
  test::fill_uniform(p, 4, -2, 2);
  test::fill_uniform(win, 5, -1, 1);
  OwnedTensor dp = to_device(p), dwin = to_device(win);
  for (const bool random : {true, false}) {
    OwnedTensor c(win.shape()), dc(win.shape(), Device::cuda), b(p.shape()), db(p.shape(), Device::cuda);
    crop_forward(random, 6, StepIndex(3), p, c);
    crop_forward(random, 6, StepIndex(3), dp, dc);
    EXPECT_TRUE(test::same_bits(test::host_copy(dc), c));
    crop_backward(random, 6, StepIndex(3), win, b);
    crop_backward(random, 6, StepIndex(3), dwin, db);
    EXPECT_TRUE(test::same_bits(test::host_copy(db), b));
  }
  OwnedTensor tmp(p.shape()), dtmp(p.shape(), Device::cuda), pa = test::host_copy(p), dpa = to_device(p);
  OwnedTensor pw = test::host_copy(p), dpw = to_device(p);
  blur_scheduled_window(2.f, 0.5f, blur_radius(2.f), 3, StepIndex(1), 9, 6, pw, tmp);
  blur_scheduled_window(2.f, 0.5f, blur_radius(2.f), 3, StepIndex(1), 9, 6, dpw, dtmp);
  EXPECT_TRUE(test::all_close(test::host_copy(dpw), pw, 1e-6, 1e-6));
  blur_scheduled_adjoint(0.8f, 2.5f, blur_radius(2.5f), 4, StepIndex(2), pa, tmp);
  blur_scheduled_adjoint(0.8f, 2.5f, blur_radius(2.5f), 4, StepIndex(2), dpa, dtmp);
  EXPECT_TRUE(test::all_close(test::host_copy(dpa), pa, 1e-6, 1e-6));
  for (const auto& [h, w] : std::vector<std::pair<int, int>>{{5, 6}, {29, 40}, {7, 33}}) {
    OwnedTensor r(Shape{2, 3, h, w}), dr(r.shape(), Device::cuda), ra(p.shape()), dra(p.shape(), Device::cuda);
    resize_forward(p, r);
    resize_forward(dp, dr);
    EXPECT_TRUE(test::all_close(test::host_copy(dr), r, 1e-6, 1e-6)) << h << "x" << w;
    OwnedTensor y(r.shape());
    test::fill_uniform(y, 7, -1, 1);
    resize_adjoint(y, ra);
    resize_adjoint(to_device(y), dra);
    EXPECT_TRUE(test::all_close(test::host_copy(dra), ra, 1e-6, 1e-6)) << h << "x" << w;
  }
}

}  // namespace
}  // namespace cuviz
