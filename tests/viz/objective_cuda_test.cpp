// Every registered objective term evaluated on CUDA against the CPU: the slot values per image,
// the seeds in the activation gradients and the regularizers' image gradients, on the same
// network, input and objective (item terms, diversity, interpolation, products, regularizers,
// l2_to, and feature inversion's alpha_norm, tv_beta, dot_to and the guided dream's guide). Skips
// without a GPU.
#include <gtest/gtest.h>

#include <cmath>

#include "../nn/reference_net.h"
#include "nn/network.h"
#include "test_util.h"
#include "viz/objective_eval.h"
#include "viz/term_style.h"

namespace cuviz {
namespace {

OwnedTensor on(const Tensor& t, Device device) {
  OwnedTensor out(t.shape(), device);
  copy(t, out);
  return out;
}

struct Evaluated {
  std::vector<double> values;
  std::vector<OwnedTensor> grads;  // per layer, on the CPU
  OwnedTensor dimage;
};

Evaluated evaluate(Device device, const Objective& obj, const Tensor& x_cpu, int n) {
  Network net(test::small_net(), device);
  ObjectiveEvaluator eval({resolve_objective(obj, net.graph())}, n);
  Plan plan = net.plan(x_cpu.shape(), eval.layers(), PlanOptions{.backward = true});
  eval.bind(net, plan, device);
  const OwnedTensor x = on(x_cpu, device);
  OwnedTensor dimage(x_cpu.shape(), device);
  fill(dimage, 0.f);
  net.forward(plan, x);
  for (const std::string& l : eval.layers()) fill(net.activation_grad(plan, l), 0.f);
  eval.compute_values(x);
  eval.seed();
  eval.add_image_gradients(x, dimage);
  Evaluated out;
  out.values = eval.read_objectives();
  for (const std::string& l : eval.layers()) out.grads.push_back(on(net.activation_grad(plan, l), Device::cpu));
  out.dimage = on(dimage, Device::cpu);
  return out;
}

void expect_same(const Objective& obj, int n) {
  OwnedTensor x(Shape{n, 3, 12, 12});
  test::fill_uniform(x, 17, 0, 1);
  const Evaluated cpu = evaluate(Device::cpu, obj, x, n), gpu = evaluate(Device::cuda, obj, x, n);
  // Block-tree and atomic summation orders against the CPU's sequential ones: float rounding
  // of sums of a few hundred terms, ~1e-6 relative.
  ASSERT_EQ(gpu.values.size(), cpu.values.size());
  for (size_t i = 0; i < cpu.values.size(); ++i)
    EXPECT_NEAR(gpu.values[i], cpu.values[i], 1e-5 * std::abs(cpu.values[i]) + 1e-6) << obj.str() << ", image " << i;
  ASSERT_EQ(gpu.grads.size(), cpu.grads.size());
  for (size_t l = 0; l < cpu.grads.size(); ++l)
    EXPECT_TRUE(test::all_close(gpu.grads[l], cpu.grads[l], 1e-6, 1e-5)) << obj.str() << ", layer " << l;
  EXPECT_TRUE(test::all_close(gpu.dimage, cpu.dimage, 1e-6, 1e-5)) << obj.str();
}

TEST(ObjectiveCuda, WindowsAndDeepdream) {
  CUVIZ_REQUIRE_GPU();
  expect_same(parse_objective("inc/output:3 + neuron(conv1,1,2,3) + 0.5*deepdream(conv1) - logit:2"), 2);
  expect_same(parse_objective("interpolate(conv1,1,inc/output,6)"), 3);
}

TEST(ObjectiveCuda, Directions) {
  CUVIZ_REQUIRE_GPU();
  std::vector<float> v(14);
  for (int i = 0; i < 14; ++i) v[size_t(i)] = float(std::cos(0.5 + i));
  expect_same(direction("inc/output", v) - 2.0 * direction_cossim("inc/output", v), 2);
}

TEST(ObjectiveCuda, DiversityProductsAndRegularizers) {
  CUVIZ_REQUIRE_GPU();
  expect_same(parse_objective("inc/output:6 - 2*diversity(conv1) + conv1:0 * deepdream(inc/output)"), 3);
  expect_same(parse_objective("conv1:2 - 0.05*l1 - 0.25*tv - blur + l2(0.3)"), 2);
}

TEST(ObjectiveCuda, L2To) {
  CUVIZ_REQUIRE_GPU();
  Network net(test::small_net(), Device::cpu);
  OwnedTensor guide(Shape{1, 3, 12, 12});
  test::fill_uniform(guide, 8, 0, 1);
  Plan plan = net.plan(guide.shape(), {"conv1"});
  net.forward(plan, guide);
  const OwnedTensor target = on(net.activation(plan, "conv1"), Device::cpu);
  expect_same(channel("inc/output", 1) - l2_to("conv1", on(target, Device::cpu)), 2);
}

TEST(ObjectiveCuda, InversionPriorsDotToAndGuide) {
  CUVIZ_REQUIRE_GPU();
  expect_same(parse_objective("conv1:2 - 0.01*alpha_norm(6) - 0.5*tv_beta(2) - 0.2*tv_beta(1.5) + alpha_norm(3,0.2)"),
              2);
  Network net(test::small_net(), Device::cpu);
  OwnedTensor other(Shape{1, 3, 12, 12});
  test::fill_uniform(other, 9, 0, 1);
  Plan plan = net.plan(other.shape(), {"inc/output"});
  net.forward(plan, other);
  const OwnedTensor target = on(net.activation(plan, "inc/output"), Device::cpu);
  expect_same(0.5 * dot_to("inc/output", on(target, Device::cpu)) + blur(), 2);
  // The guide at another size than the images' (as a guide photo is).
  OwnedTensor g(Shape{1, target.c(), 2, 3});
  test::fill_uniform(g, 10, -1, 1);
  expect_same(3.0 * guide("inc/output", on(g, Device::cpu)), 3);
}

// Style transfer's terms: content (l2_to's item kernels with the MSE norm), style (the fused
// Gram op on the tiled GEMM, two targets on one blob) and tv2.
TEST(ObjectiveCuda, StyleTransferTerms) {
  CUVIZ_REQUIRE_GPU();
  Network net(test::small_net(), Device::cpu);
  OwnedTensor guide(Shape{1, 3, 12, 12});
  test::fill_uniform(guide, 9, 0, 1);
  Plan plan = net.plan(guide.shape(), {"conv1", "inc/output"});
  net.forward(plan, guide);
  const OwnedTensor a = on(net.activation(plan, "conv1"), Device::cpu);
  const OwnedTensor f = on(net.activation(plan, "inc/output"), Device::cpu);
  OwnedTensor half = gram_matrix(f, GramNorm::chw);
  for (int64_t k = 0; k < half.numel(); ++k) half.data()[k] *= 0.5f;
  expect_same(-(5.0 * content_loss("conv1", on(a, Device::cpu)) +
                100.0 * style_loss("inc/output", gram_matrix(f, GramNorm::chw)) +
                30.0 * style_loss("inc/output", std::move(half)) +
                2.0 * style_loss("conv1", gram_matrix(a, GramNorm::gatys), GramNorm::gatys) + 1e-3 * total_variation_squared()),
              2);
}

}  // namespace
}  // namespace cuviz
