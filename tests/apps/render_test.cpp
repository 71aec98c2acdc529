// `cuviz render` on real GoogLeNet at a tiny size: out.json keeps the keys its readers use and
// records every setting (the unified defaults included), and the shared progress bar writes its
// log lines to stderr unless -q. The start image (--start): a photo starts the render at the photo,
// an .npy feeds the network exactly its floats (the same run as from the photo it was made from,
// and the value `forward` computes on it), and each bad start is one line with its exit code.
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>

#include "apps/run_cli.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "io/npy.h"
#include "loaders/preprocess.h"
#include "test_util.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::TempDir;

std::vector<std::string> render_args(const std::string& out, std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"render",  "googlenet", "--objective", "inception_3a/output:5", "--size", "32",
                                "--steps", "3",         "--device",    "cpu",                   "-o",     out};
  a.insert(a.end(), extra.begin(), extra.end());
  for (const auto& d : test::shared_model_dir()) a.push_back(d);
  return a;
}

TEST(RenderCommand, JsonKeepsItsKeysAndRecordsEverySetting) {
  TempDir dir("render_json");
  const auto r = run_cli(render_args(dir.file("r.png"), {"-q"}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "") << "-q: no progress";
  const auto j = nlohmann::json::parse(read_file(dir.file("r.json")));
  // The keys readers use (bench/render_vs_torch.sh and people's scripts), as before the settings
  // were unified.
  for (const char* key : {"command", "model", "model_name", "objectives", "size", "steps", "batch", "param",
                          "transforms", "lr", "seed", "relu_override_steps", "device", "backend", "precision",
                          "objective_final", "history_steps", "history", "setup_seconds", "seconds",
                          "steps_per_second", "png", "start"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j.at("size"), 32);
  EXPECT_EQ(j.at("steps"), 3);
  EXPECT_EQ(j.at("objectives"), nlohmann::json::array({"inception_3a/output:5"}));
  // The default ReLU override is Lucid's 16, as for sweep; under both keys.
  EXPECT_EQ(j.at("relu_override"), 16);
  EXPECT_EQ(j.at("relu_override_steps"), 16);
  EXPECT_EQ(j.at("param"), "fourier");
  EXPECT_EQ(j.at("precision"), "fp32");
  EXPECT_EQ(j.at("start"), "seed");
}

TEST(RenderCommand, ProgressGoesToTheLogUnlessQuiet) {
  TempDir dir("render_progress");
  const auto r = run_cli(render_args(dir.file("r.png"), {"--relu-override", "0"}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  // stderr is a file here, not a terminal: whole lines, no carriage returns; the last is the final one.
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  const auto lines = r.err_lines();
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back().rfind("[########################] 3/3 steps  objective ", 0), 0u) << r.err;
  const auto j = nlohmann::json::parse(read_file(dir.file("r.json")));
  EXPECT_EQ(j.at("relu_override"), 0);
}

std::string reference_input() {
  return std::string(CUVIZ_SHARED_DIR) + "/weights/reference/bvlc_googlenet_chelsea_input.npy";  // 224 px
}

// Mean absolute difference of two RGB images of one size, in bytes.
double mean_abs_difference(const Image& a, const Image& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  EXPECT_EQ(a.pixels.size(), b.pixels.size());
  double sum = 0;
  for (size_t k = 0; k < a.pixels.size() && k < b.pixels.size(); ++k) sum += std::abs(int(a.pixels[k]) - int(b.pixels[k]));
  return sum / double(std::max<size_t>(a.pixels.size(), 1));
}

TEST(RenderCommand, PhotoStartRendersFromThePhotoAndIsRecorded) {
  TempDir dir("render_photo");
  const std::string photo = test::shared_image("chelsea.png");
  const auto r = run_cli(render_args(dir.file("r.png"), {"-q", "--start", photo, "--param", "pixel"}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(read_file(dir.file("r.json")));
  EXPECT_EQ(j.at("start"), photo);
  EXPECT_EQ(j.at("param"), "pixel");
  // 3 Adam steps of 0.05 move the pixel parameters little: the result is still the photo, cropped
  // and resized to 32 px (a seed start is grey and far from it).
  const Image want = resize_bilinear(center_square_crop(read_image(photo)), 32, 32);
  const Image got = read_image(dir.file("r.png"));
  EXPECT_LT(mean_abs_difference(got, want), 4.0);
  ASSERT_EQ(run_cli(render_args(dir.file("s.png"), {"-q", "--param", "pixel"}), dir).code, 0);
  EXPECT_GT(mean_abs_difference(read_image(dir.file("s.png")), want), 20.0);
}

// --steps is at least 1 (--steps 0 is a usage error, as for sweep); one step without transforms
// records, before its update, the objective of exactly the start image.
TEST(RenderCommand, NpyStartFeedsTheNetworkTheFileExactly) {
  TempDir dir("render_npy");
  auto args = [&](const std::string& start, const std::string& out) {
    std::vector<std::string> a = {"render", "googlenet", "--objective", "inception_3a/output:5", "--size", "224",
                                  "--steps", "1", "--transforms", "none", "--param", "input", "--start", start,
                                  "--device", "cpu", "-q", "-o", dir.file(out)};
    for (const auto& d : test::shared_model_dir()) a.push_back(d);
    return a;
  };
  const auto from_npy = run_cli(args(reference_input(), "npy.png"), dir);
  ASSERT_EQ(from_npy.code, 0) << from_npy.err;
  // The reference .npy is the photo's preprocessing bit for bit, so starting from the photo is the
  // same computation: the same objectives and the same bytes.
  const auto from_photo = run_cli(args(test::shared_image("chelsea.png"), "photo.png"), dir);
  ASSERT_EQ(from_photo.code, 0) << from_photo.err;
  const auto jn = nlohmann::json::parse(read_file(dir.file("npy.json")));
  const auto jp = nlohmann::json::parse(read_file(dir.file("photo.json")));
  EXPECT_EQ(jn.at("start"), reference_input());
  EXPECT_EQ(jn.at("param"), "input");
  EXPECT_EQ(jn.at("history"), jp.at("history"));
  EXPECT_EQ(jn.at("objective_final"), jp.at("objective_final"));
  EXPECT_EQ(read_file(dir.file("npy.png")), read_file(dir.file("photo.png")));
  // The objective before the update is channel 5's spatial mean on the file's floats, as
  // `forward` computes it from the same file.
  std::vector<std::string> fwd = {"forward", "googlenet", "--input", reference_input(), "--layer",
                                  "inception_3a/output", "--out", dir.file("y.npy"), "--device", "cpu"};
  for (const auto& d : test::shared_model_dir()) fwd.push_back(d);
  ASSERT_EQ(run_cli(fwd, dir).code, 0);
  const OwnedTensor y = read_npy_tensor(dir.file("y.npy"));
  double mean = 0;
  for (int h = 0; h < y.h(); ++h)
    for (int w = 0; w < y.w(); ++w) mean += y.at(0, 5, h, w);
  mean /= double(y.h()) * y.w();
  ASSERT_EQ(jn.at("history").size(), 1u);
  const double before = jn.at("history")[0][0].get<double>();
  EXPECT_GT(std::fabs(mean), 1e-3) << "a channel that is zero would not tell the inputs apart";
  EXPECT_NEAR(before, mean, 1e-5 * std::fabs(mean));
}

TEST(RenderCommand, BadStartsAreOneLineWithTheirExitCode) {
  TempDir dir("render_bad_start");
  const std::string png = dir.file("r.png");
  auto start = [&](std::vector<std::string> extra) { return run_cli(render_args(png, std::move(extra)), dir); };
  // Unreadable or undecodable files: failures while running, exit code 1.
  EXPECT_TRUE(test::failed_with_one_line(start({"--start", dir.file("absent.png")}), "absent.png"));
  test::write_text(dir.file("cut.jpg"), "not a jpeg");
  EXPECT_TRUE(test::failed_with_one_line(start({"--start", dir.file("cut.jpg")}), "cut.jpg"));
  test::write_text(dir.file("junk.npy"), "\x93NUMPY garbage");
  EXPECT_TRUE(test::failed_with_one_line(start({"--start", dir.file("junk.npy"), "--param", "input"}), "junk.npy"));
  // An .npy of another size than --size (32): both shapes named.
  const auto wrong = start({"--start", reference_input(), "--param", "input"});
  EXPECT_TRUE(test::failed_with_one_line(wrong, "the .npy holds [1, 3, 224, 224]"));
  EXPECT_NE(wrong.err.find("[1, 3, 32, 32]"), std::string::npos) << wrong.err;
  // Usage errors, exit code 2: a word that is no start, and an .npy without --param input (the
  // library's message).
  EXPECT_TRUE(test::usage_error(start({"--start", "nosie"}), "--start: start 'nosie' is neither seed, zeros, noise"));
  EXPECT_TRUE(test::usage_error(start({"--start", ""}), "--start"));
  EXPECT_TRUE(test::usage_error(start({"--start", reference_input()}), "use param input"));
  EXPECT_TRUE(test::usage_error(start({"--start", reference_input(), "--param", "pixel"}), "param pixel maps"));
  EXPECT_FALSE(std::filesystem::exists(png));
  EXPECT_FALSE(std::filesystem::exists(dir.file("r.json")));
}

}  // namespace
}  // namespace cuviz
