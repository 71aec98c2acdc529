// Intra-class facets (viz/facets.h) on a tiny synthetic network written here: a 1x1 identity
// convolution (so an image's feature is its mean colour minus 0.5), a global average pool, an
// in-place dropout and a linear classifier. A folder with reddish and bluish images (several
// sizes, so crops happen) splits into the two groups; unreadable files are skipped and listed;
// bad input (empty folder, k too large, unknown layer) is one clear Error.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "../loaders/loader_test_util.h"
#include "../nn/reference_net.h"
#include "core/error.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "nn/network.h"
#include "test_util.h"
#include "viz/facets.h"

namespace cuviz {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

Graph colour_net() {
  Graph g;
  g.name = "colour_net";
  g.input = "data";
  g.input_shape = Shape{1, 3, 8, 8};
  g.meta.input_size = 8;
  g.meta.value_scale = 1.f;
  g.meta.bgr = false;
  for (int c = 0; c < 3; ++c) g.meta.mean[c] = 0.5f;
  LayerDesc conv = test::conv_layer("conv", "data", "conv", 3, 3, 1, 0, 3);
  for (int o = 0; o < 3; ++o) {
    for (int i = 0; i < 3; ++i) conv.weights[0].data()[o * 3 + i] = o == i ? 1.f : 0.f;
    conv.weights[1].data()[o] = 0.f;
  }
  g.layers.push_back(std::move(conv));
  Pool2dParams gp;
  gp.mode = PoolMode::average;
  gp.global = true;
  g.layers.push_back(test::pool_layer("pool", "conv", "pool", gp));
  g.layers.push_back(test::simple_layer(LayerKind::dropout, "drop", {"pool"}, "pool"));  // in place, as Caffe's
  g.layers.push_back(test::linear_layer("fc", "pool", "fc", 3, 2, 5));
  g.layers.push_back(test::simple_layer(LayerKind::softmax, "prob", {"fc"}, "prob"));
  return g;
}

// A w x h image of colour (r, g, b) with a deterministic pattern of +-30 on top.
Image patch(int w, int h, int r, int g, int b, int seed) {
  Image im;
  im.width = w;
  im.height = h;
  im.pixels.resize(size_t(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int d = ((x * 7 + y * 13 + seed * 31) % 61) - 30;
      const int rgb[3] = {r, g, b};
      for (int c = 0; c < 3; ++c) im.at(x, y, c) = uint8_t(std::clamp(rgb[c] + d, 0, 255));
    }
  return im;
}

TEST(Facets, DefaultLayerFollowsTheClassifierBackThroughDropoutAndThePool) {
  EXPECT_EQ(default_facet_layer(colour_net()), "conv");
}

TEST(Facets, TwoObviousGroupsAreRecoveredAndUnreadableFilesSkipped) {
  TempDir dir("facets_groups");
  const Network net(colour_net(), Device::cpu);
  // Names interleave the groups, so sorted order does not give the answer away.
  for (int i = 0; i < 4; ++i) {
    write_png(dir.file("img_" + std::to_string(2 * i) + "_a.png"), patch(10 + i, 8 + 2 * i, 210, 50, 40, i));
    write_png(dir.file("img_" + std::to_string(2 * i + 1) + "_b.png"), patch(9 + 2 * i, 12, 40, 60, 200, i + 7));
  }
  write_file_atomic(dir.file("img_9_broken.jpg"), "not a jpeg");
  write_file_atomic(dir.file("notes.txt"), "ignored: not an image name");
  int last_done = 0, last_total = 0;
  const FacetImages in = read_facet_images(net, dir.path().string(), "conv", 8, [&](int d, int t) {
    EXPECT_EQ(d, last_done + 1);
    last_done = d;
    last_total = t;
  });
  EXPECT_EQ(last_total, 9);  // 8 images + the broken one; notes.txt is not an image file
  ASSERT_EQ(in.files.size(), 8u);
  ASSERT_EQ(in.skipped.size(), 1u);
  EXPECT_NE(in.skipped[0].first.find("img_9_broken.jpg"), std::string::npos);
  EXPECT_EQ(in.features.rows, 8);
  EXPECT_EQ(in.features.cols, 3);
  EXPECT_EQ(in.images[0].width, 8);
  // Feature = mean colour - 0.5 (identity conv): red channel high for the reddish group.
  EXPECT_GT(in.features(0, 0), 0.1f);
  EXPECT_LT(in.features(1, 0), -0.1f);

  const FacetClusters c = cluster_facets(in.features, 2, 0, 1);
  EXPECT_EQ(c.components, 3);  // min(10, images - 1, channels)
  ASSERT_EQ(c.labels.size(), 8u);
  std::set<int> a, b;
  for (int i = 0; i < 8; ++i)
    (in.files[size_t(i)].find("_a.png") != std::string::npos ? a : b).insert(c.labels[size_t(i)]);
  EXPECT_EQ(a.size(), 1u);
  EXPECT_EQ(b.size(), 1u);
  EXPECT_NE(*a.begin(), *b.begin());
  EXPECT_EQ(c.sizes, (std::vector<int>{4, 4}));

  // The mean feature of a facet is the mean of its members' features.
  const std::vector<float> mu = facet_mean_feature(in, c, *a.begin());
  double r = 0;
  for (int i = 0; i < 8; i += 2) r += in.features(i, 0);
  EXPECT_NEAR(mu[0], r / 4, 1e-6);
  const Image mean = facet_mean_image(in, c, *a.begin());
  EXPECT_GT(mean.at(4, 4, 0), 150);
  EXPECT_LT(mean.at(4, 4, 2), 100);
  const OwnedTensor t = broadcast_feature(mu, 2, 3);
  EXPECT_EQ(t.shape(), (Shape{1, 3, 2, 3}));
  EXPECT_EQ(t.data()[5], mu[0]);
  EXPECT_EQ(t.data()[6], mu[1]);
}

TEST(Facets, BadInputIsOneClearError) {
  TempDir dir("facets_bad");
  const Network net(colour_net(), Device::cpu);
  fs::create_directories(dir.file("empty"));
  EXPECT_NE(test::error_of([&] { read_facet_images(net, dir.file("empty"), "conv", 8); }).find("no PNG or JPEG file"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { read_facet_images(net, dir.file("nope"), "conv", 8); }).find("not a directory"),
            std::string::npos);
  fs::create_directories(dir.file("broken"));
  write_file_atomic(dir.file("broken/x.png"), "junk");
  EXPECT_NE(test::error_of([&] { read_facet_images(net, dir.file("broken"), "conv", 8); }).find("could be read"),
            std::string::npos);
  write_png(dir.file("one.png"), patch(8, 8, 100, 100, 100, 0));
  write_png(dir.file("two.png"), patch(8, 8, 10, 100, 200, 1));
  EXPECT_NE(test::error_of([&] { read_facet_images(net, dir.path().string(), "convv", 8); }).find("convv"),
            std::string::npos);
  const FacetImages in = read_facet_images(net, dir.path().string(), "conv", 8);
  ASSERT_EQ(in.files.size(), 2u);
  EXPECT_NE(test::error_of([&] { cluster_facets(in.features, 3, 0, 0); }).find("needs at least 3 readable images"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { cluster_facets(in.features, 2, 5, 0); }).find("--components 5"), std::string::npos);
}

}  // namespace
}  // namespace cuviz
