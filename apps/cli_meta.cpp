// The "Examples:" block of every subcommand's --help, the check that each example parses, and the
// reference part of docs/cli.md generated from the binary's own help (apps/cli_meta.h).
#include "apps/cli_meta.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cuviz::app {

namespace {

// 1 to 3 real command lines per subcommand, as a person would type them (README's "What it does"
// list is the source of most); "  # ..." after a command is a comment shown in --help. Every line
// is parsed by check_examples (tests/apps/cli_meta_test.cpp), so a renamed flag breaks the test.
const std::map<std::string, std::vector<std::string>>& example_table() {
  static const std::map<std::string, std::vector<std::string>> table = {
      {"info", {"cuviz info googlenet  # layers, shapes, params, MACs", "cuviz info squeezenet --size 227"}},
      {"classify",
       {"cuviz classify googlenet coffee.png chelsea.png  # top-5 classes of each",
        "cuviz classify googlenet coffee.png --top 3 --device cpu"}},
      {"forward",
       {"cuviz forward googlenet --input chelsea.png --layer inception_4c/output --out y.npy",
        "cuviz forward squeezenet --input x.npy --layer fire9/concat --out y.npy  # x.npy: (N, 3, 227, 227)"}},
      {"sweep",
       {"cuviz sweep googlenet --layer inception_4a/output -o sweep/  # every channel, resumable",
        "cuviz sweep googlenet --layer inception_4a/output --channels 0-63 --size 128 --steps 256 -o sweep/"}},
      {"render",
       {"cuviz render googlenet --objective inception_4c/output:10 --size 128 --steps 256 -o dog.png",
        "cuviz render googlenet --batch 4 --objective 'inception_4a/output:97 - 100*diversity(inception_4a/output)' "
        "-o diverse.png",
        "cuviz render googlenet --start cat.png --param pixel --objective 'deepdream(inception_4c/output)' -o dream.png"}},
      {"classviz",
       {"cuviz classviz googlenet --class flamingo --method deepdraw -o flamingo.png",
        "cuviz classviz googlenet --class 130 --steps 200 -o flamingo.png  # Simonyan et al.'s class model"}},
      {"fool",
       {"cuviz fool googlenet --class goldfish -o fool.png  # from noise",
        "cuviz fool googlenet --class 1 --from chelsea.png --target-confidence 0.9 -o goldcat.png"}},
      {"dream",
       {"cuviz dream googlenet cat.jpg -o dream.png  # google/deepdream's defaults",
        "cuviz dream googlenet cat.jpg --layer inception_3b/output --octaves 3 --iters 20 -o dream.png"}},
      {"invert",
       {"cuviz invert googlenet cat.jpg --layer inception_3a/output -o inv.png",
        "cuviz invert googlenet cat.jpg --layer inception_4d/output --caricature -o caricature.png"}},
      {"trace",
       {"cuviz trace googlenet --noise --objective inception_4c/output:10 -o trace/",
        "cuviz trace googlenet cat.png --objective logit:285 -o trace/  # open trace/index.html"}},
      {"groups",
       {"cuviz groups googlenet cat.png --k 6 -o groups/  # NMF of inception_4d/output",
        "cuviz groups googlenet cat.png --layer inception_4c/output --method pca --k 4 -o groups/"}},
      {"grid", {"cuviz grid googlenet cat.png --layer inception_4d/output -o grid/"}},
      {"facets", {"cuviz facets googlenet --images cats/ --class tabby --k 4 -o facets/"}},
      {"style",
       {"cuviz style googlenet --content cat.png --style art.jpg -o styled.png",
        "cuviz style googlenet --content cat.png --style a.jpg,b.jpg --style-blend 0.7,0.3 -o styled.png"}},
      {"attribute",
       {"cuviz attribute googlenet cat.jpg --method all -o why.png",
        "cuviz attribute googlenet cat.jpg --method integrated_gradients --target 285 -o ig.png"}},
      {"completion",
       {"cuviz completion bash  # then: source <(cuviz completion bash)",
        "cuviz completion zsh  # in ~/.zshrc: source <(cuviz completion zsh)"}},
  };
  return table;
}

constexpr const char* kExamplesHeader = "Examples:";

bool visible(const CLI::App* a) { return !a->get_group().empty(); }

}  // namespace

namespace {
// Subcommands without examples and examples of no subcommand: what check_examples reports.
std::vector<std::string> table_problems(CLI::App& root) {
  std::vector<std::string> problems;
  const auto& table = example_table();
  for (CLI::App* sub : root.get_subcommands([](CLI::App* a) { return visible(a); }))
    if (!table.count(sub->get_name()))
      problems.push_back(cat(sub->get_name(), ": no examples in apps/cli_meta.cpp's example_table"));
  const auto subs = root.get_subcommands({});
  for (const auto& [name, examples] : table)
    if (std::none_of(subs.begin(), subs.end(), [&](const CLI::App* a) { return a->get_name() == name; }))
      problems.push_back(cat(name, ": example_table has examples for it, but it is not a subcommand"));
  return problems;
}
}  // namespace

std::vector<std::string> add_examples(CLI::App& root) {
  const auto& table = example_table();
  for (CLI::App* sub : root.get_subcommands([](CLI::App* a) { return visible(a); })) {
    const auto it = table.find(sub->get_name());
    if (it == table.end()) continue;
    std::string footer = kExamplesHeader;
    for (const auto& e : it->second) footer += "\n  " + e;
    sub->footer(footer);
  }
  return table_problems(root);
}

std::vector<std::string> examples_of(const CLI::App& cmd) {
  std::vector<std::string> out;
  const std::string footer = cmd.get_footer();
  const size_t start = footer.find(std::string(kExamplesHeader) + "\n");
  if (start == std::string::npos) return out;
  size_t pos = start + std::string(kExamplesHeader).size() + 1;
  while (pos < footer.size()) {
    size_t end = footer.find('\n', pos);
    if (end == std::string::npos) end = footer.size();
    std::string line = footer.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("  cuviz", 0) != 0) break;
    const size_t comment = line.find("  #", 2);
    if (comment != std::string::npos) line.resize(comment);
    out.push_back(line.substr(2));
  }
  return out;
}

std::vector<std::string> check_examples(CLI::App& root, int* checked) {
  std::vector<std::string> problems = table_problems(root);
  int count = 0;
  for (CLI::App* sub : root.get_subcommands([](CLI::App* a) { return visible(a); })) {
    const auto examples = examples_of(*sub);
    if (examples.empty()) problems.push_back(cat(sub->get_name(), ": no examples in its --help"));
    for (const auto& e : examples) {
      ++count;
      const std::string prefix = "cuviz " + sub->get_name() + " ";
      if (e.rfind(prefix, 0) != 0 && e != "cuviz " + sub->get_name()) {
        problems.push_back(cat(sub->get_name(), ": example does not start with '", prefix, "': ", e));
        continue;
      }
      root.clear();
      try {
        root.parse(e.substr(std::string("cuviz ").size()), false);
        if (!sub->parsed()) problems.push_back(cat(sub->get_name(), ": example runs another subcommand: ", e));
      } catch (const CLI::ParseError& err) {
        problems.push_back(cat(sub->get_name(), ": example does not parse (", err.what(), "): ", e));
      }
    }
  }
  root.clear();
  if (checked) *checked = count;
  return problems;
}

std::string help_markdown(const CLI::App& root) {
  auto block = [](const std::string& title, const std::string& help) {
    return cat("### `", title, "`\n\n```text\n", help, "```\n");
  };
  std::string out = block("cuviz --help", root.get_formatter()->make_help(&root, "cuviz", CLI::AppFormatMode::Normal));
  for (const CLI::App* sub : root.get_subcommands([](const CLI::App* a) { return visible(a); })) {
    const std::string name = "cuviz " + sub->get_name();
    out += "\n" + block(name + " --help", sub->get_formatter()->make_help(sub, name, CLI::AppFormatMode::Normal));
  }
  return out;
}

Command add_help_markdown_command(CLI::App& app) {
  auto check = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("help-markdown", "Print the reference part of docs/cli.md (every --help)");
  cmd->group("");  // hidden: for the docs test, not for users
  cmd->add_flag("--check-examples", *check, "Parse every subcommand's examples instead (exit 1 on a problem)");
  return {cmd, [check, &app] {
            if (!*check) {
              std::fputs(help_markdown(app).c_str(), stdout);
              return;
            }
            int checked = 0;
            const auto problems = check_examples(app, &checked);
            for (const auto& p : problems) std::printf("%s\n", p.c_str());
            CUVIZ_CHECK(problems.empty(), problems.size(), " of ", checked, " examples have problems (listed above)");
            std::printf("%d examples parse\n", checked);
          }};
}

}  // namespace cuviz::app
