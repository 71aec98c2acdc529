// The activation grid (viz/activation_grid.h) on real GoogLeNet at a tiny cell size: every cell
// is the render of its position's activation vector (the same pixels as render() of that batch),
// laid out row-major on the layer's grid; an all-zero position stays grey; a layer without spatial
// extent is one clear error.
#include <gtest/gtest.h>

#include "loaders/model.h"
#include "viz/activation_grid.h"
#include "viz/objective.h"
#include "viz/random.h"
#include "viz/render.h"

namespace cuviz {
namespace {

TEST(ActivationGrid, CellsAreTheirPositionsRendersInPlace) {
  Graph g;
  try {
    g = load_model(std::string(CUVIZ_SHARED_DIR) + "/weights/bvlc_googlenet");
  } catch (const Error&) {
    GTEST_SKIP() << "googlenet weights not found";
  }
  const Network net(std::move(g), Device::cpu);
  GridSettings s;
  s.layer = "inception_4d/output";
  s.size = 24;
  s.steps = 3;
  s.batch = 3;
  // A 2 x 3 "layer": 6 positions, position 4 all zero.
  Matrix x(6, 528);
  for (int p = 0; p < 6; ++p)
    for (int c = 0; c < 528; ++c) x(p, c) = p == 4 ? 0.f : float(std::fabs(random_normal(11, uint64_t(p), uint64_t(c))));
  const GridResult r = render_activation_grid(net, x, 2, 3, s);
  ASSERT_EQ(r.grid.width, 3 * 24);
  ASSERT_EQ(r.grid.height, 2 * 24);
  EXPECT_TRUE(r.empty[4]);
  EXPECT_EQ(r.objective[4], 0.0);
  for (int y = 24; y < 48; ++y)
    for (int xx = 24; xx < 48; ++xx) ASSERT_EQ(r.grid.at(xx, y, 1), 128);  // position 4 = (1, 1): grey
  // The second batch holds positions 3 and 5 (4 is skipped), padded with 5: render() of it.
  RenderOptions ro = render_options(static_cast<const OptimSettings&>(s), Device::cpu);
  ro.batch = 3;
  auto dir = [&](int p) { return direction_cossim(s.layer, std::vector<float>(x.row(p), x.row(p) + 528)); };
  const RenderResult ref = render(net, {dir(3), dir(5), dir(5)}, ro);
  const Image cell3 = tensor_to_image(ref.images, 0), cell5 = tensor_to_image(ref.images, 1);
  for (int y = 0; y < 24; ++y)
    for (int xx = 0; xx < 24; ++xx)
      for (int c = 0; c < 3; ++c) {
        ASSERT_EQ(r.grid.at(xx, 24 + y, c), cell3.at(xx, y, c));       // position 3 = (1, 0)
        ASSERT_EQ(r.grid.at(48 + xx, 24 + y, c), cell5.at(xx, y, c));  // position 5 = (1, 2)
      }
  EXPECT_DOUBLE_EQ(r.objective[3], ref.objective[0]);
  EXPECT_DOUBLE_EQ(r.objective[5], ref.objective[1]);
}

TEST(ActivationGrid, LayerWithoutSpatialExtentIsAnError) {
  Graph g;
  try {
    g = load_model(std::string(CUVIZ_SHARED_DIR) + "/weights/bvlc_googlenet");
  } catch (const Error&) {
    GTEST_SKIP() << "googlenet weights not found";
  }
  const Network net(std::move(g), Device::cpu);
  GridSettings s;
  s.layer = "pool5/7x7_s1";
  try {
    render_activation_grid(net, Matrix(1, 1024, 1.f), 1, 1, s);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no spatial extent (1x1)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cuviz
