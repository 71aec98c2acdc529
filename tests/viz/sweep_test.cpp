// run_sweep renders every batch with one Renderer (restart between batches) and pads a short
// last batch with repeats of its last channel: each batch's PNGs and objectives must be exactly
// those of render() of the same (padded) batch.
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "../nn/reference_net.h"
#include "io/image.h"
#include "nn/network.h"
#include "test_util.h"
#include "viz/sweep.h"

namespace cuviz {
namespace {

namespace fs = std::filesystem;

Graph sweep_net() {
  Graph g = test::small_net();
  g.meta.value_scale = 1.f;
  for (int c = 0; c < 3; ++c) g.meta.mean[c] = 0.5f;
  return g;
}

TEST(Sweep, EveryBatchEqualsARenderOfItAndTheLastIsPadded) {
  const Network net(sweep_net(), Device::cpu);
  SweepOptions so;
  so.settings.model = "small_net";
  so.settings.layer = "inc/output";  // 14 channels
  so.settings.size = 24;
  so.settings.steps = 8;
  so.settings.relu_override = 3;
  so.settings.seed = 5;
  for (int c = 0; c < 10; ++c) so.channels.push_back(c);
  so.batch = 4;  // batches 0-3, 4-7 (after a restart) and 8, 9 padded to 8, 9, 9, 9
  so.overwrite = true;
  so.dir = (fs::path(::testing::TempDir()) / cat("cuviz_sweep_pad_", ::getpid())).string();
  fs::remove_all(so.dir);
  const SweepManifest m = run_sweep(net, so);
  ASSERT_EQ(m.channels.size(), 10u);

  RenderOptions ro = render_options(so.settings, Device::cpu);
  ro.batch = 4;
  const std::vector<std::vector<int>> batches = {{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 9, 9}};
  for (size_t b = 0; b < batches.size(); ++b) {
    std::vector<Objective> objectives;
    for (int c : batches[b]) objectives.push_back(channel(so.settings.layer, c));
    const RenderResult r = render(net, objectives, ro);
    const int real = b + 1 < batches.size() ? 4 : 2;
    for (int i = 0; i < real; ++i) {
      const int c = batches[b][size_t(i)];
      const Image got = read_image((fs::path(so.dir) / channel_file(so.settings.layer, c)).string());
      const Image want = tensor_to_image(r.images, i);
      EXPECT_EQ(got.pixels, want.pixels) << "channel " << c;
      EXPECT_EQ(m.channels.at(c).objective, r.objective[size_t(i)]) << "channel " << c;
    }
  }
  fs::remove_all(so.dir);
}

}  // namespace
}  // namespace cuviz
