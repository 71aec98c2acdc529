// Neuron groups (viz/groups.h) on real GoogLeNet: the activations cuviz factors are the
// independent PyTorch implementation's (tests/fixtures/factorize/), the k factor shares sum to the
// reconstruction, the spatial maps are W's columns in the layer's h, w order, and a --k larger
// than the channels or positions is one clear error.
#include <gtest/gtest.h>

#include <cmath>

#include "io/image.h"
#include "io/npy.h"
#include "loaders/model.h"
#include "viz/groups.h"

namespace cuviz {
namespace {

struct Fixture {
  std::unique_ptr<Network> net;
  PhotoInput in;
};

bool load(Fixture& f) {
  Graph g;
  try {
    g = load_model(std::string(CUVIZ_SHARED_DIR) + "/weights/bvlc_googlenet");
  } catch (const Error&) {
    return false;
  }
  f.net = std::make_unique<Network>(std::move(g), Device::cpu);
  f.in = photo_input(*f.net, read_image(std::string(CUVIZ_SHARED_DIR) + "/images/astronaut.png"));
  return true;
}

TEST(Groups, ActivationsMatchPyTorchAndSharesSumToTheReconstruction) {
  Fixture fx;
  if (!load(fx)) GTEST_SKIP() << "googlenet weights not found";
  int h = 0, w = 0;
  const Matrix x = layer_activations(*fx.net, fx.in.input, "inception_4d/output", h, w);
  ASSERT_EQ(h, 14);
  ASSERT_EQ(w, 14);
  // The same matrix as PyTorch's, positions in row-major h, w order.
  const NpyArray ref = read_npy(std::string(CUVIZ_SOURCE_DIR) + "/tests/fixtures/factorize/googlenet_4d_astronaut.npy");
  ASSERT_EQ(ref.dims, (std::vector<int64_t>{196, 528}));
  double diff = 0, norm = 0;
  for (size_t i = 0; i < ref.data.size(); ++i)
    diff = std::max(diff, double(std::fabs(ref.data[i] - x.data[i]))), norm = std::max(norm, double(ref.data[i]));
  EXPECT_LT(diff, 1e-3 * norm);

  GroupsSettings s;
  for (const char* method : {"nmf", "pca"}) {
    s.method = method;
    const LayerFactors f = factor_layer(x, h, w, s, Device::cpu);
    ASSERT_EQ(f.w.rows, 196);
    ASSERT_EQ(f.w.cols, 6);
    ASSERT_EQ(f.h.rows, 6);
    ASSERT_EQ(f.h.cols, 528);
    // sum_f W[:, f] H[f, :] (+ the mean for PCA) is the reconstruction, and its distance to X is
    // the reported error.
    Matrix sum(196, 528);
    for (int j = 0; j < 528; ++j)
      for (int i = 0; i < 196; ++i) sum(i, j) = f.mean[size_t(j)];
    for (int q = 0; q < 6; ++q) {
      const Matrix share = factor_share(f, q);
      for (size_t e = 0; e < sum.data.size(); ++e) sum.data[e] += share.data[e];
    }
    const Matrix rec = matmul(f.w, f.h);
    double d2 = 0, e2 = 0;
    for (int i = 0; i < 196; ++i)
      for (int j = 0; j < 528; ++j) {
        const double r = double(rec(i, j)) + f.mean[size_t(j)];
        d2 = std::max(d2, std::fabs(r - sum(i, j)));
        e2 += (x(i, j) - r) * (x(i, j) - r);
      }
    EXPECT_LT(d2, 1e-3) << method;
    EXPECT_NEAR(std::sqrt(e2) / frobenius(x), f.relative_error, 1e-5) << method;
    EXPECT_LT(f.relative_error, 0.8) << method;
  }
}

TEST(Groups, MapIsTheFactorsColumnOverThePhoto) {
  LayerFactors f;
  f.height = 2;
  f.width = 3;
  f.w = Matrix(6, 2);
  f.w(5, 0) = 2.f;  // bottom right only
  f.w(0, 1) = -1.f; // negative: not shown
  const std::vector<float> m = factor_map(f, 0, 6);  // 2x3 positions -> 6x6 pixels
  EXPECT_FLOAT_EQ(m[5 * 6 + 5], 1.f);                // bottom right, normalised to 1
  EXPECT_FLOAT_EQ(m[0], 0.f);
  EXPECT_GT(m[4 * 6 + 5], 0.5f);
  for (float v : factor_map(f, 1, 6)) EXPECT_EQ(v, 0.f);
  // The overlay is the photo at a quarter where the map is 0 and the colour where it is 1.
  Image photo{6, 6, 3, std::vector<uint8_t>(108, 200)};
  const Image o = map_overlay(photo, m, factor_colour(0));
  EXPECT_EQ(o.at(0, 0, 0), 50);
  EXPECT_EQ(o.at(5, 5, 0), uint8_t(std::lround(factor_colour(0)[0] * 255)));
}

TEST(Groups, KLargerThanChannelsOrPositionsIsOneClearError) {
  Matrix x(4, 3, 1.f);  // 2x2 positions x 3 channels
  GroupsSettings s;
  s.k = 4;
  try {
    factor_layer(x, 2, 2, s, Device::cpu);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than the 3 channels"), std::string::npos) << e.what();
  }
  Matrix y(4, 8, 1.f);
  s.k = 5;
  try {
    factor_layer(y, 2, 2, s, Device::cpu);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("4 positions (2x2)"), std::string::npos) << e.what();
  }
  s.method = "pca";
  s.k = 4;
  EXPECT_THROW(factor_layer(y, 2, 2, s, Device::cpu), Error);  // PCA: at most positions - 1
}

TEST(Groups, TopChannelsAreTheLargestWeights) {
  Matrix h(1, 5);
  h.data = {0.1f, -0.9f, 0.5f, 0.f, 0.7f};
  const auto t = top_channels(h, 0, 3);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].first, 1);
  EXPECT_EQ(t[1].first, 4);
  EXPECT_EQ(t[2].first, 2);
}

}  // namespace
}  // namespace cuviz
