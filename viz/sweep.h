// Channel sweeps (OpenAI Microscope / Lucid's feature_visualization recipe): one image per
// channel of a layer, many channels optimised together as one batch (image i maximises channel
// c_i), written as a browsable directory (viz/gallery.h). A sweep is resumable: the manifest
// records what is done, and a rerun with the same settings renders only what is missing.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "nn/network.h"
#include "viz/render.h"
#include "viz/gallery.h"

namespace cuviz {

struct SweepOptions {
  SweepSettings settings;        // recorded in the manifest; a rerun must match them
  std::vector<int> channels;     // requested channels (empty: every channel of the layer)
  int batch = 0;                 // images per batch; 0 = chosen from memory (see auto_sweep_batch)
  bool overwrite = false;        // start afresh even when the manifest's settings differ
  std::string dir;               // output directory (created)
  int thumb = 96;                // contact sheet cell size
  bool cuda_graph = true;        // RenderOptions::cuda_graph (not a setting: results are the same)
};

// What the progress callback sees, after every render progress report.
struct SweepProgress {
  int done = 0, total = 0;       // channels finished (this run and earlier runs) and requested
  int skipped = 0;               // channels found done by an earlier run
  int batch_step = 0, batch_steps = 0, batch_size = 0;  // the batch in flight
  double seconds = 0;            // this run's rendering time so far
  double channels_per_s = 0, image_steps_per_s = 0, eta_seconds = 0;
};

// Parses "0-511", "3", "1,5,9-12" into channel numbers (sorted, unique); throws on bad syntax.
std::vector<int> parse_channel_list(const std::string& text);

// Images per batch for a sweep: on the CPU min(todo, 8) (time per image barely depends on the
// batch); on a GPU as many as fit in 70% of free memory, measured from the plan's arena per
// image, capped at 512 and at `todo`.
int auto_sweep_batch(const Network& net, const SweepSettings& s, int todo);

// What a manifest records as the device: the GPU's name, or "cpu (1 thread)", "cpu (2 threads)".
std::string device_description(const Network& net);

// Runs (or resumes) a sweep and returns the final manifest. One Renderer of batch
// min(batch, channels to do) renders every batch (Renderer::restart); a shorter last batch is
// padded with repeats of its last channel, so its images equal those of a render() of the padded
// batch. Throws before rendering anything
// when the layer is unknown, a channel is out of range, or the directory holds a sweep with
// other settings (unless overwrite).
SweepManifest run_sweep(const Network& net, const SweepOptions& options,
                        const std::function<void(const SweepProgress&)>& progress = {});

}  // namespace cuviz
