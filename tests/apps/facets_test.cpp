// `cuviz facets` on real GoogLeNet, CPU, 64 px, 4 steps: a folder of flips and crops of two photos
// (astronaut, chelsea) plus an unreadable file splits into the two photos' groups; the page
// references only images that exist and lists the skipped file; bad input (empty folder, k too
// large, unknown layer or class, neither --class nor --layer) is one line, its exit code, no page.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <regex>
#include <set>

#include "apps/run_cli.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "loaders/preprocess.h"
#include "test_util.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::TempDir;
namespace fs = std::filesystem;

Image flipped(const Image& im) {
  Image out = im;
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x)
      for (int c = 0; c < 3; ++c) out.at(x, y, c) = im.at(im.width - 1 - x, y, c);
  return out;
}

Image crop(const Image& im, int x0, int y0, int side) {
  Image out;
  out.width = out.height = side;
  out.pixels.resize(size_t(side) * side * 3);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x)
      for (int c = 0; c < 3; ++c) out.at(x, y, c) = im.at(x0 + x, y0 + y, c);
  return out;
}

// Three views of each photo, small (the command resizes to 64 px anyway), names interleaved.
void make_folder(const std::string& dir) {
  fs::create_directories(dir);
  const char* photos[] = {"astronaut.png", "chelsea.png"};
  for (int p = 0; p < 2; ++p) {
    const Image square = resize_bilinear(center_square_crop(read_image(test::shared_image(photos[p]))), 128, 128);
    const std::string tag = p == 0 ? "_astronaut" : "_chelsea";
    write_png(dir + "/0" + std::to_string(p) + tag + ".png", square);
    write_png(dir + "/1" + std::to_string(p) + tag + ".png", flipped(square));
    write_png(dir + "/2" + std::to_string(p) + tag + ".png", crop(square, 16, 16, 96));
  }
  write_file_atomic(dir + "/3_broken.png", "not a png");
}

std::vector<std::string> facets_args(const std::string& images, const std::string& out,
                                     std::vector<std::string> extra = {"--layer", "inception_4d/output"}) {
  std::vector<std::string> a = {"facets", "googlenet", "--images", images, "--k", "2", "--device", "cpu", "-q",
                                "--size", "64", "--steps", "4", "-o", out};
  a.insert(a.end(), extra.begin(), extra.end());
  for (const auto& d : test::shared_model_dir()) a.push_back(d);
  return a;
}

std::vector<std::string> image_sources(const std::string& html) {
  std::vector<std::string> out;
  const std::regex src("<img[^>]*\\bsrc=\"([^\"]+)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), src); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1]);
  return out;
}

TEST(FacetsCli, TwoPhotosViewsSplitIntoTwoFacetsAndThePageIsComplete) {
  TempDir dir("facets_cli");
  const std::string images = dir.file("images"), out = dir.file("page");
  make_folder(images);
  const auto r = run_cli(facets_args(images, out, {"--class", "tabby"}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("index.html"), std::string::npos);
  const auto j = nlohmann::json::parse(read_file(out + "/facets.json"));
  EXPECT_EQ(j["feature_layer"], "inception_5b/output");  // the classifier's features, at any size
  EXPECT_EQ(j["class_index"], 281);
  EXPECT_EQ(j["class_logit_in_objective"], false);  // 64 px does not reach the logit
  ASSERT_EQ(j["skipped"].size(), 1u);
  EXPECT_NE(j["skipped"][0]["file"].get<std::string>().find("3_broken.png"), std::string::npos);
  ASSERT_EQ(j["facets"].size(), 2u);
  for (const auto& f : j["facets"]) {
    std::set<std::string> photos;
    for (const auto& m : f["members"]) {
      const std::string file = m["file"];
      const std::string name = fs::path(file).filename().string();
      photos.insert(name.substr(name.find('_')));
    }
    EXPECT_EQ(photos.size(), 1u) << f.dump();  // every facet holds views of one photo only
    EXPECT_EQ(f["members"].size(), 3u);
  }
  const std::string html = read_file(out + "/index.html");
  const auto srcs = image_sources(html);
  EXPECT_EQ(srcs.size(), 2u * (3 + 3));  // per facet: 3 members, mean, inversion, maximization
  for (const auto& s : srcs) EXPECT_TRUE(fs::is_regular_file(fs::path(out) / s)) << s;
  EXPECT_NE(html.find("3_broken.png"), std::string::npos);  // listed as skipped
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

TEST(FacetsCli, BadInputIsOneLineAndNoPage) {
  TempDir dir("facets_bad");
  const std::string images = dir.file("images"), out = dir.file("page");
  fs::create_directories(dir.file("empty"));
  EXPECT_TRUE(test::failed_with_one_line(run_cli(facets_args(dir.file("empty"), out), dir), "no PNG or JPEG file"));
  EXPECT_FALSE(fs::exists(out));
  make_folder(images);
  EXPECT_TRUE(test::failed_with_one_line(run_cli(facets_args(images, out, {"--layer", "inception_4d/outptu"}), dir),
                                         "outptu"));
  EXPECT_FALSE(fs::exists(out));
  auto k7 = facets_args(images, out);
  k7[5] = "7";
  EXPECT_TRUE(test::failed_with_one_line(run_cli(k7, dir), "needs at least 7 readable images; there are 6"));
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(test::failed_with_one_line(run_cli(facets_args(images, out, {"--class", "1000"}), dir), "out of range"));
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(test::usage_error(run_cli(facets_args(images, out, {}), dir), "--class"));
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

}  // namespace
}  // namespace cuviz
