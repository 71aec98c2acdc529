// What every cuviz subcommand shares: the command registry used by main.cpp, the one-line error
// report (`cuviz: error: ...`; exit code 2 for a usage error, 1 for a failure at run time), the
// --device option with its CPU fallback notice, the --backend option, the options of how a
// render loop runs, and the model options (MODEL positional, --format, --model-dir) with model
// loading.
#pragma once

#include <CLI/CLI.hpp>

#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "nn/graph.h"
#include "nn/network.h"
#include "core/tensor.h"

namespace cuviz::app {

// A registered subcommand: its CLI11 parser and the action to run when it was given.
struct Command {
  CLI::App* parser = nullptr;
  std::function<void()> run;
};

// One subcommand per file: each adds its parser to `app` and returns the action.
Command add_info_command(CLI::App& app);
Command add_classify_command(CLI::App& app);
Command add_forward_command(CLI::App& app);
Command add_sweep_command(CLI::App& app);
Command add_render_command(CLI::App& app);
Command add_classviz_command(CLI::App& app);  // apps/classviz.cpp
Command add_fool_command(CLI::App& app);      // apps/classviz.cpp
Command add_dream_command(CLI::App& app);
Command add_invert_command(CLI::App& app);  // apps/invert.cpp
Command add_trace_command(CLI::App& app);   // apps/trace.cpp
Command add_groups_command(CLI::App& app);   // apps/groups.cpp
Command add_grid_command(CLI::App& app);     // apps/grid.cpp
Command add_style_command(CLI::App& app);  // apps/style.cpp
Command add_attribute_command(CLI::App& app);  // apps/attribute.cpp
Command add_facets_command(CLI::App& app);   // apps/facets.cpp
Command add_gallery_command(CLI::App& app);  // apps/gallery.cpp (gallery merge)

// Exit codes: a usage error (unknown flag, bad or out-of-range value, missing option, wrong count
// of values, options that do not go together) is 2, as for most Unix tools; a failure while
// running (unreadable file, unknown layer, corrupt model, no GPU for cudnn) is 1.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// A usage error found after CLI11 has parsed (a check across options): main.cpp reports it as it
// reports CLI11's own parse errors, with exit code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};
// Throws UsageError with the concatenated message when `cond` is false.
template <class... Args>
void usage_check(bool cond, const Args&... parts) {
  if (!cond) throw UsageError(cat(parts...));
}

// The command line to rerun an interrupted sweep: argv quoted for a POSIX shell where needed,
// without --overwrite (which would start the work afresh instead of resuming it).
std::string resume_command(int argc, char** argv);

// `message` on one line: newlines (and the indentation after them) become "; ".
std::string one_line(const std::string& message);
// Prints "cuviz: error: <message on one line>" to stderr and returns `exit_code`.
int report_error(const std::string& message, int exit_code = kExitFailure);

// --device auto|cpu|cuda (default auto: the GPU when one can be used, else the CPU).
void add_device_option(CLI::App* cmd, std::string& device);
// The device to run on. Without a usable GPU, `cuda` and `auto` fall back to the CPU; the one-line
// notice saying so is held until the command starts its work (print_device_notice), so that a
// command that fails on its arguments still prints exactly one line, its error.
Device resolve_device(const std::string& device);
// Prints the CPU fallback notice of resolve_device, if there is one, once per process.
void print_device_notice();

// --backend native|cudnn: GPU ops on cuviz's kernels or on the cuDNN/cuBLAS oracle.
void add_backend_option(CLI::App* cmd, std::string& backend);
// Usage error unless `precision` (a checked setting) can run on `backend`: tf32/bf16 need the
// native kernels (cudnn is FP32 only).
void check_precision_backend(const std::string& precision, const std::string& backend);

// How a render loop runs (render, sweep): where, on which kernels, and what it prints. None of it
// changes the images, so none of it is a setting (viz/settings.h) recorded with them.
struct RunOptions {
  std::string device = "auto", backend = "native";
  bool quiet = false;
  bool no_cuda_graph = false;
  int profile = 0;  // --profile N (apps/profile.h); 0 = off
  std::string profile_json, profile_svg;  // --profile-json FILE, --profile-svg FILE
};
// --device, --backend, --profile N (--profile-json, --profile-svg), --no-cuda-graph, -q/--quiet,
// --deterministic (core/determinism.h).
void add_run_options(CLI::App* cmd, RunOptions& options);
// The network of a command on the --device and --backend chosen. `cudnn` never falls back: it is
// an error (one line) when no GPU will run the network.
Network make_network(Graph graph, const std::string& device, const std::string& backend);

// The model a subcommand runs: a name ("googlenet") or a path, and how to find and read it.
struct ModelOptions {
  std::string model;
  std::string format = "auto";
  std::vector<std::string> dirs;
};
// Adds the MODEL positional and --format auto|caffe|onnx, --model-dir DIR (repeatable).
void add_model_options(CLI::App* cmd, ModelOptions& options);
// Resolves and loads the model: --model-dir entries are searched first, then the standard search
// path ($CUVIZ_MODEL_PATH, ./weights, ~/.cache/cuviz).
Graph load_model(const ModelOptions& options);

// True when `path` ends in ".npy" (any case).
bool is_npy_path(const std::string& path);
// Throws unless the directory that will hold `path` exists, so a command fails before computing.
void check_output_dir(const std::string& path);

}  // namespace cuviz::app
