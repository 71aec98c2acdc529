// The cuviz binary's top level: --version, --help, subcommand help, and usage errors ending with
// one `cuviz: error:` line and exit code 1.
#include "test_util.h"
#include "apps/run_cli.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::TempDir;

TEST(Cli, Version) {
  TempDir dir("cli");
  const auto r = run_cli({"--version"}, dir);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind("cuviz 0.", 0), 0u) << r.out;
}

TEST(Cli, HelpListsEverySubcommand) {
  TempDir dir("cli");
  for (const auto& args : {std::vector<std::string>{"--help"}, std::vector<std::string>{}}) {
    const auto r = run_cli(args, dir);
    EXPECT_EQ(r.code, 0);
    for (const char* cmd : {"info", "classify", "forward"}) EXPECT_NE(r.out.find(cmd), std::string::npos) << r.out;
  }
  const auto sub = run_cli({"classify", "--help"}, dir);
  EXPECT_EQ(sub.code, 0);
  for (const char* opt : {"--top", "--device", "--format", "--model-dir"})
    EXPECT_NE(sub.out.find(opt), std::string::npos) << sub.out;
}

TEST(Cli, UsageErrorsAreOneLine) {
  TempDir dir("cli");
  EXPECT_TRUE(test::failed_with_one_line(run_cli({"bogus"}, dir), "bogus"));
  EXPECT_TRUE(test::failed_with_one_line(run_cli({"classify", "googlenet"}, dir), "images"));
  EXPECT_TRUE(test::failed_with_one_line(run_cli({"info", "googlenet", "--size", "0"}, dir), "--size"));
  EXPECT_TRUE(test::failed_with_one_line(
      run_cli({"classify", "googlenet", test::shared_image("coffee.png"), "--device", "gpu"}, dir), "--device"));
  EXPECT_TRUE(test::failed_with_one_line(
      run_cli({"render", "googlenet", "--objective", "inception_4a/output:0", "--precision", "fp16", "-o",
               dir.file("r.png")},
              dir),
      "unknown precision 'fp16' (choices: fp32, tf32, bf16)"));
}

TEST(Cli, MissingModelIsOneLineNamingTheSearch) {
  TempDir dir("cli");
  EXPECT_TRUE(test::failed_with_one_line(run_cli({"info", "no_such_model"}, dir), "no_such_model"));
  // A known name whose files are absent: the multi-line "searched" report is folded into one line.
  EXPECT_TRUE(test::failed_with_one_line(
      run_cli({"info", "vgg19", "--model-dir", dir.file("empty_dir")}, dir), "searched"));
}

}  // namespace
}  // namespace cuviz
