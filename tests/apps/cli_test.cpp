// The cuviz binary's top level: --version, --help, subcommand help, and the exit codes: a usage
// error (unknown flag, bad value, missing option, out-of-range value, wrong count) ends with one
// `cuviz: error:` line and exit code 2, a failure while running (unreadable file, unknown layer,
// corrupt model) with one line and exit code 1. render and sweep share their optimisation flags.
#include <filesystem>

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

TEST(Cli, UsageErrorsAreOneLineAndExitCode2) {
  TempDir dir("cli");
  const std::string png = dir.file("r.png");
  const std::vector<std::string> render = {"render", "googlenet", "--objective", "inception_4a/output:0", "-o", png};
  auto with = [](std::vector<std::string> args, std::initializer_list<std::string> extra) {
    args.insert(args.end(), extra);
    return args;
  };
  // Unknown subcommand and unknown flag.
  EXPECT_TRUE(test::usage_error(run_cli({"bogus"}, dir), "bogus"));
  EXPECT_TRUE(test::usage_error(run_cli(with(render, {"--bogus"}), dir), "--bogus"));
  // Bad values: not a number, not one of the choices, an objective that does not parse.
  EXPECT_TRUE(test::usage_error(run_cli(with(render, {"--size", "big"}), dir), "--size"));
  EXPECT_TRUE(test::usage_error(
      run_cli({"classify", "googlenet", test::shared_image("coffee.png"), "--device", "gpu"}, dir), "--device"));
  EXPECT_TRUE(test::usage_error(run_cli(with(render, {"--precision", "fp16"}), dir),
                                "unknown precision 'fp16' (choices: fp32, tf32, bf16)"));
  EXPECT_TRUE(test::usage_error(run_cli(with(render, {"--param", "fft2"}), dir), "unknown param 'fft2'"));
  EXPECT_TRUE(test::usage_error(
      run_cli({"render", "googlenet", "--objective", "inception_4a/output:", "-o", png}, dir), "column"));
  // Missing required options.
  EXPECT_TRUE(test::usage_error(run_cli({"classify", "googlenet"}, dir), "images"));
  EXPECT_TRUE(test::usage_error(run_cli({"sweep", "googlenet", "-o", dir.file("s")}, dir), "--layer is required"));
  EXPECT_TRUE(test::usage_error(run_cli({"render", "googlenet", "-o", png}, dir), "--objective is required"));
  // Out-of-range values: the same check and message for render and sweep.
  EXPECT_TRUE(test::usage_error(run_cli({"info", "googlenet", "--size", "0"}, dir), "--size"));
  for (const auto& cmd : {render, std::vector<std::string>{"sweep", "googlenet", "--layer", "inception_4a/output",
                                                           "-o", dir.file("s")}}) {
    EXPECT_TRUE(test::usage_error(run_cli(with(cmd, {"--size", "4"}), dir), "--size: 4 is out of range (8 to 4096)"));
    EXPECT_TRUE(test::usage_error(run_cli(with(cmd, {"--steps", "0"}), dir), "--steps: 0 is out of range"));
    EXPECT_TRUE(test::usage_error(run_cli(with(cmd, {"--lr", "-1"}), dir), "--lr: -1 must be greater than 0"));
    EXPECT_TRUE(
        test::usage_error(run_cli(with(cmd, {"--relu-override", "-2"}), dir), "--relu-override: -2 is out of range"));
  }
  EXPECT_TRUE(test::usage_error(
      run_cli({"sweep", "googlenet", "--layer", "inception_4a/output", "--batch", "0", "-o", dir.file("s")}, dir),
      "--batch: '0' is neither auto nor a number 1-4096"));
  // Wrong counts: objectives for a batch, a value too many.
  EXPECT_TRUE(test::usage_error(run_cli(with(render, {"--batch", "3", "--objective", "inception_4a/output:1"}), dir),
                                "2 objectives for --batch 3"));
  EXPECT_TRUE(test::usage_error(run_cli({"info", "googlenet", "extra"}, dir), "extra"));
  // The usage error points at the subcommand's help; nothing was written.
  EXPECT_NE(run_cli(with(render, {"--size", "4"}), dir).err.find("(see cuviz render --help)"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(png));
  EXPECT_FALSE(std::filesystem::exists(dir.file("s")));
}

TEST(Cli, RuntimeFailuresAreOneLineAndExitCode1) {
  TempDir dir("cli");
  std::vector<std::string> model_dir = test::shared_model_dir();
  auto with_model = [&](std::vector<std::string> args) {
    args.insert(args.end(), model_dir.begin(), model_dir.end());
    return args;
  };
  // Unreadable file.
  EXPECT_TRUE(test::failed_with_one_line(
      run_cli(with_model({"classify", "googlenet", dir.file("absent.png"), "--device", "cpu"}), dir), "absent.png"));
  // Unknown layer, in a sweep and in an objective.
  EXPECT_TRUE(test::failed_with_one_line(
      run_cli(with_model({"sweep", "googlenet", "--layer", "inception_9z/output", "--device", "cpu", "-o",
                          dir.file("s")}),
              dir),
      "inception_9z/output"));
  EXPECT_TRUE(test::failed_with_one_line(
      run_cli(with_model({"render", "googlenet", "--objective", "inception_9z/output:1", "--size", "32", "--steps",
                          "1", "--device", "cpu", "-o", dir.file("r.png")}),
              dir),
      "inception_9z/output"));
  // Corrupt model file.
  test::write_text(dir.file("broken.onnx"), "this is not a protobuf");
  EXPECT_TRUE(test::failed_with_one_line(run_cli({"info", dir.file("broken.onnx")}, dir), "broken.onnx"));
}

// Each shared flag has the same line in `render --help` and `sweep --help`: the same default and
// the same help, because both come from OptimSettings's one field list.
TEST(Cli, RenderAndSweepDeclareTheSharedFlagsAlike) {
  TempDir dir("cli");
  const auto render = run_cli({"render", "--help"}, dir), sweep = run_cli({"sweep", "--help"}, dir);
  ASSERT_EQ(render.code, 0);
  ASSERT_EQ(sweep.code, 0);
  auto line_of = [](const std::string& help, const std::string& flag) {
    const size_t at = help.find("  " + flag + " ");
    if (at == std::string::npos) return std::string("(missing)");
    return help.substr(at, help.find('\n', at) - at);
  };
  for (const char* flag : {"--size", "--steps", "--param", "--transforms", "--lr", "--seed", "--relu-override",
                           "--precision", "--device", "--backend", "--profile", "--no-cuda-graph"}) {
    EXPECT_NE(line_of(render.out, flag), "(missing)") << flag;
    EXPECT_EQ(line_of(render.out, flag), line_of(sweep.out, flag)) << flag;
  }
  EXPECT_NE(render.out.find("--relu-override INT:[0 - 1000000]=16"), std::string::npos) << render.out;
  EXPECT_NE(render.out.find("--size INT:[8 - 4096]=224"), std::string::npos) << render.out;
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
