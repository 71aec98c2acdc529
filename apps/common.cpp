// Shared subcommand plumbing: error lines, device choice, model options. Errors thrown anywhere
// below a command reach main.cpp, which prints them once through report_error.
#include "apps/common.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "apps/profile.h"
#include "loaders/model.h"
#include "core/determinism.h"
#include "core/error.h"

namespace cuviz::app {

std::string one_line(const std::string& message) {
  std::string out;
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\n' || message[i] == '\r') {
      while (!out.empty() && out.back() == ' ') out.pop_back();
      while (i + 1 < message.size() && std::isspace(static_cast<unsigned char>(message[i + 1]))) ++i;
      if (!out.empty() && i + 1 < message.size()) out += out.back() == ':' ? " " : "; ";
    } else {
      out += message[i];
    }
  }
  return out;
}

std::string resume_command(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (i > 0 && a == "--overwrite") continue;
    const bool plain = !a.empty() && std::all_of(a.begin(), a.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("-_./=,:+@%").find(c) != std::string_view::npos;
    });
    std::string q = "'";
    for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += (i ? " " : "") + (plain ? a : q + "'");
  }
  return out;
}

int report_error(const std::string& message, int exit_code) {
  std::fprintf(stderr, "cuviz: error: %s\n", one_line(message).c_str());
  return exit_code;
}

void add_device_option(CLI::App* cmd, std::string& device) {
  cmd->add_option("--device", device, "Where to run: auto (the GPU when there is one), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
}

namespace {
std::string pending_notice;  // resolve_device's fallback notice, until printed
bool notice_printed = false;
}  // namespace

Device resolve_device(const std::string& device) {
  if (device == "cpu") return Device::cpu;
  if (cuda_available()) return Device::cuda;
  if (device == "cuda")
    pending_notice = cat("cuviz: note: no usable CUDA device", CUVIZ_HAS_CUDA ? "" : " (built without CUDA)",
                         "; running on the CPU");
  else
    pending_notice = "cuviz: no usable CUDA device, running on the CPU";
  return Device::cpu;
}

void print_device_notice() {
  if (pending_notice.empty() || notice_printed) return;
  std::fprintf(stderr, "%s\n", pending_notice.c_str());
  notice_printed = true;
}

void add_backend_option(CLI::App* cmd, std::string& backend) {
  cmd->add_option("--backend", backend,
                  "GPU ops: native (cuviz's kernels) or cudnn (cuDNN/cuBLAS for conv, pool, LRN, softmax, linear)")
      ->check(CLI::IsMember({"native", "cudnn"}))
      ->capture_default_str();
}

void check_precision_backend(const std::string& precision, const std::string& backend) {
  try {
    check_precision(parse_precision(precision), parse_backend(backend));
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
}

void add_run_options(CLI::App* cmd, RunOptions& o) {
  add_device_option(cmd, o.device);
  add_backend_option(cmd, o.backend);
  add_profile_option(cmd, o);
  cmd->add_flag("--no-cuda-graph", o.no_cuda_graph,
                "GPU: launch every kernel of every step instead of replaying one CUDA graph per step (profiling)");
  cmd->add_flag("-q,--quiet", o.quiet, "No progress bar");
  cmd->add_flag_callback("--deterministic", [] { set_deterministic(true); },
                         "GPU: ordered sums instead of atomics, so a seed gives the same bytes run after run "
                         "(also CUVIZ_DETERMINISTIC=1; the CPU always is)");
}

Network make_network(Graph graph, const std::string& device, const std::string& backend) {
  const Backend b = parse_backend(backend);
  // Checked before the device is resolved, so that a cudnn request fails without a fallback notice.
  if (b == Backend::cudnn) check_backend(b, device != "cpu" && cuda_available() ? Device::cuda : Device::cpu);
  Network net(std::move(graph), resolve_device(device));
  net.set_backend(b);
  return net;
}

void add_model_options(CLI::App* cmd, ModelOptions& options) {
  cmd->add_option("model", options.model, "Model name (googlenet, squeezenet, vgg16, vgg19) or path to a model file or directory")
      ->required();
  cmd->add_option("--format", options.format, "Model file format: auto (Caffe, then ONNX, then safetensors), caffe, onnx or safetensors")
      ->check(CLI::IsMember({"auto", "caffe", "onnx", "safetensors"}))
      ->capture_default_str();
  // One directory per --model-dir: a vector option would otherwise swallow the positionals after it.
  cmd->add_option("--model-dir", options.dirs, "Directory searched for model names before $CUVIZ_MODEL_PATH (repeatable)")
      ->allow_extra_args(false);
}

Graph load_model(const ModelOptions& options) {
  if (!options.dirs.empty()) {
    // The resolver reads its search path from $CUVIZ_MODEL_PATH: prepend the --model-dir entries
    // for this process, so they are searched first and appear in the "searched" list on failure.
    std::string path;
    for (const auto& d : options.dirs) path += d + ":";
    if (const char* env = std::getenv("CUVIZ_MODEL_PATH")) path += env;
    ::setenv("CUVIZ_MODEL_PATH", path.c_str(), 1);
  }
  return cuviz::load_model(options.model, parse_model_format(options.format));
}

bool is_npy_path(const std::string& path) {
  if (path.size() < 4) return false;
  std::string ext = path.substr(path.size() - 4);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".npy";
}

void check_output_dir(const std::string& path) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  CUVIZ_CHECK(dir.empty() || std::filesystem::is_directory(dir, ec), "cannot write ", path, ": directory ",
              dir.string(), " does not exist");
  CUVIZ_CHECK(!std::filesystem::is_directory(path, ec), "cannot write ", path, ": it is a directory");
}

}  // namespace cuviz::app
