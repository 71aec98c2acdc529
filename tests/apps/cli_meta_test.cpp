// The command line about itself (apps/cli_meta.h), through the real `cuviz` binary where a user
// would see it: --version, the bash completion script (sourced in bash, its function called as
// bash calls it on <TAB>), the "Examples:" block of every subcommand's --help (each example is
// parsed by the app tree), and docs/cli.md's generated reference, which must equal what the binary
// prints (CUVIZ_UPDATE_CLI_DOC=1 ./build-cpu/apps_cli_meta_test rewrites it).
#include <fstream>
#include <regex>
#include <sstream>

#include "test_util.h"
#include "apps/cli_meta.h"
#include "apps/run_cli.h"

namespace cuviz {
namespace {

using test::run_cli;
using test::TempDir;

// The subcommands `cuviz --help` lists (the lines after "Subcommands:").
std::vector<std::string> listed_subcommands(const TempDir& dir) {
  const auto r = run_cli({"--help"}, dir);
  EXPECT_EQ(r.code, 0);
  std::vector<std::string> names;
  std::istringstream in(r.out.substr(r.out.find("Subcommands:")));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line) && line.rfind("  ", 0) == 0) {
    std::istringstream words(line);
    std::string name;
    words >> name;
    names.push_back(name);
  }
  return names;
}

TEST(CliMeta, VersionNamesTheProjectVersionCommitAndCudaBuild) {
  TempDir dir("cli_meta");
  const auto r = run_cli({"--version"}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  // The version is CMake's project(cuviz VERSION x.y.z), read here from CMakeLists.txt itself.
  const std::string cmake = test::read_text(std::string(CUVIZ_SOURCE_DIR) + "/CMakeLists.txt");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(cmake, m, std::regex(R"(project\(cuviz VERSION ([0-9.]+))")));
  const std::string first = r.out.substr(0, r.out.find('\n'));
  EXPECT_TRUE(std::regex_match(first, std::regex("cuviz " + std::regex_replace(m[1].str(), std::regex(R"(\.)"), "\\.") +
                                                 R"(( \(commit [0-9a-f]{12}\))?)")))
      << first;
#if CUVIZ_HAS_CUDA
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\nCUDA: built with toolkit [0-9.]+ for architectures \S+\n)")))
      << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\ncuBLAS: [0-9]+\.[0-9]+\.[0-9]+\n)"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\ncuDNN: ([0-9]+\.[0-9]+\.[0-9]+|not built .*)\n$)"))) << r.out;
#else
  EXPECT_EQ(r.out.substr(first.size()), "\nCUDA: not built (CPU only)\n");
#endif
  EXPECT_EQ(r.out, app::version_text() + "\n");
}

// Runs `script` in bash after sourcing the completion script; complete WORDS... prints the
// candidates bash would offer for the last word, one per line.
std::string bash_complete(const TempDir& dir, const std::string& script) {
  const auto gen = run_cli({"completion", "bash"}, dir);
  EXPECT_EQ(gen.code, 0) << gen.err;
  test::write_text(dir.file("cuviz.bash"), gen.out);
  test::write_text(dir.file("t.sh"),
                   "source ./cuviz.bash || exit 3\n"
                   "complete_words() { COMP_WORDS=(\"$@\"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=();\n"
                   "  _cuviz; printf '%s\\n' \"${COMPREPLY[@]}\" | LC_ALL=C sort; echo --; }\n" +
                       script);
  const std::string cmd = "cd " + test::shell_quote(dir.path().string()) + " && bash --norc --noprofile t.sh >out.txt 2>err.txt";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << test::read_text(dir.file("err.txt"));
  EXPECT_EQ(test::read_text(dir.file("err.txt")), "");
  return test::read_text(dir.file("out.txt"));
}

// The candidates for one command line (the last word is the one being completed).
std::vector<std::string> candidates(const TempDir& dir, const std::string& words) {
  const std::string out = bash_complete(dir, "complete_words " + words + "\n");
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l) && l != "--";)
    if (!l.empty()) lines.push_back(l);
  return lines;
}

using Words = std::vector<std::string>;

TEST(CliMeta, BashCompletionOffersSubcommandsOptionsChoicesModelsAndFiles) {
  TempDir dir("cli_meta");
  // After `cuviz`: every subcommand --help lists, and only those (not the hidden help-markdown).
  auto subs = listed_subcommands(dir);
  ASSERT_GE(subs.size(), 15u);
  std::sort(subs.begin(), subs.end());
  EXPECT_EQ(candidates(dir, "cuviz ''"), subs);
  EXPECT_EQ(candidates(dir, "cuviz re"), Words{"render"});
  EXPECT_EQ(candidates(dir, "cuviz --v"), Words{"--version"});
  // Options of the subcommand being typed, after positionals and other options too.
  EXPECT_EQ(candidates(dir, "cuviz render --dev"), Words{"--device"});
  EXPECT_EQ(candidates(dir, "cuviz render googlenet --size 64 --ste"), Words{"--steps"});
  EXPECT_EQ(candidates(dir, "cuviz classify --to"), Words{"--top"});
  EXPECT_EQ(candidates(dir, "cuviz render --to"), Words{});  // --top is classify's, not render's
  // An option's value: its declared choices (also after '='), nothing for a number.
  EXPECT_EQ(candidates(dir, "cuviz render --device ''"), (Words{"auto", "cpu", "cuda"}));
  EXPECT_EQ(candidates(dir, "cuviz render --device = c"), (Words{"cpu", "cuda"}));
  EXPECT_EQ(candidates(dir, "cuviz render --precision ''"), (Words{"bf16", "fp32", "tf32"}));
  EXPECT_EQ(candidates(dir, "cuviz groups --method ''"), (Words{"nmf", "pca"}));
  EXPECT_EQ(candidates(dir, "cuviz completion ''"), (Words{"bash", "zsh"}));
  EXPECT_EQ(candidates(dir, "cuviz render --size ''"), Words{});
  // MODEL: the model names (and paths); the next positional: file names; -o: file names;
  // --model-dir: directories only. The temp dir is the working directory.
  test::write_text(dir.file("cat.png"), "x");
  std::filesystem::create_directory(dir.path() / "cats");
  EXPECT_EQ(candidates(dir, "cuviz classify goo"), Words{"googlenet"});
  EXPECT_EQ(candidates(dir, "cuviz classify --top 3 googlenet ca"), (Words{"cat.png", "cats"}));
  EXPECT_EQ(candidates(dir, "cuviz dream --layer inception_4c/output googlenet ca"), (Words{"cat.png", "cats"}));
  EXPECT_EQ(candidates(dir, "cuviz render -o ca"), (Words{"cat.png", "cats"}));
  EXPECT_EQ(candidates(dir, "cuviz render --model-dir ca"), Words{"cats"});
  // --start takes seed|zeros|noise or a photo / .npy path.
  EXPECT_EQ(candidates(dir, "cuviz render --start ''"), (Words{"cat.png", "cats", "cuviz.bash", "err.txt", "noise",
                                                               "out.txt", "seed", "stderr.txt", "stdout.txt", "t.sh",
                                                               "zeros"}));
}

TEST(CliMeta, ZshCompletionIsTheBashOneThroughBashcompinit) {
  TempDir dir("cli_meta");
  const auto bash = run_cli({"completion", "bash"}, dir), zsh = run_cli({"completion", "zsh"}, dir);
  ASSERT_EQ(zsh.code, 0);
  EXPECT_NE(zsh.out.find("bashcompinit"), std::string::npos);
  EXPECT_NE(zsh.out.find(bash.out.substr(bash.out.find("_cuviz_words()"))), std::string::npos);
  EXPECT_TRUE(test::usage_error(run_cli({"completion", "fish"}, dir), "fish"));
}

// In zsh (when installed; CI has none): the script registers _cuviz through bashcompinit, and the
// function, called as zsh's compgen -F calls it (sh emulation; zsh's own $PREFIX is the word being
// completed, and zsh filters the candidates by it afterwards), offers the same candidates.
TEST(CliMeta, ZshCompletionRegistersAndCompletesWhereZshIsInstalled) {
  if (std::system("command -v zsh >/dev/null 2>&1") != 0) GTEST_SKIP() << "zsh is not installed";
  TempDir dir("cli_meta");
  const auto gen = run_cli({"completion", "zsh"}, dir);
  ASSERT_EQ(gen.code, 0) << gen.err;
  test::write_text(dir.file("cuviz.zsh"), gen.out);
  test::write_text(dir.file("cat.png"), "x");
  std::filesystem::create_directory(dir.path() / "cats");
  test::write_text(dir.file("t.zsh"),
                   "autoload -U compinit && compinit -u -D\n"
                   "source ./cuviz.zsh\n"
                   "print -r -- \"${_comps[cuviz]}\"\n"
                   "t() { local PREFIX=$1; shift; emulate -L sh; COMP_WORDS=(\"$@\");\n"
                   "  COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); _cuviz; print -r -- \"${COMPREPLY[*]}\"; }\n"
                   "t '' cuviz render --device ''\n"
                   "t ca cuviz render -o ca\n"
                   "t ca cuviz render --model-dir ca\n");
  const std::string cmd = "cd " + test::shell_quote(dir.path().string()) + " && zsh -f t.zsh >out.txt 2>err.txt";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << test::read_text(dir.file("err.txt"));
  EXPECT_EQ(test::read_text(dir.file("out.txt")), "_bash_complete -F _cuviz\nauto cpu cuda\ncat.png cats\ncats\n");
}

TEST(CliMeta, EverySubcommandHelpEndsWithExamplesThatParse) {
  TempDir dir("cli_meta");
  int total = 0;
  for (const auto& sub : listed_subcommands(dir)) {
    SCOPED_TRACE(sub);
    const auto r = run_cli({sub, "--help"}, dir);
    ASSERT_EQ(r.code, 0);
    const size_t at = r.out.rfind("\nExamples:\n");
    ASSERT_NE(at, std::string::npos) << r.out;
    std::istringstream in(r.out.substr(at + 11));
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      EXPECT_EQ(line.rfind("  cuviz " + sub + " ", 0), 0u) << "not an example of " << sub << ": " << line;
      ++n;
    }
    EXPECT_GE(n, 1);
    EXPECT_LE(n, 3);
    total += n;
  }
  // The binary parses each of them with its own app tree.
  const auto r = run_cli({"help-markdown", "--check-examples"}, dir);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, std::to_string(total) + " examples parse\n");
}

// check_examples finds each kind of bad example (so the test above can fail).
TEST(CliMeta, CheckExamplesReportsUnknownFlagsBadValuesMissingOptionsAndStrayLines) {
  CLI::App root{"toy"};
  std::string device, out;
  int size = 0;
  CLI::App* run = root.add_subcommand("run", "toy run");
  run->add_option("--device", device)->check(CLI::IsMember({"cpu", "cuda"}));
  run->add_option("--size", size);
  run->add_option("-o,--out", out)->required();
  CLI::App* other = root.add_subcommand("other", "toy other");
  // The real table has examples for neither, and for subcommands this tree lacks.
  const auto missing = app::add_examples(root);
  auto has = [&](const std::string& line) { return std::find(missing.begin(), missing.end(), line) != missing.end(); };
  EXPECT_TRUE(has("run: no examples in apps/cli_meta.cpp's example_table")) << ::testing::PrintToString(missing);
  EXPECT_TRUE(has("other: no examples in apps/cli_meta.cpp's example_table"));
  EXPECT_TRUE(has("info: example_table has examples for it, but it is not a subcommand"));
  run->footer(
      "Examples:\n  cuviz run -o a.png --device cuda  # fine\n  cuviz run -o a.png --bogus\n  cuviz run --size big -o "
      "a.png\n  cuviz run --device gpu -o a.png\n  cuviz run --size 3\n  cuviz other\n");
  other->footer("Examples:\n  cuviz other\n");
  EXPECT_EQ(app::examples_of(*run).size(), 6u);
  EXPECT_EQ(app::examples_of(*run)[0], "cuviz run -o a.png --device cuda");
  int checked = 0;
  auto problems = app::check_examples(root, &checked);
  EXPECT_EQ(checked, 7);
  ASSERT_EQ(problems.size(), missing.size() + 5) << ::testing::PrintToString(problems);
  problems.erase(problems.begin(), problems.begin() + long(missing.size()));
  EXPECT_NE(problems[0].find("--bogus"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("--size big"), std::string::npos) << problems[1];
  EXPECT_NE(problems[2].find("gpu"), std::string::npos) << problems[2];
  EXPECT_NE(problems[3].find("--out is required"), std::string::npos) << problems[3];
  EXPECT_NE(problems[4].find("does not start with 'cuviz run '"), std::string::npos) << problems[4];
  other->footer("");
  EXPECT_EQ(app::check_examples(root).back(), "other: no examples in its --help");
}

// docs/cli.md's reference part is what the binary prints; CUVIZ_UPDATE_CLI_DOC=1 rewrites it.
TEST(CliMeta, DocsCliMdReferenceIsTheBinarysOwnHelp) {
  TempDir dir("cli_meta");
  const auto r = run_cli({"help-markdown"}, dir);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const auto& sub : listed_subcommands(dir))
    EXPECT_NE(r.out.find("### `cuviz " + sub + " --help`\n\n```text\n"), std::string::npos) << sub;
  EXPECT_EQ(r.out.find("help-markdown"), std::string::npos) << "the hidden command is not documented";
  const std::string path = std::string(CUVIZ_SOURCE_DIR) + "/docs/cli.md";
  const std::string doc = test::read_text(path);
  const std::string begin = "<!-- cli-reference: begin -->\n", end = "<!-- cli-reference: end -->";
  const size_t b = doc.find(begin), e = doc.find(end);
  ASSERT_TRUE(b != std::string::npos && e != std::string::npos && b < e) << "docs/cli.md lacks the markers";
  const std::string updated = doc.substr(0, b + begin.size()) + r.out + doc.substr(e);
  if (std::getenv("CUVIZ_UPDATE_CLI_DOC")) {
    test::write_text(path, updated);
    return;
  }
  if (doc == updated) return;
  // The first line that differs, then how to regenerate.
  std::istringstream have(doc), want(updated);
  std::string h, w;
  int line = 1;
  while (std::getline(have, h) && std::getline(want, w) && h == w) ++line;
  ADD_FAILURE() << "docs/cli.md line " << line << " is\n  " << h << "\nbut the binary prints\n  " << w
                << "\nRegenerate the reference: CUVIZ_UPDATE_CLI_DOC=1 ./build-cpu/apps_cli_meta_test "
                   "--gtest_filter='*DocsCliMd*'";
}

}  // namespace
}  // namespace cuviz
