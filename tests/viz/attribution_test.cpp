// The Attributor: input gradients against central differences of its own objective values on a
// tiny network (per-image objectives, an image term), equal value for value to the gradient a
// Renderer step computes for the same objective and input (tiny network and GoogLeNet on a photo),
// saliency = max over channels of |gradient|, and clear errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

#include "../nn/reference_net.h"
#include "io/image.h"
#include "io/npy.h"
#include "loaders/model.h"
#include "nn/network.h"
#include "test_util.h"
#include "method_test_util.h"
#include "viz/attribution.h"
#include "viz/image_source.h"
#include "viz/render.h"

namespace cuviz {
namespace {

// d objective_i / d x_i along random directions (image i only) against central differences of
// objective_i (an image term included; a smooth one: tv's kinks need render_test's Richardson steps),
// at eps 1e-2, 1e-3 and 1e-4: the same acceptance as render_test's chain check (3% of the
// derivative plus float noise 2e-7 |objective| / eps).
TEST(Attributor, GradientMatchesFiniteDifferences) {
  Network net(test::unit_net(), Device::cpu);
  const std::vector<Objective> obj = {parse_objective("logit:2"), parse_objective("inc/output:3 - 0.5*l2(0.3)")};
  OwnedTensor x(Shape{2, 3, 16, 16});
  test::fill_uniform(x, 21, -0.5, 0.5);
  Attributor a(net, obj, x.shape());
  const OwnedTensor g = a.gradient(x);
  const std::vector<double> v0 = a.objectives();
  EXPECT_EQ(v0, a.values(x));
  std::mt19937_64 rng(2);
  std::uniform_real_distribution<double> u(-1, 1);
  const int64_t per = x.numel() / 2;
  for (int i = 0; i < 2; ++i)
    for (int trial = 0; trial < 2; ++trial) {
      std::vector<double> d(static_cast<size_t>(per));
      double analytic = 0;
      for (int64_t k = 0; k < per; ++k) {
        d[size_t(k)] = u(rng);
        analytic += g.data()[i * per + k] * d[size_t(k)];
      }
      auto at = [&](double s) {
        OwnedTensor xs(x.shape());
        copy(x, xs);
        for (int64_t k = 0; k < per; ++k) xs.data()[i * per + k] = float(x.data()[i * per + k] + s * d[size_t(k)]);
        return a.values(xs)[size_t(i)];
      };
      bool agrees = false;
      std::string seen;
      for (double eps : {1e-2, 1e-3, 1e-4}) {
        const double fd = (at(eps) - at(-eps)) / (2 * eps);
        agrees = agrees || std::abs(fd - analytic) <= 3e-2 * std::abs(analytic) + 2e-7 * std::abs(v0[size_t(i)]) / eps;
        seen += cat(" eps ", eps, ": ", fd, ";");
      }
      EXPECT_TRUE(agrees) << "image " << i << ": gradient " << analytic << ", differences" << seen;
      EXPECT_GT(std::abs(analytic), 1e-3) << "image " << i << ": too small to check";
    }
}

TEST(Attributor, SaliencyIsTheLargestAbsoluteGradientOverChannels) {
  OwnedTensor g(Shape{1, 3, 1, 2});
  const float v[6] = {0.5f, -2.f, -0.75f, 1.f, 0.25f, 0.f};  // channel-major: (c, x)
  for (int k = 0; k < 6; ++k) g.data()[k] = v[k];
  const OwnedTensor s = saliency(g);
  ASSERT_EQ(s.shape(), (Shape{1, 1, 1, 2}));
  EXPECT_EQ(s.at(0, 0, 0, 0), 0.75f);  // max(|0.5|, |-0.75|, |0.25|)
  EXPECT_EQ(s.at(0, 0, 0, 1), 2.f);    // max(|-2|, |1|, |0|)
}

// The Renderer with param input and no transforms runs the same stages: its dP is dL/dx with
// L = -objective (N = 1), so the Attributor's gradient is -dP, value for value.
void expect_renderer_gradient(const Network& net, const Objective& obj, const ImageSource& source, const Tensor& x) {
  RenderOptions o;
  o.size = x.h();
  o.param = ParamKind::input;
  o.transforms = TransformSpec::none();
  o.source = source;
  Renderer r(net, {obj}, o);
  ASSERT_EQ(std::memcmp(r.params().data(), x.data(), size_t(x.numel()) * sizeof(float)), 0);
  r.gradient(0);
  Attributor a(net, {obj}, x.shape());
  const OwnedTensor g = a.gradient(x);
  int64_t differ = 0, nonzero = 0;
  for (int64_t k = 0; k < g.numel(); ++k) {
    differ += g.data()[k] != -r.param_grad().data()[k];
    nonzero += g.data()[k] != 0.f;
  }
  EXPECT_EQ(differ, 0) << "of " << g.numel();
  EXPECT_GT(nonzero, g.numel() / 2);
  EXPECT_EQ(a.objectives(), r.last_objectives());
}

TEST(Attributor, EqualsTheRenderersGradientOnTheSmallNet) {
  Network net(test::unit_net(), Device::cpu);
  OwnedTensor x(Shape{1, 3, 16, 16});
  test::fill_uniform(x, 5, -0.5, 0.5);
  const std::string path = cat(::testing::TempDir(), "/attribution.npy");
  write_npy(path, x);
  expect_renderer_gradient(net, parse_objective("inc/output:3 - 0.1*tv + logit:1"), ImageSource::parse(path), x);
}

TEST(Attributor, EqualsTheRenderersGradientOnGoogLeNet) {
  if (!std::getenv("CUVIZ_MODEL_PATH")) GTEST_SKIP() << "CUVIZ_MODEL_PATH not set (point it at the weights directory)";
  const std::string photo = std::string(CUVIZ_SHARED_DIR) + "/images/coffee.png";
  std::unique_ptr<Network> net;
  try {
    net = std::make_unique<Network>(load_model("googlenet"), Device::cpu);
    read_image(photo);
  } catch (const Error& e) {
    GTEST_SKIP() << "googlenet or the photo not found: " << e.what();
  }
  const OwnedTensor x = load_network_input(photo, net->graph().meta, 1, 224);
  expect_renderer_gradient(*net, parse_objective("logit:967"), ImageSource::parse(photo), x);  // espresso
  const OwnedTensor s = saliency_map(*net, parse_objective("logit:967"), photo);
  double total = 0;
  for (int64_t k = 0; k < s.numel(); ++k) total += s.data()[k];
  EXPECT_GT(total, 0.0);
}

TEST(Attributor, WrongInputShapeIsAClearError) {
  Network net(test::unit_net(), Device::cpu);
  Attributor a(net, {parse_objective("logit:1")}, Shape{1, 3, 16, 16});
  OwnedTensor x(Shape{1, 3, 12, 12});
  fill(x, 0.f);
  try {
    a.gradient(x);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(Shape{1, 3, 12, 12}.str()), std::string::npos) << m;
    EXPECT_NE(m.find(Shape{1, 3, 16, 16}.str()), std::string::npos) << m;
  }
  EXPECT_THROW(Attributor(net, {parse_objective("inc/output:99")}, Shape{1, 3, 16, 16}), Error);
}

}  // namespace
}  // namespace cuviz
