// `cuviz forward`: activations saved as .npy and read back (the reference input gives the
// reference softmax; an image gives exactly what its preprocessed .npy gives), and every bad
// input (unknown layer, bad .npy, wrong channel count, missing directory) fails with one line
// and leaves no output file.
#include <filesystem>

#include "test_util.h"
#include "apps/run_cli.h"
#include "io/npy.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::TempDir;

std::string reference(const std::string& file) {
  return std::string(CUVIZ_SHARED_DIR) + "/weights/reference/" + file;
}

std::vector<std::string> forward_args(const std::string& input, const std::string& layer, const std::string& out) {
  std::vector<std::string> args = {"forward", "googlenet", "--input", input, "--layer", layer, "--out", out};
  for (const auto& a : test::shared_model_dir()) args.push_back(a);
  return args;
}

TEST(ForwardCommand, ReferenceInputGivesReferenceProbabilities) {
  TempDir dir("forward");
  const auto r = run_cli(forward_args(reference("bvlc_googlenet_coffee_input.npy"), "prob", dir.file("p.npy")), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const OwnedTensor got = read_npy_tensor(dir.file("p.npy"));
  const OwnedTensor want = read_npy_tensor(reference("bvlc_googlenet_coffee_prob.npy"));
  ASSERT_EQ(got.shape(), (Shape{1, 1000, 1, 1}));
  // shared/weights/README.md: a float32 forward pass matches the reference to about 1e-5.
  EXPECT_TRUE(test::all_close(got, want, 1e-5));
}

TEST(ForwardCommand, ImageInputEqualsItsPreprocessedNpy) {
  TempDir dir("forward");
  const std::string layer = "inception_4c/output";
  const auto a = run_cli(forward_args(test::shared_image("chelsea.png"), layer, dir.file("a.npy")), dir);
  ASSERT_EQ(a.code, 0) << a.err;
  const auto b = run_cli(forward_args(reference("bvlc_googlenet_chelsea_input.npy"), layer, dir.file("b.npy")), dir);
  ASSERT_EQ(b.code, 0) << b.err;
  const OwnedTensor ya = read_npy_tensor(dir.file("a.npy")), yb = read_npy_tensor(dir.file("b.npy"));
  EXPECT_EQ(ya.shape(), (Shape{1, 512, 14, 14}));
  // The preprocessing reproduces the reference input exactly, so the same computation follows.
  EXPECT_TRUE(test::all_close(ya, yb, 0.0));
}

TEST(ForwardCommand, BadInputsFailWithOneLineAndNoFile) {
  TempDir dir("forward");
  const std::string out = dir.file("y.npy");
  const std::string input = reference("bvlc_googlenet_chelsea_input.npy");

  const auto typo = run_cli(forward_args(input, "inception_4c/outptu", out), dir);
  EXPECT_TRUE(test::failed_with_one_line(typo, "inception_4c/outptu"));
  EXPECT_NE(typo.err.find("inception_4c/output"), std::string::npos) << "no close name suggested: " << typo.err;

  test::write_text(dir.file("junk.npy"), "\x93NUMPY garbage");
  EXPECT_TRUE(test::failed_with_one_line(run_cli(forward_args(dir.file("junk.npy"), "prob", out), dir), "junk.npy"));

  OwnedTensor two(Shape{1, 2, 8, 8});
  fill(two, 0.5f);
  write_npy(dir.file("two.npy"), two);
  EXPECT_TRUE(test::failed_with_one_line(run_cli(forward_args(dir.file("two.npy"), "prob", out), dir), "channels"));

  test::write_text(dir.file("bad.png"), "not a png");
  EXPECT_TRUE(test::failed_with_one_line(run_cli(forward_args(dir.file("bad.png"), "prob", out), dir), "bad.png"));

  EXPECT_FALSE(std::filesystem::exists(out));
  const std::string nowhere = dir.file("missing_dir/y.npy");
  EXPECT_TRUE(test::failed_with_one_line(run_cli(forward_args(input, "prob", nowhere), dir), "missing_dir"));
  EXPECT_FALSE(std::filesystem::exists(nowhere));
  // No temporary output (written as <out>.tmp.<pid> before the rename) was left behind.
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

}  // namespace
}  // namespace cuviz
