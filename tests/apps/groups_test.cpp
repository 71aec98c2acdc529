// `cuviz groups` on real GoogLeNet, CPU, small renders: the page has the photo, 6 maps and 6
// renders, every image its HTML references exists; --raw's W and H reconstruct the layer's
// activations (read back by `cuviz forward`) to the reported error; bad input is one line, its exit
// code, and no page (not even a partial one).
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <regex>
#include <set>

#include "apps/run_cli.h"
#include "io/atomic_file.h"
#include "io/npy.h"
#include "test_util.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::TempDir;
namespace fs = std::filesystem;

std::vector<std::string> groups_args(const std::string& out, std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"groups", "googlenet", test::shared_image("astronaut.png"), "--device", "cpu", "-q",
                                "--size", "64", "--steps", "4", "-o", out};
  a.insert(a.end(), extra.begin(), extra.end());
  for (const auto& d : test::shared_model_dir()) a.push_back(d);
  return a;
}

// Every src="..." of the page.
std::vector<std::string> image_sources(const std::string& html) {
  std::vector<std::string> out;
  const std::regex src("<img[^>]*\\bsrc=\"([^\"]+)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), src); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1]);
  return out;
}

TEST(GroupsCli, WritesAPageWhoseImagesExistAndRawFactorsReconstructTheActivations) {
  TempDir dir("groups");
  const std::string out = dir.file("page");
  const auto r = run_cli(groups_args(out, {"--raw"}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("index.html"), std::string::npos);
  const std::string html = read_file(out + "/index.html");
  const auto srcs = image_sources(html);
  std::set<std::string> unique(srcs.begin(), srcs.end());
  EXPECT_EQ(unique.size(), 2u + 6 + 6) << html;  // photo, all maps, 6 maps, 6 renders
  for (const auto& s : srcs) EXPECT_TRUE(fs::is_regular_file(fs::path(out) / s)) << s;
  for (int q = 0; q < 6; ++q) {
    EXPECT_TRUE(unique.count("maps/factor_" + std::to_string(q) + ".png")) << q;
    EXPECT_TRUE(unique.count("renders/factor_" + std::to_string(q) + ".png")) << q;
  }
  const auto j = nlohmann::json::parse(read_file(out + "/groups.json"));
  EXPECT_EQ(j["k"], 6);
  EXPECT_EQ(j["layer"], "inception_4d/output");
  EXPECT_EQ(j["factors"].size(), 6u);
  EXPECT_EQ(j["steps"], 4);
  // No temporary directory left beside the page.
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();

  // W (positions x k) H (k x channels) against the activations cuviz forward writes (N, C, H, W).
  const NpyArray w = read_npy(out + "/W.npy"), h = read_npy(out + "/H.npy");
  ASSERT_EQ(w.dims, (std::vector<int64_t>{196, 6}));
  ASSERT_EQ(h.dims, (std::vector<int64_t>{6, 528}));
  const auto f = run_cli({"forward", "googlenet", "--input", test::shared_image("astronaut.png"), "--layer",
                          "inception_4d/output", "--out", dir.file("a.npy"), "--device", "cpu", "--model-dir",
                          std::string(CUVIZ_SHARED_DIR) + "/weights"},
                         dir);
  ASSERT_EQ(f.code, 0) << f.err;
  const NpyArray a = read_npy(dir.file("a.npy"));
  ASSERT_EQ(a.dims, (std::vector<int64_t>{1, 528, 14, 14}));
  double e2 = 0, x2 = 0;
  for (int p = 0; p < 196; ++p)
    for (int c = 0; c < 528; ++c) {
      double rec = 0;  // the sum of the 6 factor maps' contributions at (p, c)
      for (int q = 0; q < 6; ++q) rec += double(w.data[size_t(p) * 6 + q]) * h.data[size_t(q) * 528 + c];
      const double x = a.data[size_t(c) * 196 + p];
      e2 += (x - rec) * (x - rec);
      x2 += x * x;
    }
  EXPECT_NEAR(std::sqrt(e2 / x2), j["relative_error"].get<double>(), 1e-5);
  EXPECT_LT(std::sqrt(e2 / x2), 0.8);
}

TEST(GroupsCli, BadInputIsOneLineAndNoPage) {
  TempDir dir("groups_bad");
  const std::string out = dir.file("page");
  EXPECT_TRUE(test::failed_with_one_line(run_cli(groups_args(out, {"--k", "529"}), dir), "528 channels"));
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(test::failed_with_one_line(run_cli(groups_args(out, {"--k", "200", "--layer", "inception_4d/output"}), dir),
                                         "196 positions (14x14)"));
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(test::failed_with_one_line(run_cli(groups_args(out, {"--layer", "inception_4d/outptu"}), dir), "outptu"));
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(test::usage_error(run_cli(groups_args(out, {"--k", "0"}), dir), "--k"));
  EXPECT_TRUE(test::usage_error(run_cli(groups_args(out, {"--method", "ica"}), dir), "--method"));
  EXPECT_FALSE(fs::exists(out));
  // A directory holding other files is never replaced.
  fs::create_directories(out);
  write_file_atomic(out + "/mine.txt", "x");
  EXPECT_TRUE(test::failed_with_one_line(run_cli(groups_args(out), dir), "holds other files"));
  EXPECT_TRUE(fs::exists(out + "/mine.txt"));
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

}  // namespace
}  // namespace cuviz
