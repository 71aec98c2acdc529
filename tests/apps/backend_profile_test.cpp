// The CLI's --backend and --profile options and the CPU fallback notice of --device auto: run the
// binary hermetically (tests/apps/run_cli.h) on the shared GoogLeNet.
#include <filesystem>

#include "apps/run_cli.h"
#include "kernels/cudnn_oracle.h"
#include "test_util.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::with_model_dir;
using test::TempDir;


std::string reference_input() {
  return std::string(CUVIZ_SHARED_DIR) + "/weights/reference/bvlc_googlenet_coffee_input.npy";
}

// The files in `dir` besides the captured stdout/stderr.
std::vector<std::string> written_files(const TempDir& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    if (e.path().filename() != "stdout.txt" && e.path().filename() != "stderr.txt")
      files.push_back(e.path().filename().string());
  return files;
}

TEST(BackendOption, CudnnOnTheCpuFailsWithOneLineAndNoFallbackNotice) {
  TempDir dir("backend");
  for (const char* cmd : {"classify", "forward", "render", "sweep"}) {
    std::vector<std::string> args = {cmd, "googlenet", "--device", "cpu", "--backend", "cudnn"};
    if (std::string(cmd) == "classify") args.push_back(test::shared_image("coffee.png"));
    if (std::string(cmd) == "forward")
      args.insert(args.end(), {"--input", reference_input(), "--layer", "prob", "--out", "y.npy"});
    if (std::string(cmd) == "render")
      for (const char* a : {"--objective", "inception_4a/output:97", "-o", "out.png"}) args.push_back(a);
    if (std::string(cmd) == "sweep")
      for (const char* a : {"--layer", "inception_4a/output", "-o", "gallery"}) args.push_back(a);
    const auto r = run_cli(with_model_dir(args), dir);
    EXPECT_TRUE(test::failed_with_one_line(r, "cudnn")) << cmd;
  }
  EXPECT_TRUE(written_files(dir).empty());
}

TEST(BackendOption, UnknownBackendIsAParseError) {
  TempDir dir("backend");
  const auto r =
      run_cli(with_model_dir({"classify", "googlenet", test::shared_image("coffee.png"), "--backend", "cublas"}), dir);
  EXPECT_TRUE(test::usage_error(r, "--backend"));
}

TEST(DeviceNotice, AutoFallbackSaysSoOnceThenTheResult) {
  if (cuda_available()) GTEST_SKIP() << "a CUDA device is present: no fallback to observe";
  TempDir dir("notice");
  const auto r =
      run_cli(with_model_dir({"classify", "googlenet", test::shared_image("coffee.png"), "--top", "1"}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto lines = r.err_lines();
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0], "cuviz: no usable CUDA device, running on the CPU");
  EXPECT_NE(r.out.find("espresso"), std::string::npos) << r.out;
}

TEST(DeviceNotice, NotPrintedForAFailingCommandOrOnTheCpu) {
  TempDir dir("notice");
  const auto typo = run_cli(with_model_dir({"forward", "googlenet", "--input", reference_input(), "--layer",
                                            "inception_4c/outptu", "--out", dir.file("y.npy")}),
                            dir);
  EXPECT_TRUE(test::failed_with_one_line(typo, "inception_4c/outptu"));
  const auto cpu =
      run_cli(with_model_dir({"classify", "googlenet", test::shared_image("coffee.png"), "--device", "cpu"}), dir);
  ASSERT_EQ(cpu.code, 0) << cpu.err;
  EXPECT_EQ(cpu.err, "");
}

TEST(ProfileOption, RenderRunsTheStepsAndWritesNothing) {
  TempDir dir("profile");
  const auto r = run_cli(with_model_dir({"render", "googlenet", "--objective", "inception_4a/output:97", "--size", "32",
                                         "--device", "cpu", "--profile", "2"}),
                         dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("profiled 2 steps (batch 1, 32 px) after 3 warm-up steps on the cpu"), std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("profile: render on the cpu"), std::string::npos) << "the table on stdout: " << r.out;
  EXPECT_TRUE(written_files(dir).empty());
}

TEST(ProfileOption, SweepProfilesItsFirstBatchAndWritesNothing) {
  TempDir dir("profile");
  const auto r = run_cli(with_model_dir({"sweep", "googlenet", "--layer", "inception_4a/output", "--channels", "3-7",
                                         "--batch", "2", "--size", "32", "--device", "cpu", "--profile", "1"}),
                         dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("profiled 1 steps (batch 2, 32 px)"), std::string::npos) << r.err;
  EXPECT_TRUE(written_files(dir).empty());
}

TEST(ProfileOption, WithoutProfileTheOutputIsStillRequired) {
  TempDir dir("profile");
  EXPECT_TRUE(test::usage_error(
      run_cli(with_model_dir({"render", "googlenet", "--objective", "inception_4a/output:97", "--device", "cpu"}), dir),
      "-o"));
  EXPECT_TRUE(test::usage_error(
      run_cli(with_model_dir({"sweep", "googlenet", "--layer", "inception_4a/output", "--device", "cpu"}), dir), "-o"));
}

}  // namespace
}  // namespace cuviz
