// `cuviz classviz` and `cuviz fool` on real GoogLeNet, CPU, at sizes and step counts small enough
// for CI: the class model of goldfish is classified as goldfish by `cuviz classify` of the written
// PNG (and out.json's softmax is classify's number); the fooling image reaches the target on the
// written PNG, the same seed writes the same bytes; an unknown class name, a bad value and a target
// not reached each end in one line with no output file.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "apps/run_cli.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "test_util.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::TempDir;

std::vector<std::string> with_model(std::vector<std::string> a) {
  a.insert(a.begin() + 2, {"--device", "cpu"});
  for (const auto& d : test::shared_model_dir()) a.push_back(d);
  return a;
}

// classify's first line for the image: class index and probability.
std::pair<int, double> classify_top(const std::string& png, const TempDir& dir) {
  const auto r = run_cli(with_model({"classify", "googlenet", png, "--top", "1"}), dir);
  EXPECT_EQ(r.code, 0) << r.err;
  double p = 0;
  int k = -1;
  const size_t nl = r.out.find('\n');
  EXPECT_EQ(std::sscanf(r.out.c_str() + nl + 1, " %lf %d", &p, &k), 2) << r.out;
  return {k, p};
}

TEST(ClassvizCommand, GoldfishClassModelIsClassifiedAsGoldfish) {
  TempDir dir("classviz_goldfish");
  const std::string out = dir.file("c.png");
  const auto r = run_cli(with_model({"classviz", "googlenet", "--class", "goldfish", "--steps", "30",
                                     "-o", out}),
                         dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("30/30 steps"), std::string::npos) << "the progress bar: " << r.err;
  const auto [k, p] = classify_top(out, dir);
  EXPECT_EQ(k, 1);
  const auto j = nlohmann::json::parse(read_file(dir.file("c.json")));
  EXPECT_EQ(j.at("class_index"), 1);
  EXPECT_EQ(j.at("class_label"), "goldfish");
  EXPECT_EQ(j.at("class"), "goldfish");
  for (const char* key : {"method", "size", "steps", "lambda", "lr", "momentum", "clip", "seed", "logit_final"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j.at("png").at("top_class"), 1);
  EXPECT_NEAR(j.at("png").at("softmax").get<double>(), p, 0.6e-4) << "out.json's softmax is classify's";
  // Same settings, same seed: the same bytes, also when a display copy is asked for (it leaves
  // the optimised PNG alone and stretches every channel over a wider range).
  const std::string again = dir.file("c2.png"), display = dir.file("c2_display.png");
  ASSERT_EQ(run_cli(with_model({"classviz", "googlenet", "--class", "1", "--steps", "30", "-q", "-o", again,
                                "--display", display}),
                    dir).code,
            0);
  EXPECT_EQ(read_file(again), read_file(out));
  const Image a = read_image(out), d = read_image(display);
  ASSERT_EQ(d.width, a.width);
  EXPECT_EQ(d.pixels, percentile_stretch(a, 0.5).pixels);
  for (int c = 0; c < 3; ++c) {
    int lo_a = 255, hi_a = 0, lo_d = 255, hi_d = 0;
    for (int y = 0; y < a.height; ++y)
      for (int x = 0; x < a.width; ++x) {
        lo_a = std::min<int>(lo_a, a.at(x, y, c)), hi_a = std::max<int>(hi_a, a.at(x, y, c));
        lo_d = std::min<int>(lo_d, d.at(x, y, c)), hi_d = std::max<int>(hi_d, d.at(x, y, c));
      }
    EXPECT_GT(hi_d - lo_d, hi_a - lo_a) << "channel " << c;
  }
  EXPECT_EQ(nlohmann::json::parse(read_file(dir.file("c2.json"))).at("display").at("path"), display);
  EXPECT_TRUE(test::usage_error(run_cli(with_model({"classviz", "googlenet", "--class", "1", "-o", out, "--display",
                                                    out}),
                                        dir),
                                "--display"));
}

TEST(FoolCommand, ReachesTheTargetOnTheWrittenPngAndTheSameSeedWritesTheSameBytes) {
  TempDir dir("fool_goldfish");
  std::string bytes[2];
  for (int run = 0; run < 2; ++run) {
    const std::string out = dir.file(cat("f", run, ".png"));
    const auto r = run_cli(with_model({"fool", "googlenet", "--class", "1", "--target-confidence",
                                       "0.9", "--check-every", "5", "--seed", "3", "-q", "-o", out}),
                           dir);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("reached the target"), std::string::npos) << r.out;
    const auto [k, p] = classify_top(out, dir);
    EXPECT_EQ(k, 1);
    EXPECT_GE(p, 0.9);
    const auto j = nlohmann::json::parse(read_file(dir.file(cat("f", run, ".json"))));
    EXPECT_EQ(j.at("reached"), true);
    EXPECT_GE(j.at("png").at("softmax").get<double>(), 0.9);
    EXPECT_EQ(j.at("steps").get<int>() % 5, 0);
    bytes[run] = read_file(out);
  }
  EXPECT_EQ(bytes[0], bytes[1]);
}

TEST(FoolCommand, FromAPhotoReportsTheLinfDistance) {
  TempDir dir("fool_photo");
  const std::string out = dir.file("f.png");
  const auto r = run_cli(with_model({"fool", "googlenet", "--class", "1", "--from", test::shared_image("chelsea.png"),
                                     "--lr", "0.25", "--target-confidence", "0.5", "--check-every",
                                     "2", "-q", "-o", out}),
                         dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("L-inf distance from the photo"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(read_file(dir.file("f.json")));
  EXPECT_GT(j.at("linf_distance_bytes").get<int>(), 0);
  EXPECT_LT(j.at("linf_distance_bytes").get<int>(), 64);
}

TEST(ClassvizCommand, UnknownClassNameIsOneLineWithNearMatchesAndNoFile) {
  TempDir dir("classviz_unknown");
  const std::string out = dir.file("c.png");
  const auto r = run_cli(with_model({"classviz", "googlenet", "--class", "flamingoo", "-o", out}), dir);
  EXPECT_TRUE(test::failed_with_one_line(r, "unknown class 'flamingoo'; did you mean flamingo?"));
  EXPECT_FALSE(std::filesystem::exists(out));
  const auto f = run_cli(with_model({"fool", "googlenet", "--class", "1000", "-o", out}), dir);
  EXPECT_TRUE(test::failed_with_one_line(f, "class 1000 is out of range"));
}

TEST(FoolCommand, BadValuesAreUsageErrorsAndATargetNotReachedWritesNothing) {
  TempDir dir("fool_errors");
  const std::string out = dir.file("f.png");
  EXPECT_TRUE(test::usage_error(run_cli(with_model({"fool", "googlenet", "--class", "1", "--target-confidence", "1.5",
                                                    "-o", out}),
                                        dir),
                                "out of range"));
  EXPECT_TRUE(test::usage_error(run_cli(with_model({"fool", "googlenet", "--class", "1", "--from", "nois", "-o", out}), dir),
                                "neither noise nor a photo"));
  EXPECT_TRUE(test::usage_error(run_cli(with_model({"classviz", "googlenet", "-o", out}), dir), "--class"));
  EXPECT_TRUE(test::failed_with_one_line(run_cli(with_model({"classviz", "googlenet", "--class", "1", "--size", "112", "-o", out}), dir),
                                         "--size 112 is smaller than googlenet's input size 224"));
  const auto r = run_cli(with_model({"fool", "googlenet", "--class", "1", "--max-steps", "1",
                                     "--target-confidence", "1", "-q", "-o", out}),
                         dir);
  EXPECT_TRUE(test::failed_with_one_line(r, "below the target 1"));
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_FALSE(std::filesystem::exists(dir.file("f.json")));
}

}  // namespace
}  // namespace cuviz
