// `cuviz sweep --devices all` on the GPUs of the machine: one worker process per GPU claiming
// batches; the gallery equals a single-process `--device cuda` sweep of the same settings PNG by
// PNG (the same GPU model gives the same bytes: the kernels sum in a fixed order). Skipped
// without a GPU; the CPU path is tested in sweep_shard_test.cpp (--devices cpu,cpu).
#include <cstdlib>
#include <filesystem>

#include "apps/run_cli.h"
#include "io/atomic_file.h"
#include "test_util.h"
#include "viz/sweep_shard.h"

namespace cuviz {
namespace {

namespace fs = std::filesystem;
using test::run_cli;
using test::TempDir;

std::vector<std::string> sweep_args(const std::string& out) {
  std::vector<std::string> a = {"sweep", "googlenet", "--layer", "inception_4a/output", "--channels", "0-31",
                                "--size", "96", "--steps", "32", "--batch", "8", "-q", "-o", out};
  for (const auto& d : test::shared_model_dir()) a.push_back(d);
  return a;
}

TEST(SweepDevicesCuda, AllGpusEqualOneGpu) {
  CUVIZ_REQUIRE_GPU();
  TempDir tmp("sweep_devices_cuda");
  auto one = sweep_args(tmp.file("one"));
  one.insert(one.end(), {"--device", "cuda"});
  const auto a = run_cli(one, tmp);
  ASSERT_EQ(a.code, 0) << a.err;
  auto all = sweep_args(tmp.file("all"));
  all.insert(all.end(), {"--devices", "all"});
  const auto b = run_cli(all, tmp);
  ASSERT_EQ(b.code, 0) << b.err;
  const auto want = SweepManifest::load(tmp.file("one")), got = SweepManifest::load(tmp.file("all"));
  ASSERT_TRUE(want && got);
  ASSERT_EQ(got->channels.size(), want->channels.size());
  for (const auto& [c, r] : want->channels) {
    EXPECT_EQ(read_file(tmp.file("all") + "/" + r.file), read_file(tmp.file("one") + "/" + r.file)) << "channel " << c;
    EXPECT_EQ(got->channels.at(c).objective, r.objective) << "channel " << c;
  }
}

}  // namespace
}  // namespace cuviz
