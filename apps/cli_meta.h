// The command line about itself: `cuviz --version`, the shell completion script
// (`cuviz completion bash|zsh`), the "Examples:" block ending every subcommand's --help, and the
// reference part of docs/cli.md (the hidden `cuviz help-markdown`). All of them read the CLI11 app
// tree that main.cpp built, never a copy of it, so none can go stale when a command or a flag is
// added: tests/apps/cli_meta_test.cpp checks the script, the examples and docs/cli.md against it.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "apps/common.h"

namespace cuviz::app {

// What `cuviz --version` prints: "cuviz 0.1.0 (commit abcdef012345)", then whether CUDA was
// built (for which architectures, with which toolkit) and the cuBLAS / cuDNN versions loaded.
std::string version_text();

// `cuviz completion bash|zsh`: prints the completion script for the tree `app` heads.
Command add_completion_command(CLI::App& app);
// The completion script for `root` ("bash" or "zsh"; zsh runs the bash one through bashcompinit).
std::string completion_script(const CLI::App& root, const std::string& shell);

// Sets the footer of every subcommand of `root` to its "Examples:" block (apps/cli_meta.cpp holds
// the examples, one table for all commands). Returns the subcommands that have none and the table
// entries that name no subcommand: check_examples reports them too, so that a new command cannot
// pass the tests without examples (the binary itself runs without them).
std::vector<std::string> add_examples(CLI::App& root);
// The example command lines in the footer of `cmd` (lines "  cuviz ..." after "Examples:"),
// without their trailing "  # comment".
std::vector<std::string> examples_of(const CLI::App& cmd);
// Parses every example of every visible subcommand of `root` with `root` itself (CLI11 checks
// the subcommand, each flag, the values' types and validators, required options; nothing runs)
// and returns one line per problem (add_examples' problems first); `checked` counts the examples.
// `root` is left cleared.
std::vector<std::string> check_examples(CLI::App& root, int* checked = nullptr);

// The hidden `cuviz help-markdown [--check-examples]`: prints the reference part of docs/cli.md
// (every subcommand's --help, in fenced blocks), or checks the examples (exit 1 on a problem).
Command add_help_markdown_command(CLI::App& app);
// The generated reference: `cuviz --help` and `cuviz X --help` for every visible X, as Markdown.
std::string help_markdown(const CLI::App& root);

}  // namespace cuviz::app
