// `cuviz sweep ... --devices 0,1,...|all|cpu,cpu`: every GPU of a node in one command. The
// command starts one worker process per device (a process each, so that every GPU has its own
// CUDA context, streams and caches with no multi-device code in the engine), each the same
// `cuviz sweep` with `--device cuda` under CUDA_VISIBLE_DEVICES=<d> (or `--device cpu`) and the
// hidden `--worker i/N --claims DIR`; the workers claim batches of the layout one at a time
// (viz/sweep_shard.h run_worker_sweep), so a slow GPU takes fewer; the command shows one progress
// bar over all of them, and merges when all have ended.
#pragma once

#include <string>
#include <vector>

#include "viz/sweep.h"

namespace cuviz::app {

struct DeviceWorker {
  bool cuda = false;
  int device = 0;  // the CUDA device index (cuda only)
  std::string label() const;  // "cuda:1" or "cpu"
};

// "all" (every GPU), "0,2" (those GPUs) or "cpu,cpu" (CPU workers; mixable with GPU indices).
// Without a GPU, "all" and GPU indices fall back to one CPU worker, with `notice` set to say so.
// Throws on syntax, a repeated GPU, or an index >= gpu_count (when gpu_count > 0).
std::vector<DeviceWorker> parse_devices(const std::string& text, int gpu_count, std::string* notice = nullptr);

// Runs the workers for the sweep `so` (whose channels are `channels`) and waits for them: a bar
// over the channels done in the directory; each worker's stderr in DIR/shards/worker-<i>.log
// (removed when it succeeds). Throws after all have ended if one failed, naming it and its error.
// `args` is this command's argument list (without the program name).
void run_device_workers(const std::vector<DeviceWorker>& workers, const std::vector<std::string>& args,
                        const SweepOptions& so, const std::vector<int>& channels, bool quiet);

// This process's arguments (from /proc/self/cmdline), without the program name.
std::vector<std::string> own_arguments();

}  // namespace cuviz::app
