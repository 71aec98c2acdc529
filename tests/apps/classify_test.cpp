// `cuviz classify`: the shared images through BVLC GoogLeNet give the reference top classes
// (coffee -> espresso 0.9309, chelsea -> Egyptian cat 0.4854); bad images and models fail
// with one error line.
#include <sstream>

#include "test_util.h"
#include "apps/run_cli.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::TempDir;

struct Top {
  double p = 0;
  int index = -1;
  std::string name;
};

// The ranked lines ("  0.9309   967  espresso") following the line that names `image`.
std::vector<Top> parse_top(const std::string& out, const std::string& image) {
  std::istringstream in(out);
  std::string line;
  std::vector<Top> tops;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line == image) {
      inside = true;
      continue;
    }
    if (!inside) continue;
    if (line.rfind("  ", 0) != 0) break;
    std::istringstream ls(line);
    Top t;
    ls >> t.p >> t.index;
    std::getline(ls >> std::ws, t.name);
    tops.push_back(t);
  }
  return tops;
}

std::vector<std::string> classify_args(std::vector<std::string> extra) {
  std::vector<std::string> args = {"classify", "googlenet"};
  for (const auto& a : test::shared_model_dir()) args.push_back(a);
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(ClassifyCommand, EspressoAndEgyptianCat) {
  TempDir dir("classify");
  const std::string coffee = test::shared_image("coffee.png"), chelsea = test::shared_image("chelsea.png");
  const auto r = run_cli(classify_args({coffee, chelsea, "--device", "cpu"}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const auto a = parse_top(r.out, coffee), b = parse_top(r.out, chelsea);
  ASSERT_EQ(a.size(), 5u) << r.out;
  ASSERT_EQ(b.size(), 5u) << r.out;
  // Reference probabilities (shared/weights/README.md) are given to 4 decimals and printed to 4:
  // two roundings of 5e-5 each.
  EXPECT_EQ(a[0].index, 967);
  EXPECT_EQ(a[0].name, "espresso");
  EXPECT_NEAR(a[0].p, 0.9309, 1e-4);
  EXPECT_EQ(a[1].name, "consomme");
  EXPECT_EQ(b[0].index, 285);
  EXPECT_EQ(b[0].name, "Egyptian cat");
  EXPECT_NEAR(b[0].p, 0.4854, 1e-4);
  EXPECT_EQ(b[1].name, "tiger cat");
  EXPECT_NEAR(b[1].p, 0.2815, 1e-4);
}

TEST(ClassifyCommand, TopAndOnnxFormat) {
  TempDir dir("classify");
  const std::string coffee = test::shared_image("coffee.png");
  const auto r = run_cli(classify_args({coffee, "--top", "2", "--format", "onnx"}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto a = parse_top(r.out, coffee);
  ASSERT_EQ(a.size(), 2u) << r.out;
  EXPECT_EQ(a[0].name, "espresso");
  EXPECT_NEAR(a[0].p, 0.9309, 1e-4);
}

TEST(ClassifyCommand, BadImagesFailWithOneLine) {
  TempDir dir("classify");
  const std::string png = test::read_text(test::shared_image("chelsea.png"));
  test::write_text(dir.file("truncated.png"), png.substr(0, png.size() / 3));
  test::write_text(dir.file("notes.png"), "not a picture");
  EXPECT_TRUE(test::failed_with_one_line(run_cli(classify_args({dir.file("truncated.png")}), dir), "truncated.png"));
  EXPECT_TRUE(test::failed_with_one_line(run_cli(classify_args({dir.file("notes.png")}), dir), "notes.png"));
  EXPECT_TRUE(test::failed_with_one_line(run_cli(classify_args({dir.file("absent.jpg")}), dir), "absent.jpg"));
  // One bad image among good ones fails the whole command before anything is printed.
  EXPECT_TRUE(test::failed_with_one_line(
      run_cli(classify_args({test::shared_image("coffee.png"), dir.file("notes.png")}), dir), "notes.png"));
}

TEST(ClassifyCommand, LabelsOfTheWrongLengthAreAnError) {
  TempDir dir("classify");
  test::write_text(dir.file("three.txt"), "a\nb\nc\n");
  EXPECT_TRUE(test::failed_with_one_line(
      run_cli(classify_args({test::shared_image("coffee.png"), "--labels", dir.file("three.txt")}), dir),
      "3 labels but the model has 1000 classes"));
}

TEST(ClassifyCommand, CudaRequestWithoutGpuFallsBackWithANotice) {
  if (cuda_available()) GTEST_SKIP() << "a CUDA device is present: no fallback to observe";
  TempDir dir("classify");
  const auto r = run_cli(classify_args({test::shared_image("coffee.png"), "--device", "cuda", "--top", "1"}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto lines = r.err_lines();
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_NE(lines[0].find("running on the CPU"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("espresso"), std::string::npos);
}

}  // namespace
}  // namespace cuviz
