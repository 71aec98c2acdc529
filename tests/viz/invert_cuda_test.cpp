// Feature inversion, the caricature and the guided dream on CUDA against the CPU: a few steps of the
// same seeded loop on a small network (the objective terms themselves are compared in
// objective_cuda_test). Skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>

#include "../nn/reference_net.h"
#include "method_test_util.h"
#include "nn/network.h"
#include "test_util.h"
#include "viz/dream.h"
#include "viz/image_source.h"
#include "viz/invert.h"

namespace cuviz {
namespace {

InvertResult run_invert(Device device, bool caricature) {
  const Network net(test::unit_net(), device);
  OwnedTensor photo(Shape{1, 3, 32, 32});
  test::fill_uniform(photo, 12, 0.1, 0.9);
  const OwnedTensor x0 = input_from_image(photo, net.graph().meta);
  const OwnedTensor target = layer_features(net, "inc/output", x0);
  InvertSettings s;
  s.layer = "inc/output";
  s.size = 32;
  s.steps = 8;
  s.caricature = caricature;
  return invert(net, s, target);
}

TEST(InvertCuda, InversionStepsMatchTheCpu) {
  CUVIZ_REQUIRE_GPU();
  const InvertResult cpu = run_invert(Device::cpu, false), gpu = run_invert(Device::cuda, false);
  // Summation orders differ (~1e-6 relative per step); the mean-|g| normalised SGD keeps them at
  // that size over 8 steps.
  EXPECT_TRUE(test::all_close(gpu.image, cpu.image, 1e-3));
  EXPECT_NEAR(gpu.objective, cpu.objective, 1e-3 * std::abs(cpu.objective) + 1e-6);
  EXPECT_NEAR(gpu.relative_error, cpu.relative_error, 1e-3);
}

TEST(InvertCuda, CaricatureStepsMatchTheCpu) {
  CUVIZ_REQUIRE_GPU();
  const InvertResult cpu = run_invert(Device::cpu, true), gpu = run_invert(Device::cuda, true);
  EXPECT_TRUE(test::all_close(gpu.image, cpu.image, 1e-3));
  EXPECT_NEAR(gpu.objective, cpu.objective, 1e-3 * std::abs(cpu.objective) + 1e-6);
}

TEST(InvertCuda, GuidedDreamMatchesTheCpu) {
  CUVIZ_REQUIRE_GPU();
  OwnedTensor photo(Shape{1, 3, 40, 36}), guide_img(Shape{1, 3, 24, 24});
  test::fill_uniform(photo, 13, 0.1, 0.9);
  test::fill_uniform(guide_img, 14, 0.1, 0.9);
  const std::string guide_path = cat(::testing::TempDir(), "/invert_cuda_guide.png");
  write_png(guide_path, tensor_to_image(guide_img, 0));
  DreamSettings s;
  s.layer = "inc/output";
  s.octaves = 2;
  s.iters = 3;
  s.jitter = 4;
  s.guide = guide_path;
  const Network cpu_net(test::unit_net(), Device::cpu), gpu_net(test::unit_net(), Device::cuda);
  const DreamResult cpu = dream(cpu_net, s, photo), gpu = dream(gpu_net, s, photo);
  EXPECT_TRUE(test::all_close(gpu.image, cpu.image, 1e-3));
  ASSERT_EQ(gpu.octaves.size(), cpu.octaves.size());
  for (size_t k = 0; k < cpu.octaves.size(); ++k)
    EXPECT_NEAR(gpu.octaves[k].objective_end, cpu.octaves[k].objective_end,
                1e-3 * std::abs(cpu.octaves[k].objective_end) + 1e-6);
}

}  // namespace
}  // namespace cuviz
