// `cuviz attribute` on real GoogLeNet, CPU: panels side by side, the HTML page and JSON sidecar,
// raw maps with the shapes the issue specifies (and equal to the library's), --sanity and
// --faithfulness figures, and every bad input one line with its exit code and no output file.
#include <nlohmann/json.hpp>

#include <filesystem>

#include "apps/run_cli.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "io/npy.h"
#include "loaders/model.h"
#include "viz/image_source.h"
#include "test_util.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::TempDir;

std::vector<std::string> attribute_args(const std::string& out, std::vector<std::string> extra) {
  std::vector<std::string> a = {"attribute", "googlenet", test::shared_image("coffee.png"), "--device", "cpu",
                                "-q",        "-o",        out};
  a.insert(a.end(), extra.begin(), extra.end());
  for (const auto& d : test::shared_model_dir()) a.push_back(d);
  return a;
}

TEST(AttributeCommand, SeveralMethodsWritePanelsPageSidecarAndRawMaps) {
  TempDir dir("attribute_several");
  const auto r = run_cli(attribute_args(dir.file("a.png"), {"--method", "gradient,grad_cam,integrated_gradients,occlusion",
                                                            "--steps", "8", "--patch", "56", "--stride", "56",
                                                            "--target", "espresso", "--raw", dir.file("raw.npy")}),
                         dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const Image png = read_image(dir.file("a.png"));
  EXPECT_EQ(png.width, 5 * 224 + 4 * 4);  // the input and four panels, 4 px apart
  EXPECT_EQ(png.height, 224);
  const auto j = nlohmann::json::parse(read_file(dir.file("a.json")));
  EXPECT_EQ(j.at("target").at("index"), 967);
  EXPECT_EQ(j.at("target").at("label"), "espresso");
  EXPECT_GT(j.at("target").at("logit").get<double>(), 10.0);
  for (const char* key : {"samples", "noise", "steps", "ig_method", "baseline", "layer", "patch", "stride", "rule",
                          "softmax", "model", "image", "methods", "png", "html"})
    EXPECT_TRUE(j.contains(key)) << key;
  ASSERT_EQ(j.at("methods").size(), 4u);
  EXPECT_EQ(j.at("methods")[1].at("layer"), "inception_5b/output");
  EXPECT_TRUE(j.at("methods")[2].contains("completeness_error"));
  const std::string html = read_file(dir.file("a.html"));
  EXPECT_NE(html.find("espresso"), std::string::npos);
  EXPECT_NE(html.find("a.png"), std::string::npos);
  // Raw maps: one file per method, [3, H, W] pixel maps and [h, w] Grad-CAM.
  const NpyArray g = read_npy(dir.file("raw.gradient.npy"));
  EXPECT_EQ(g.dims, (std::vector<int64_t>{3, 224, 224}));
  const NpyArray cam = read_npy(dir.file("raw.grad_cam.npy"));
  EXPECT_EQ(cam.dims, (std::vector<int64_t>{7, 7}));
  for (float v : cam.data) EXPECT_GE(v, 0.f);
  const NpyArray occ = read_npy(dir.file("raw.occlusion.npy"));
  EXPECT_EQ(occ.dims, (std::vector<int64_t>{3, 224, 224}));
  EXPECT_TRUE(std::filesystem::exists(dir.file("raw.integrated_gradients.npy")));
  // Signed, before any absolute value: the gradient has both signs.
  int neg = 0, pos = 0;
  for (float v : g.data) (v < 0 ? neg : pos) += v != 0;
  EXPECT_GT(neg, 1000);
  EXPECT_GT(pos, 1000);
}

TEST(AttributeCommand, OneMethodWritesTheRawPathAsGivenAndTheSameMapByIndex) {
  TempDir dir("attribute_one");
  auto r = run_cli(attribute_args(dir.file("g.png"), {"--method", "gradient", "--target", "967", "--raw", dir.file("g.npy")}),
                   dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("g.html")));  // one method: the PNG and the sidecar
  r = run_cli(attribute_args(dir.file("h.png"), {"--method", "gradient", "--raw", dir.file("h.npy")}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  // coffee.png's top class is espresso: --target top and --target 967 give the same map.
  EXPECT_EQ(read_npy(dir.file("g.npy")).data, read_npy(dir.file("h.npy")).data);
  const auto j = nlohmann::json::parse(read_file(dir.file("h.json")));
  EXPECT_EQ(j.at("target").at("index"), 967);
}

// IMAGE may be the preprocessed network input as .npy: the photo's input written out gives the
// same raw map, value for value.
TEST(AttributeCommand, AnNpyInputIsTheNetworkInputItself) {
  TempDir dir("attribute_npy");
  Graph g;
  try {
    g = load_model(std::string(CUVIZ_SHARED_DIR) + "/weights/bvlc_googlenet");
  } catch (const Error& e) {
    GTEST_SKIP() << "googlenet not found: " << e.what();
  }
  const OwnedTensor x = load_network_input(test::shared_image("coffee.png"), g.meta, 1, 224);
  write_npy(dir.file("x.npy"), x);
  auto r = run_cli(attribute_args(dir.file("p.png"), {"--method", "gradient", "--raw", dir.file("p.npy")}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> a = {"attribute", "googlenet", dir.file("x.npy"), "--device", "cpu", "-q", "-o",
                                dir.file("n.png"),   "--method",  "gradient", "--raw", dir.file("n.npy")};
  for (const auto& d : test::shared_model_dir()) a.push_back(d);
  r = run_cli(a, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_npy(dir.file("p.npy")).data, read_npy(dir.file("n.npy")).data);
}

TEST(AttributeCommand, SanityAndFaithfulnessFigures) {
  TempDir dir("attribute_checks");
  const auto r = run_cli(attribute_args(dir.file("s.png"), {"--method", "gradient", "--sanity",
                                                            "--faithfulness", "--faithfulness-steps", "8"}),
                         dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(read_file(dir.file("s.json")));
  for (const auto& m : j.at("methods")) {
    const auto& steps = m.at("sanity");
    ASSERT_EQ(steps.size(), 12u);  // loss3, inception_5b ... inception_3a, conv2, conv1
    EXPECT_EQ(steps[0].at("randomized_down_to"), "loss3");
    EXPECT_EQ(steps[11].at("randomized_down_to"), "conv1");
    // Fully randomised, the map no longer matches the trained one.
    EXPECT_LT(steps[11].at("spearman").get<double>(), 0.9) << m.at("method");
    for (const auto& st : steps) {
      EXPECT_LE(std::abs(st.at("spearman").get<double>()), 1.0);
      EXPECT_LE(st.at("ssim").get<double>(), 1.0 + 1e-9);
    }
    const auto& f = m.at("faithfulness");
    EXPECT_EQ(f.at("deletion").size(), 9u);
    EXPECT_GE(f.at("deletion_auc").get<double>(), 0.0);
    EXPECT_LE(f.at("insertion_auc").get<double>(), 1.0);
  }
  const Image sanity = read_image(dir.file("s.sanity.png"));
  EXPECT_EQ(sanity.width, 14 * 224 + 13 * 4);  // input, original, 12 steps
  EXPECT_EQ(sanity.height, 224);
  EXPECT_NE(read_file(dir.file("s.html")).find("Spearman"), std::string::npos);
}

TEST(AttributeCommand, BadInputIsOneLineAndNoOutputFile) {
  TempDir dir("attribute_bad");
  const std::string out = dir.file("bad.png");
  auto none_written = [&] {
    return !std::filesystem::exists(out) && !std::filesystem::exists(dir.file("bad.json")) &&
           !std::filesystem::exists(dir.file("bad.npy"));
  };
  const std::vector<std::string> raw = {"--raw", dir.file("bad.npy")};
  auto args = [&](std::vector<std::string> extra) {
    extra.insert(extra.end(), raw.begin(), raw.end());
    return attribute_args(out, extra);
  };
  EXPECT_TRUE(test::usage_error(run_cli(args({"--method", "gradient,saliencyy"}), dir), "unknown method 'saliencyy'"));
  EXPECT_TRUE(none_written());
  EXPECT_TRUE(test::usage_error(run_cli(args({"--method", "gradient", "--rule", "epsilon_omega"}), dir),
                                "unknown rule 'epsilon_omega'"));
  EXPECT_TRUE(none_written());
  EXPECT_TRUE(test::failed_with_one_line(run_cli(args({"--method", "grad_cam", "--layer", "inception_9z/output"}), dir),
                                         "inception_9z/output"));
  EXPECT_TRUE(none_written());
  EXPECT_TRUE(test::failed_with_one_line(run_cli(args({"--method", "grad_cam", "--layer", "loss3/classifier"}), dir),
                                         "not spatial"));
  EXPECT_TRUE(none_written());
  EXPECT_TRUE(test::usage_error(run_cli(args({"--method", "gradient", "--target", "1000"}), dir), "out of range"));
  EXPECT_TRUE(none_written());
  EXPECT_TRUE(test::usage_error(run_cli(args({"--method", "smoothgrad", "--samples", "0"}), dir), "--samples"));
  EXPECT_TRUE(none_written());
  EXPECT_TRUE(test::usage_error(run_cli(args({"--method", "gradient", "--baseline", "grey"}), dir), "--baseline"));
  EXPECT_TRUE(none_written());
}

}  // namespace
}  // namespace cuviz
