// `cuviz grid` on real GoogLeNet, CPU, 48-px cells: the page's images exist, grid.png is the
// layer's grid of cells beside the photo, and a layer without spatial extent (or an unknown one)
// is one line, exit 1, and no page.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <regex>

#include "apps/run_cli.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "test_util.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::TempDir;
namespace fs = std::filesystem;

std::vector<std::string> grid_args(const std::string& out, const std::string& layer) {
  std::vector<std::string> a = {"grid", "googlenet", test::shared_image("astronaut.png"), "--device", "cpu", "-q",
                                "--layer", layer, "--size", "48", "--steps", "2", "-o", out};
  for (const auto& d : test::shared_model_dir()) a.push_back(d);
  return a;
}

TEST(GridCli, WritesTheGridBesideThePhoto) {
  TempDir dir("grid");
  const std::string out = dir.file("page");
  const auto r = run_cli(grid_args(out, "inception_5b/output"), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string html = read_file(out + "/index.html");
  const std::regex src("<img[^>]*\\bsrc=\"([^\"]+)\"");
  int images = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), src); it != std::sregex_iterator(); ++it, ++images)
    EXPECT_TRUE(fs::is_regular_file(fs::path(out) / (*it)[1].str())) << (*it)[1];
  EXPECT_EQ(images, 2);
  const Image grid = read_image(out + "/grid.png");
  EXPECT_EQ(grid.width, 7 * 48);  // inception_5b: 7 x 7 positions at 224 px
  EXPECT_EQ(grid.height, 7 * 48);
  const auto j = nlohmann::json::parse(read_file(out + "/grid.json"));
  EXPECT_EQ(j["positions"]["height"], 7);
  EXPECT_EQ(j["objective_per_position"].size(), 49u);
  // Different positions, different renders: the top-left and centre cells differ.
  int differ = 0;
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 48; ++x) differ += grid.at(x, y, 0) != grid.at(144 + x, 144 + y, 0);
  EXPECT_GT(differ, 100);
}

TEST(GridCli, LayerWithoutSpatialExtentIsOneLineAndNoPage) {
  TempDir dir("grid_bad");
  const std::string out = dir.file("page");
  EXPECT_TRUE(test::failed_with_one_line(run_cli(grid_args(out, "pool5/7x7_s1"), dir), "no spatial extent"));
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(test::failed_with_one_line(run_cli(grid_args(out, "inception_9z/output"), dir), "inception_9z"));
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

}  // namespace
}  // namespace cuviz
