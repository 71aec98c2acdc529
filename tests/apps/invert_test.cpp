// `cuviz invert` on real GoogLeNet, CPU, small sizes: the PNG and its sidecar (every setting, the
// objective per checkpoint, the relative feature error of the written PNG, which the test
// recomputes from the file), the same seed writes the same bytes, --caricature runs Lucid's
// settings, and every bad input is one line with its exit code and no output file.
#include <nlohmann/json.hpp>

#include <filesystem>

#include "apps/run_cli.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "loaders/model.h"
#include "nn/network.h"
#include "test_util.h"
#include "viz/image_source.h"
#include "viz/invert.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::TempDir;

std::vector<std::string> invert_args(const std::string& image, const std::string& out,
                                     std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"invert", "googlenet", image, "--layer", "inception_3a/output", "--device", "cpu",
                                "-q", "-o", out};
  a.insert(a.end(), extra.begin(), extra.end());
  for (const auto& d : test::shared_model_dir()) a.push_back(d);
  return a;
}

TEST(InvertCommand, WritesThePngAndASidecarWithTheErrorOfThePng) {
  TempDir dir("invert_basic");
  const std::string photo = test::shared_image("astronaut.png");
  const auto r = run_cli(invert_args(photo, dir.file("i.png"), {"--size", "64", "--steps", "120"}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("relative feature error"), std::string::npos) << r.out;
  const Image out = read_image(dir.file("i.png"));
  EXPECT_EQ(out.width, 64);
  EXPECT_EQ(out.height, 64);
  const auto j = nlohmann::json::parse(read_file(dir.file("i.json")));
  for (const char* key : {"command", "method", "layer", "alpha", "alpha_weight", "tv_beta", "tv_weight", "steps",
                          "lr", "size", "seed", "caricature", "steps_run", "lr_used", "objective_text", "model",
                          "image", "device", "objective_history", "objective_final", "relative_feature_error",
                          "seconds", "png"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j.at("method"), "mahendran-vedaldi");
  EXPECT_EQ(j.at("steps_run"), 120);
  const auto& h = j.at("objective_history");
  ASSERT_GE(h.size(), 10u);
  EXPECT_EQ(h.back().at("step"), 120);
  EXPECT_GT(h.back().at("objective").get<double>(), h.front().at("objective").get<double>());  // -loss rises
  const double err = j.at("relative_feature_error").get<double>();
  EXPECT_LT(err, 0.2);
  // Recomputed here from the PNG on disk and the photo.
  const std::string model = std::string(CUVIZ_SHARED_DIR) + "/weights/bvlc_googlenet";
  const Network net(load_model(model), Device::cpu);
  const OwnedTensor target =
      layer_features(net, "inception_3a/output", load_network_input(photo, net.graph().meta, 1, 64));
  const OwnedTensor x = input_from_image(image_to_tensor(out), net.graph().meta);
  EXPECT_NEAR(relative_feature_error(net, "inception_3a/output", x, target), err, 1e-9);
}

TEST(InvertCommand, SameSeedSameBytesOtherSeedOtherBytes) {
  TempDir dir("invert_seed");
  const std::string photo = test::shared_image("chelsea.png");
  const std::vector<std::string> small = {"--size", "32", "--steps", "6"};
  auto with = [&](std::vector<std::string> a, std::vector<std::string> b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  ASSERT_EQ(run_cli(invert_args(photo, dir.file("a.png"), small), dir).code, 0);
  ASSERT_EQ(run_cli(invert_args(photo, dir.file("b.png"), small), dir).code, 0);
  ASSERT_EQ(run_cli(invert_args(photo, dir.file("c.png"), with(small, {"--seed", "3"})), dir).code, 0);
  EXPECT_EQ(read_file(dir.file("a.png")), read_file(dir.file("b.png")));
  EXPECT_NE(read_file(dir.file("a.png")), read_file(dir.file("c.png")));
  // A caricature too (Lucid's transforms draw from the seed).
  const std::vector<std::string> car = {"--caricature", "--size", "32", "--steps", "4"};
  ASSERT_EQ(run_cli(invert_args(photo, dir.file("d.png"), car), dir).code, 0);
  ASSERT_EQ(run_cli(invert_args(photo, dir.file("e.png"), car), dir).code, 0);
  EXPECT_EQ(read_file(dir.file("d.png")), read_file(dir.file("e.png")));
  const auto j = nlohmann::json::parse(read_file(dir.file("d.json")));
  EXPECT_EQ(j.at("method"), "caricature");
  EXPECT_EQ(j.at("lr_used"), 0.05);
  EXPECT_EQ(j.at("objective_text").get<std::string>().rfind("dot_to(inception_3a/output,", 0), 0u);
}

TEST(InvertCommand, BadInputsAreOneLineAndNoOutput) {
  TempDir dir("invert_bad");
  const std::string photo = test::shared_image("chelsea.png");
  const std::string out = dir.file("x.png");
  auto no_output = [&] { return !std::filesystem::exists(out) && !std::filesystem::exists(dir.file("x.json")); };
  const std::vector<std::string> small = {"--size", "32", "--steps", "2"};
  auto with = [&](std::vector<std::string> b) {
    std::vector<std::string> a = small;
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  EXPECT_TRUE(test::failed_with_one_line(run_cli(invert_args(dir.file("missing.png"), out, small), dir),
                                         "missing.png"));
  EXPECT_TRUE(no_output());
  auto args = invert_args(photo, out, small);
  args[4] = "inception_3a/outptu";
  EXPECT_TRUE(test::failed_with_one_line(run_cli(args, dir), "inception_3a/output"));  // with the suggestion
  EXPECT_TRUE(no_output());
  EXPECT_TRUE(test::usage_error(run_cli(invert_args(photo, out, with({"--alpha", "0.5"})), dir), "--alpha"));
  EXPECT_TRUE(no_output());
  EXPECT_TRUE(test::usage_error(run_cli(invert_args(photo, out, with({"--tv-beta", "0"})), dir), "--tv-beta"));
  EXPECT_TRUE(no_output());
  EXPECT_TRUE(test::usage_error(run_cli(invert_args(photo, out, with({"--tv-weight", "-1"})), dir), "--tv-weight"));
  EXPECT_TRUE(no_output());
  EXPECT_TRUE(test::usage_error(run_cli({"invert", "googlenet", photo, "-o", out}, dir), "--layer"));
  EXPECT_TRUE(no_output());
}

}  // namespace
}  // namespace cuviz
