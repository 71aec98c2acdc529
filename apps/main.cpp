// The cuviz command line: one subcommand per file under apps/, dispatched from here.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "nn/error.h"

int main(int argc, char** argv) {
  CLI::App app{"cuviz: feature visualization for convolutional networks, on the CPU and CUDA GPUs"};
  app.set_version_flag("--version", std::string("cuviz ") + CUVIZ_VERSION);
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (app.get_subcommands().empty()) {
      std::fputs(app.help().c_str(), stdout);
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuviz: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
