// `cuviz render` on real GoogLeNet at a tiny size: out.json keeps the keys its readers use and
// records every setting (the unified defaults included), and the shared progress bar writes its
// log lines to stderr unless -q.
#include <nlohmann/json.hpp>

#include "apps/run_cli.h"
#include "io/atomic_file.h"
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
                          "steps_per_second", "png"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j.at("size"), 32);
  EXPECT_EQ(j.at("steps"), 3);
  EXPECT_EQ(j.at("objectives"), nlohmann::json::array({"inception_3a/output:5"}));
  // The default ReLU override is Lucid's 16, as for sweep; under both keys.
  EXPECT_EQ(j.at("relu_override"), 16);
  EXPECT_EQ(j.at("relu_override_steps"), 16);
  EXPECT_EQ(j.at("param"), "fourier");
  EXPECT_EQ(j.at("precision"), "fp32");
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

}  // namespace
}  // namespace cuviz
