// `cuviz dream` on real GoogLeNet, CPU, small sizes: the L2 objective rises within every octave,
// the output keeps a non-square photo's size, the same seed writes the same bytes, an image larger
// than --tile runs its octaves in tiles, and every bad input is one line with its exit code and
// no output file.
#include <nlohmann/json.hpp>

#include <filesystem>

#include "apps/run_cli.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "loaders/preprocess.h"
#include "test_util.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::TempDir;

// chelsea.png resized to w x h, written into the test's directory.
std::string photo(const TempDir& dir, int w, int h) {
  const std::string path = dir.file("photo_" + std::to_string(w) + "x" + std::to_string(h) + ".png");
  write_png(path, resize_bilinear(read_image(test::shared_image("chelsea.png")), w, h));
  return path;
}

std::vector<std::string> dream_args(const std::string& image, const std::string& out,
                                    std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"dream", "googlenet", image, "--device", "cpu", "-q", "-o", out};
  a.insert(a.end(), extra.begin(), extra.end());
  for (const auto& d : test::shared_model_dir()) a.push_back(d);
  return a;
}

TEST(DreamCommand, ObjectiveRisesAtEveryOctaveAndTheOutputKeepsTheSize) {
  TempDir dir("dream_octaves");
  const std::string in = photo(dir, 160, 112);
  const auto r = run_cli(dream_args(in, dir.file("d.png"), {"--octaves", "3", "--iters", "4"}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const Image out = read_image(dir.file("d.png"));
  EXPECT_EQ(out.width, 160);
  EXPECT_EQ(out.height, 112);
  const auto j = nlohmann::json::parse(read_file(dir.file("d.json")));
  for (const char* key : {"command", "layer", "objective", "octaves", "octave_scale", "iters", "step", "jitter",
                          "tile", "seed", "objective_text", "model", "image", "height", "width", "receptive_field",
                          "device", "octaves_run", "seconds", "png"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j.at("objective_text"), "deepdream(inception_4c/output)");
  EXPECT_EQ(j.at("receptive_field"), 299);  // conv1 7/2, pool 3/2, conv2 3, pool 3/2, 3a-3b 5x5, pool 3/2, 4a-4c 5x5
  const auto& octaves = j.at("octaves_run");
  ASSERT_EQ(octaves.size(), 3u);
  const int want_h[] = {57, 80, 112}, want_w[] = {81, 114, 160};  // round(s / 1.4) per side, smallest first
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(octaves[k].at("height"), want_h[k]);
    EXPECT_EQ(octaves[k].at("width"), want_w[k]);
    EXPECT_FALSE(octaves[k].at("tiled").get<bool>());
    EXPECT_GT(octaves[k].at("objective_end").get<double>(), 1.2 * octaves[k].at("objective_start").get<double>())
        << "octave " << k;
  }
}

TEST(DreamCommand, SameSeedSameBytesOtherSeedOtherBytes) {
  TempDir dir("dream_seed");
  const std::string in = photo(dir, 96, 72);
  const std::vector<std::string> small = {"--octaves", "2", "--iters", "3"};
  auto with = [&](std::vector<std::string> a, std::vector<std::string> b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  ASSERT_EQ(run_cli(dream_args(in, dir.file("a.png"), small), dir).code, 0);
  ASSERT_EQ(run_cli(dream_args(in, dir.file("b.png"), small), dir).code, 0);
  ASSERT_EQ(run_cli(dream_args(in, dir.file("c.png"), with(small, {"--seed", "7"})), dir).code, 0);
  EXPECT_EQ(read_file(dir.file("a.png")), read_file(dir.file("b.png")));
  EXPECT_NE(read_file(dir.file("a.png")), read_file(dir.file("c.png")));
}

TEST(DreamCommand, AnImageLargerThanTheTileRunsInTiles) {
  TempDir dir("dream_tiles");
  const std::string in = photo(dir, 300, 200);
  // inception_3b/output sees 91 px: tiles of 128 are allowed; the 300 x 200 octave is cut into 3 x 2.
  const auto r = run_cli(dream_args(in, dir.file("t.png"), {"--layer", "inception_3b/output", "--tile", "128",
                                                            "--octaves", "2", "--iters", "3"}),
                         dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const Image out = read_image(dir.file("t.png"));
  EXPECT_EQ(out.width, 300);
  EXPECT_EQ(out.height, 200);
  const auto j = nlohmann::json::parse(read_file(dir.file("t.json")));
  EXPECT_EQ(j.at("receptive_field"), 91);
  const auto& octaves = j.at("octaves_run");
  ASSERT_EQ(octaves.size(), 2u);
  for (const auto& o : octaves) {
    EXPECT_TRUE(o.at("tiled").get<bool>());  // 214 x 143 and 300 x 200 are both larger than 128
    EXPECT_GT(o.at("objective_end").get<double>(), o.at("objective_start").get<double>());
  }
  // Same seed, same tiles and rolls: the same bytes.
  ASSERT_EQ(run_cli(dream_args(in, dir.file("t2.png"), {"--layer", "inception_3b/output", "--tile", "128",
                                                        "--octaves", "2", "--iters", "3"}),
                    dir)
                .code,
            0);
  EXPECT_EQ(read_file(dir.file("t.png")), read_file(dir.file("t2.png")));
}

TEST(DreamCommand, BadInputsAreOneLineAndNoOutput) {
  TempDir dir("dream_bad");
  const std::string in = photo(dir, 64, 48);
  const std::string out = dir.file("x.png");
  auto no_output = [&] { return !std::filesystem::exists(out) && !std::filesystem::exists(dir.file("x.json")); };
  EXPECT_TRUE(test::failed_with_one_line(run_cli(dream_args(dir.file("missing.png"), out), dir), "missing.png"));
  EXPECT_TRUE(no_output());
  EXPECT_TRUE(test::failed_with_one_line(run_cli(dream_args(in, out, {"--layer", "inception_4c/outptu"}), dir),
                                         "inception_4c/output"));  // named, with the suggestion
  EXPECT_TRUE(no_output());
  EXPECT_TRUE(test::failed_with_one_line(run_cli(dream_args(in, out, {"--tile", "128"}), dir),
                                         "smaller than the receptive field"));
  EXPECT_TRUE(no_output());
  EXPECT_TRUE(test::failed_with_one_line(run_cli(dream_args(in, out, {"--octaves", "8"}), dir), "octave"));
  EXPECT_TRUE(no_output());
  EXPECT_TRUE(test::usage_error(run_cli(dream_args(in, out, {"--octaves", "0"}), dir), "--octaves"));
  EXPECT_TRUE(no_output());
  EXPECT_TRUE(test::usage_error(run_cli(dream_args(in, out, {"--step", "0"}), dir), "--step"));
  EXPECT_TRUE(test::usage_error(
      run_cli(dream_args(in, out, {"--layer", "inception_3a/output", "--objective", "inception_3a/output:1"}), dir),
      "not both"));
  EXPECT_TRUE(test::usage_error(run_cli(dream_args(in, out, {"--objective", "deepdream("}), dir), "--objective"));
  EXPECT_TRUE(no_output());
  // --guide: an unreadable guide fails before the model loads; a guide with --objective is a usage error.
  EXPECT_TRUE(test::failed_with_one_line(run_cli(dream_args(in, out, {"--guide", dir.file("noguide.png")}), dir),
                                         "noguide.png"));
  EXPECT_TRUE(no_output());
  EXPECT_TRUE(test::usage_error(
      run_cli(dream_args(in, out, {"--guide", in, "--objective", "inception_3a/output:1"}), dir), "not both"));
  EXPECT_TRUE(no_output());
}

TEST(DreamCommand, GuidedDreamRecordsTheGuide) {
  TempDir dir("dream_guide");
  const std::string in = photo(dir, 96, 72);
  const std::string guide = dir.file("guide.png");
  write_png(guide, resize_bilinear(read_image(test::shared_image("coffee.png")), 64, 64));
  const auto r = run_cli(dream_args(in, dir.file("g.png"), {"--layer", "inception_3b/output", "--guide", guide,
                                                            "--octaves", "2", "--iters", "3"}),
                         dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(read_file(dir.file("g.json")));
  EXPECT_EQ(j.at("guide"), guide);
  EXPECT_EQ(j.at("objective_text"), "guide(inception_3b/output,[" + guide + "])");
  for (const auto& o : j.at("octaves_run"))
    EXPECT_GT(o.at("objective_end").get<double>(), o.at("objective_start").get<double>());
}

}  // namespace
}  // namespace cuviz
