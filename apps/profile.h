// --profile N on the commands that loop (render, sweep): after a few warm-up steps, N render steps
// between cudaProfilerStart and cudaProfilerStop, so that `nsys profile --capture-range=cudaProfilerApi`
// and `ncu --profile-from-start off` capture exactly them (docs/profiling.md); then the command exits
// without writing anything. Every step is an NVTX range "step <t>" holding "gradient" and "update".
#pragma once

#include <CLI/CLI.hpp>

#include <vector>

#include "nn/network.h"
#include "viz/objective.h"
#include "viz/render.h"

namespace cuviz::app {

// Steps run before the profiled ones: the first pays one-time costs (lazy module loading, cuBLAS
// and cuDNN handles and algorithm choice, the stream-ordered pool's growth), the next show that
// the loop has settled.
constexpr int kProfileWarmupSteps = 3;

// Adds --profile N (0 = off).
void add_profile_option(CLI::App* cmd, int& steps);
// Runs the profiled steps of one render batch and prints one line (ms per step) to stderr.
void profile_render(const Network& net, const std::vector<Objective>& per_image, const RenderOptions& options,
                    int steps);

}  // namespace cuviz::app
