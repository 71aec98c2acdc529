// --profile N, --profile-json and --profile-svg (apps/profile.h, docs/profiling.md) on the shared
// GoogLeNet on the CPU: the rows add up to the measured step, each conv's FLOPs are 2 x the MACs
// `cuviz info` prints x the batch (forward and backward-data), the JSON has the documented keys,
// the roofline is an SVG with its roofs, every render-loop method profiles and writes nothing, and
// the commands without a render loop refuse --profile with a usage error.
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "apps/run_cli.h"
#include "core/tensor.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "loaders/preprocess.h"
#include "test_util.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::with_model_dir;
using test::TempDir;


// Layer -> MACs per image from `cuviz info googlenet --size N` (its table: name type output params MACs).
std::map<std::string, double> info_macs(TempDir& dir, int size) {
  const auto r = run_cli(with_model_dir({"info", "googlenet", "--size", std::to_string(size)}), dir);
  EXPECT_EQ(r.code, 0) << r.err;
  std::map<std::string, double> macs;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    const size_t close = line.find(']');  // the output shape "[n, c, h, w]" holds spaces
    if (close == std::string::npos) continue;
    std::istringstream head(line.substr(0, close)), tail(line.substr(close + 1));
    std::string name, type;
    double params = 0, m = 0;
    if (head >> name >> type && tail >> params >> m && type == "conv") macs[name] = m;
  }
  return macs;
}

TEST(Profile, RenderJsonRowsAddUpAndConvFlopsMatchInfo) {
  TempDir dir("profile_json");
  // `cuviz info` plans the whole network, whose pool5 needs the full 224 px.
  const int size = 224, batch = 1;
  const auto r = run_cli(with_model_dir({"render", "googlenet", "--objective", "inception_4a/output:97", "--size",
                                         std::to_string(size), "--batch", std::to_string(batch), "--device", "cpu",
                                         "--profile", "2", "--profile-json", dir.file("p.json"), "--profile-svg",
                                         dir.file("p.svg")}),
                         dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(read_file(dir.file("p.json")));
  EXPECT_EQ(j.at("schema"), "cuviz-profile/1");
  EXPECT_EQ(j.at("steps"), 2);
  EXPECT_EQ(j.at("batch"), batch);
  const double step_ms = j.at("step_ms");
  ASSERT_GT(step_ms, 0);
  EXPECT_GT(j.at("peak").at("gflops").get<double>(), 0.1);
  EXPECT_GT(j.at("peak").at("gbytes_per_s").get<double>(), 0.1);

  double sum = 0;
  std::map<std::string, nlohmann::json> rows;
  for (const auto& row : j.at("rows")) {
    for (const char* key : {"name", "kind", "stage", "forward_ms", "backward_ms", "ms", "flops", "flops_forward",
                            "flops_backward", "bytes", "bytes_forward", "bytes_backward", "gflops", "gbytes_per_s",
                            "intensity", "bound", "roof_pct", "share"})
      EXPECT_TRUE(row.contains(key)) << key;
    const double f = row.at("forward_ms"), b = row.at("backward_ms");
    EXPECT_GE(f, 0);
    EXPECT_GE(b, 0);
    EXPECT_DOUBLE_EQ(row.at("ms").get<double>(), f + b);
    EXPECT_DOUBLE_EQ(row.at("flops").get<double>(),
                     row.at("flops_forward").get<double>() + row.at("flops_backward").get<double>());
    sum += f + b;
    rows[row.at("name")] = row;
  }
  // The rows are the leaves of the step: they add up to the measured step time but for the loop's
  // bookkeeping, which must stay within 5% (the acceptance).
  EXPECT_NEAR(j.at("rows_ms").get<double>(), sum, 1e-9 * sum);
  EXPECT_NEAR(sum, step_ms, 0.05 * step_ms) << "unattributed " << j.at("unattributed_ms");
  // The stages are rows of their own.
  for (const char* stage : {"param", "transform", "objective", "update", "input"}) EXPECT_TRUE(rows.count(stage)) << stage;
  EXPECT_EQ(rows.at("update").at("stage"), "optimizer");
  EXPECT_GT(rows.at("param").at("backward_ms").get<double>(), 0);

  // Conv FLOPs: 2 x MACs x batch, forward and backward-data, from `cuviz info`'s independent table.
  const auto macs = info_macs(dir, size);
  ASSERT_GT(macs.size(), 50u);
  int convs = 0;
  for (const auto& [name, row] : rows) {
    if (row.at("kind") != "conv") continue;
    ++convs;
    ASSERT_TRUE(macs.count(name)) << name;
    EXPECT_DOUBLE_EQ(row.at("flops_forward").get<double>(), 2.0 * macs.at(name) * batch) << name;
    EXPECT_GT(row.at("forward_ms").get<double>(), 0) << name;
    EXPECT_TRUE(row.at("bound") == "compute" || row.at("bound") == "memory") << name;
  }
  EXPECT_EQ(convs, 21) << "GoogLeNet to inception_4a: conv1, conv2/3x3_reduce, conv2/3x3 and 6 convs in each of 3a, 3b, 4a";
  // Every conv up to inception_4a receives a gradient here: backward-data has the forward's products.
  EXPECT_DOUBLE_EQ(rows.at("inception_3b/5x5").at("flops_backward").get<double>(),
                   2.0 * macs.at("inception_3b/5x5") * batch);
  EXPECT_DOUBLE_EQ(rows.at("conv1/7x7_s2").at("flops_backward").get<double>(), 2.0 * macs.at("conv1/7x7_s2") * batch);

  // The roofline: an SVG with the two roofs and the top layers labelled.
  const std::string svg = read_file(dir.file("p.svg"));
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("GB/s</text>"), std::string::npos);
  EXPECT_NE(svg.find("<circle"), std::string::npos);
  // The table on stdout, its sum line included.
  EXPECT_NE(r.out.find("unattributed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("inception_3a/3x3"), std::string::npos) << r.out;
}

// The GPU path: per-op CUDA events on eager launches, the roofs from the device's attributes.
TEST(Profile, CudaRowsAddUpAndPeaksComeFromTheDevice) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  TempDir dir("profile_cuda");
  const auto r = run_cli(with_model_dir({"render", "googlenet", "--objective", "inception_4a/output:97", "--size",
                                         "224", "--batch", "4", "--device", "cuda", "--profile", "5",
                                         "--profile-json", dir.file("p.json")}),
                         dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(read_file(dir.file("p.json")));
  EXPECT_EQ(j.at("device"), "cuda");
  EXPECT_NE(j.at("peak").at("source").get<std::string>().find("device attributes"), std::string::npos);
  EXPECT_GT(j.at("peak").at("gflops").get<double>(), 1000.0);
  const double step_ms = j.at("step_ms"), rows_ms = j.at("rows_ms");
  // Event time excludes the launch gaps between ops: the rows may fall short of the step, never exceed it.
  EXPECT_LE(rows_ms, 1.02 * step_ms);
  EXPECT_GT(rows_ms, 0.5 * step_ms);
  for (const auto& row : j.at("rows"))
    if (row.at("kind") == "conv") EXPECT_GT(row.at("forward_ms").get<double>(), 0) << row.at("name");
}

TEST(Profile, EveryRenderLoopMethodProfilesAndWritesNothing) {
  TempDir dir("profile_methods");
  const std::string photo = dir.file("photo.png");  // chelsea, small: one octave of DeepDream at its size
  write_png(photo, resize_bilinear(read_image(test::shared_image("chelsea.png")), 64, 48));
  const std::vector<std::vector<std::string>> runs = {
      {"dream", "googlenet", photo, "--octaves", "1", "-o", dir.file("d.png")},
      {"invert", "googlenet", photo, "--layer", "inception_3a/output", "--size", "48", "-o", dir.file("i.png")},
  };
  for (auto args : runs) {
    for (const char* a : {"--device", "cpu", "--profile", "1"}) args.push_back(a);
    const auto r = run_cli(with_model_dir(args), dir);
    ASSERT_EQ(r.code, 0) << args[0] << ": " << r.err;
    EXPECT_NE(r.out.find("profile: " + args[0] + " on the cpu"), std::string::npos) << r.out;
    EXPECT_FALSE(std::filesystem::exists(dir.file(args[0] == "dream" ? "d.png" : "i.png"))) << args[0];
  }
}

TEST(Profile, CommandsWithoutARenderLoopAndBadFlagsAreUsageErrors) {
  TempDir dir("profile_usage");
  const auto attribute = run_cli(
      with_model_dir({"attribute", "googlenet", test::shared_image("chelsea.png"), "--method", "gradient", "--device",
                      "cpu", "--profile", "1", "-o", dir.file("a.png")}),
      dir);
  EXPECT_TRUE(test::usage_error(attribute, "--profile")) << attribute.err;
  const auto json_alone = run_cli(with_model_dir({"render", "googlenet", "--objective", "inception_4a/output:97",
                                                  "--device", "cpu", "--profile-json", dir.file("p.json"), "-o",
                                                  dir.file("r.png")}),
                                  dir);
  EXPECT_TRUE(test::usage_error(json_alone, "--profile")) << json_alone.err;
  const auto bad_dir = run_cli(with_model_dir({"render", "googlenet", "--objective", "inception_4a/output:97",
                                               "--device", "cpu", "--size", "32", "--profile", "1", "--profile-json",
                                               dir.file("nowhere/p.json")}),
                               dir);
  EXPECT_TRUE(test::failed_with_one_line(bad_dir, "nowhere")) << bad_dir.err;
}

}  // namespace
}  // namespace cuviz
