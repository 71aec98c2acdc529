// The profiled render steps of --profile N (apps/profile.h): warm-up, a device sync, the profiler
// range around N steps, a sync before the range closes so that it holds all of their GPU work.
#include "apps/profile.h"

#include <chrono>
#include <cstdio>

#include "core/nvtx.h"
#include "core/cuda_runtime.h"

namespace cuviz::app {

void add_profile_option(CLI::App* cmd, int& steps) {
  cmd->add_option("--profile", steps,
                  "Profile N render steps after warm-up (cudaProfilerStart/Stop around them, for nsys and ncu), "
                  "then exit without writing anything")
      ->check(CLI::NonNegativeNumber);
}

void profile_render(const Network& net, const std::vector<Objective>& per_image, const RenderOptions& options,
                    int steps) {
  Renderer r(net, per_image, options);
  // The loop's own step: eager stages (param, transform, forward, ..., update ranges), or on a GPU
  // after the ReLU-override steps one CUDA graph launch (RenderOptions::cuda_graph).
  auto step = [&](int t) {
    CUVIZ_NVTX_RANGE(cat("step ", t));
    r.step(t < options.relu_override_steps);
  };
  const bool gpu = net.device() == Device::cuda;
  for (int t = 0; t < kProfileWarmupSteps; ++t) step(t);
  if (gpu) cuda_rt::synchronize();
  if (gpu) cuda_rt::profiler_start();
  const auto t0 = std::chrono::steady_clock::now();
  for (int t = kProfileWarmupSteps; t < kProfileWarmupSteps + steps; ++t) step(t);
  if (gpu) cuda_rt::synchronize();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (gpu) cuda_rt::profiler_stop();
  std::fprintf(stderr,
               "cuviz: profiled %d steps (batch %d, %d px) after %d warm-up steps on the %s: %.3f ms/step%s%s\n", steps,
               options.batch, options.size, kProfileWarmupSteps, device_name(net.device()),
               steps > 0 ? 1e3 * seconds / steps : 0.0, r.graph_active() ? " (CUDA graph)" : "",
               gpu ? "" : " (no CUDA profiler range on the CPU)");
}

}  // namespace cuviz::app
