// Determinism on CUDA (core/determinism.h): in deterministic mode the same command gives
// byte-identical PNGs run after run of the binary, with an objective whose terms overlap (a
// channel, a deepdream of its whole layer and the channel again: three tasks of one image adding
// seeds into the same activations, the case the atomics of viz/objective.cu leave to the
// scheduler), in a batch of two images; and k-means on CUDA (viz/factorize.cu) gives the same
// labels and centres twice. Skips without a device.
#include <gtest/gtest.h>

#include <cstdlib>

#include "apps/run_cli.h"
#include "core/determinism.h"
#include "io/atomic_file.h"
#include "io/npy.h"
#include "test_util.h"
#include "viz/factorize.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::TempDir;

TEST(DeterminismCuda, RenderTwiceInDeterministicModeIsByteIdentical) {
  CUVIZ_REQUIRE_GPU();
  TempDir tmp("determinism_cuda_render");
  for (const char* name : {"a", "b"}) {
    std::vector<std::string> args = {"render", "googlenet", "--objective",
                                     "inception_4a/output:7 + deepdream(inception_4a/output) + 0.5*inception_4a/output:7",
                                     "--objective", "inception_4a/output:9 + deepdream(inception_4a/output)",
                                     "--size", "64", "--steps", "12", "--batch", "2", "--device", "cuda",
                                     "--deterministic", "-q", "-o", tmp.file(std::string(name) + ".png")};
    for (const auto& d : test::shared_model_dir()) args.push_back(d);
    const auto r = run_cli(args, tmp);
    ASSERT_EQ(r.code, 0) << r.err;
  }
  for (const char* png : {".png", "_0.png", "_1.png"}) {
    const std::string a = read_file(tmp.file(std::string("a") + png));
    ASSERT_FALSE(a.empty()) << png;
    EXPECT_TRUE(a == read_file(tmp.file(std::string("b") + png))) << png << " differs between two runs";
  }
}

TEST(DeterminismCuda, KmeansTwiceInDeterministicModeIsIdentical) {
  CUVIZ_REQUIRE_GPU();
  const bool was = deterministic();
  set_deterministic(true);
  const NpyArray a = read_npy(std::string(CUVIZ_SOURCE_DIR) + "/tests/fixtures/factorize/googlenet_4d_astronaut.npy");
  Matrix x(int(a.dims[0]), int(a.dims[1]));
  x.data = a.data;
  const KmeansOptions o{.k = 8, .seed = 4, .device = Device::cuda};
  const KmeansResult r1 = kmeans(x, o), r2 = kmeans(x, o);
  set_deterministic(was);
  EXPECT_EQ(r1.labels, r2.labels);
  EXPECT_EQ(r1.centers.data, r2.centers.data);
  EXPECT_EQ(r1.objectives, r2.objectives);
  // The ordered sums are the same maths as the atomic ones: the same clustering as the CPU's.
  const KmeansResult cpu = kmeans(x, KmeansOptions{.k = 8, .seed = 4});
  EXPECT_NEAR(r1.inertia(), cpu.inertia(), 1e-3 * cpu.inertia());
}

}  // namespace
}  // namespace cuviz
