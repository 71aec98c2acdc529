// --profile N on every command that runs the render loop (render, sweep, dream, invert, classviz,
// style, grid, groups, facets): after a few warm-up steps, N render steps with every op timed, then
// a per-layer and per-stage table on stdout (docs/profiling.md) and the command exits without
// writing its images. The N steps run between cudaProfilerStart and cudaProfilerStop, so that
// `nsys profile --capture-range=cudaProfilerApi` and `ncu --profile-from-start off` capture
// exactly them. --profile-json FILE writes the same table as JSON (the schema in
// docs/profiling.md), --profile-svg FILE a roofline plot of it.
//
// Timing (core/profiler.h): CPU, a steady clock around each op; GPU, two CUDA events around each
// op on its stream, the steps launched eagerly (no CUDA graph replay). Each row is one layer or
// one stage (parameterization, transforms, objective, optimizer) with its forward and backward
// time per step; the rows are leaves of the step, so they add up to the step time but for the
// loop's own bookkeeping (printed as "unattributed"). Each row's nominal FLOPs and bytes
// (nn/network.h LayerInfo) give its achieved GFLOP/s, GB/s and arithmetic intensity, and the
// roofline of the device's peaks (measured on the CPU, read from the device's attributes on a
// GPU) says which bound the row is under.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "apps/common.h"
#include "core/profiler.h"
#include "nn/network.h"
#include "viz/objective.h"
#include "viz/render.h"

namespace cuviz::app {

// Steps run before the profiled ones: the first pays one-time costs (lazy module loading, cuBLAS
// and cuDNN handles and algorithm choice, the stream-ordered pool's growth), the next show that
// the loop has settled.
constexpr int kProfileWarmupSteps = 3;

// Adds --profile N (0 = off), --profile-json FILE and --profile-svg FILE (both need --profile),
// and installs the render loop's profile hook (viz/render.h) once the command line is parsed.
void add_profile_option(CLI::App* cmd, RunOptions& run);

// The roofs of the roofline: peak FP32 FLOP/s and memory bandwidth, and where they come from.
struct DevicePeak {
  double flops = 0, bytes_per_s = 0;
  std::string source;  // "measured: SGEMM 512^3 ..., STREAM triad ..." or the device's attributes
  // Arithmetic intensity (FLOP/byte) where the two roofs meet.
  double ridge() const { return bytes_per_s > 0 ? flops / bytes_per_s : 0; }
};
// CPU: the best of a few 512 x 512 x 512 SGEMMs (OpenBLAS, split over the OpenMP threads as the
// convs are) and of a few STREAM triads a[i] = b[i] + s c[i] over 3 x 32 MiB (bytes counted:
// 3 x 4 per element). Takes about 0.1 s.
DevicePeak measure_cpu_peak();
// GPU: SMs x FP32 lanes x 2 x clock, and 2 x memory clock x bus width (core/cuda_runtime.h).
DevicePeak gpu_peak();

// One row of the table: times per step (ms), nominal FLOPs and bytes per step.
struct ProfileTableRow {
  std::string name, kind;  // kind: the layer kind ("conv", "relu", ...) or "stage"
  std::string stage;       // profile_stage_name
  double forward_ms = 0, backward_ms = 0;
  double flops_forward = 0, flops_backward = 0, bytes_forward = 0, bytes_backward = 0;
  double ms() const { return forward_ms + backward_ms; }
  double flops() const { return flops_forward + flops_backward; }
  double bytes() const { return bytes_forward + bytes_backward; }
};

struct ProfileReport {
  std::string command, device, device_name;
  int steps = 0, warmup = kProfileWarmupSteps, batch = 0, height = 0, width = 0;
  double step_ms = 0;          // wall-clock time per profiled step (GPU: after a final sync)
  DevicePeak peak;
  std::vector<ProfileTableRow> rows;  // in the order the step first ran them
  double rows_ms() const;      // sum of the rows' times per step
  double unattributed_ms() const { return step_ms - rows_ms(); }
};

// The report of a profiler's rows (summed over `steps` steps) and the layers of the render.
ProfileReport make_report(const std::vector<ProfileRow>& rows, const std::vector<LayerInfo>& layers, int steps,
                          double seconds, const DevicePeak& peak);
// The table printed to stdout: one line per row, sorted by share of the step.
std::string format_report(const ProfileReport& r);
// --profile-json: step_ms, peaks, rows (name, kind, stage, forward_ms, backward_ms, flops, bytes,
// their forward/backward parts, gflops, gbytes_per_s, intensity, bound, share); docs/profiling.md.
nlohmann::json report_json(const ProfileReport& r);
// --profile-svg: a log-log roofline (intensity vs achieved GFLOP/s, the two roofs, a point per
// row with FLOPs, the top rows labelled).
std::string roofline_svg(const ProfileReport& r);

// What --profile asked for.
struct ProfileRequest {
  std::string command;
  int steps = 0;
  std::string json, svg;
};
// Warm-up, N timed steps, the report (stdout, and the files asked for) on a fresh Renderer. The
// hook render_loop calls under --profile.
ProfileReport profile_renderer(Renderer& r, const ProfileRequest& request);
// The same on a new Renderer for these objectives (render and sweep).
void profile_render(const Network& net, const std::vector<Objective>& per_image, const RenderOptions& options,
                    const ProfileRequest& request);
ProfileRequest profile_request(const std::string& command, const RunOptions& run);

}  // namespace cuviz::app
