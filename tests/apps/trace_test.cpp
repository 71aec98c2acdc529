// `cuviz trace` on real GoogLeNet, CPU: the acceptance command (one gradient picture per value from
// inception_4c back to the input, every referenced image present), and every bad input is one
// line with its exit code and no page (not even a partial one).
#include <nlohmann/json.hpp>

#include <filesystem>
#include <regex>
#include <set>

#include "apps/run_cli.h"
#include "io/atomic_file.h"
#include "io/image.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::TempDir;

std::vector<std::string> trace_args(std::vector<std::string> a) {
  a.insert(a.begin(), {"trace", "googlenet"});
  for (const auto& d : test::shared_model_dir()) a.push_back(d);
  a.push_back("--device");
  a.push_back("cpu");
  return a;
}

TEST(TraceCommand, NoiseToInception4cWritesOnePicturePerLayer) {
  TempDir dir("trace_cli");
  const std::string out = dir.file("t");
  const auto r = run_cli(trace_args({"--noise", "--objective", "inception_4c/output:10", "-o", out}), dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("index.html"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(read_file(out + "/trace.json"));
  const auto& rows = j.at("rows");
  EXPECT_EQ(rows.front().at("value"), "inception_4c/output");
  EXPECT_EQ(rows.back().at("value"), "data");
  EXPECT_EQ(j.at("size"), 224);
  EXPECT_EQ(j.at("input"), "noise(0.1)");
  std::set<std::string> pictures;
  for (const auto& row : rows) pictures.insert(row.at("picture").get<std::string>());
  EXPECT_EQ(pictures.size(), rows.size());
  EXPECT_GE(rows.size(), 80u);  // 5 inception blocks of 14 values, the stem, pools, the input
  const std::string html = read_file(out + "/index.html");
  const std::regex src("src=\"([^\"]+)\"");
  std::set<std::string> referenced;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), src); it != std::sregex_iterator(); ++it) {
    referenced.insert((*it)[1]);
    read_image(out + "/" + std::string((*it)[1]));  // exists and decodes
  }
  for (const auto& p : pictures) EXPECT_TRUE(referenced.count(p)) << p;
  EXPECT_EQ(read_image(out + "/grad/000.png").width, 112);  // 14 px enlarged 8x
}

TEST(TraceCommand, BadInputsAreOneLineAndNoPage) {
  TempDir dir("trace_cli_bad");
  const std::string out = dir.file("t");
  auto check = [&](std::vector<std::string> args, int code, const std::string& needle) {
    const auto r = run_cli(trace_args(std::move(args)), dir);
    EXPECT_EQ(r.code, code) << r.err;
    const auto lines = r.err_lines();
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.back().rfind("cuviz: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(out)) << needle;
    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
      EXPECT_EQ(e.path().filename().string().find(".t.tmp"), std::string::npos) << e.path();
  };
  check({"--noise", "--objective", "inception_4x/output:10", "-o", out}, 1, "inception_4x/output");
  check({"--noise", "--objective", "inception_4c/output:9999", "-o", out}, 1, "9999");
  check({dir.file("missing.png"), "--objective", "inception_4c/output:10", "-o", out}, 1, "missing.png");
  check({"--objective", "inception_4c/output:10", "-o", out}, 2, "IMAGE or --noise");
  check({"--noise", "--objective", "inception_4c/output:(", "-o", out}, 2, "objective");
  check({"--noise", "--objective", "inception_4c/output:10", "-o", dir.file("no/such/dir")}, 1, "does not exist");
}

}  // namespace
}  // namespace cuviz
