// The cuviz command line: one subcommand per file under apps/ (info.cpp, classify.cpp,
// forward.cpp, render.cpp, sweep.cpp, dream.cpp, style.cpp, attribute.cpp, ...), registered and dispatched from here. Every failure ends
// with one line `cuviz: error: ...` on stderr: exit code 2 for a usage error (CLI11's parse
// errors and UsageError), 1 for a failure while running (apps/common.h).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <new>
#include <stdexcept>
#include <vector>

#include "apps/cli_meta.h"
#include "apps/common.h"
#include "viz/render.h"
#include "core/interrupt.h"
#include "apps/wait_policy.h"

int main(int argc, char** argv) {
  using namespace cuviz::app;
  choose_omp_wait_policy(argv);  // may re-execute this binary (apps/wait_policy.h)
  CLI::App app{"cuviz: feature visualization for convolutional networks, on the CPU and CUDA GPUs"};
  app.set_version_flag("--version", version_text);
  app.require_subcommand(0, 1);
  const std::vector<Command> commands = {add_info_command(app), add_classify_command(app),
                                         add_forward_command(app), add_sweep_command(app),
                                         add_render_command(app), add_classviz_command(app),
                                         add_fool_command(app), add_dream_command(app),
                                         add_invert_command(app), add_trace_command(app),
                                         add_groups_command(app), add_grid_command(app),
                                         add_facets_command(app), add_style_command(app),
                                         add_attribute_command(app),
                                         add_gallery_command(app),
                                         add_completion_command(app), add_help_markdown_command(app)};
  (void)add_examples(app);  // each --help ends with its examples (missing ones fail tests/apps/cli_meta_test)
  // Where a usage error points for help: the subcommand's own page when one was named.
  auto see_help = [&] {
    for (const auto& c : commands)
      if (c.parser->parsed()) return " (see cuviz " + c.parser->get_name() + " --help)";
    return std::string(" (see cuviz --help)");
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return report_error(e.what() + see_help(), kExitUsage);
  }
  cuviz::install_interrupt_handlers();
  try {
    for (const auto& c : commands)
      if (c.parser->parsed()) {
        c.run();
        return 0;
      }
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const cuviz::ProfileFinished&) {
    return 0;  // --profile ran the steps and printed its table; the command writes nothing (apps/profile.h)
  } catch (const cuviz::Interrupted& e) {
    // Ctrl-C / SIGTERM inside a render loop or a sweep (core/interrupt.h): one line, exit
    // 128 + signal (130, 143); a sweep says how to finish the work (the same command, less
    // --overwrite, which would start it afresh).
    std::string line = "cuviz: interrupted by " + cuviz::signal_name(e.signal()) + ": " + e.detail();
    if (e.resumable()) line += "; resume with: " + resume_command(argc, argv);
    std::fprintf(stderr, "%s\n", one_line(line).c_str());
    return 128 + e.signal();
  } catch (const UsageError& e) {
    return report_error(e.what() + see_help(), kExitUsage);
  } catch (const std::bad_alloc&) {
    // Sizes read from files are checked before allocation (core/limits.h); this is the rest.
    return report_error("out of memory (is an input or an option, such as --size or --batch, too large?)",
                        kExitFailure);
  } catch (const std::length_error& e) {
    return report_error(std::string("a size is too large (") + e.what() + ")", kExitFailure);
  } catch (const std::exception& e) {
    return report_error(e.what(), kExitFailure);
  }
}
