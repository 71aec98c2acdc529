// Sweeps beyond one process: `cuviz sweep --shard i/N` renders the i-th of N disjoint shares of a
// sweep into a shared directory, and `cuviz gallery merge DIR` builds the one gallery from them.
//
// Why the share is a set of *batches*, not of channels. A channel's image depends on more than
// its channel and the seed: the transform draws, the roll and the initial parameters of image i
// are drawn with i = the image's position in its batch (viz/transform.h draw_affine), and the
// loss is the batch mean, so the batch size reaches Adam through its epsilon. A single-process
// sweep cuts its channel list into consecutive batches of B = min(--batch, channels) and pads
// the last with repeats of its last channel (viz/sweep.h). Shards cut the *global* list the
// same way and each renders whole batches of it, so every channel is rendered in the same batch,
// at the same position, with the same batch size as in the single-process sweep: its PNG and
// objective are bit-identical (tests/apps/sweep_shard_test.cpp checks the bytes).
//
// The share: with K batches, shard i (0-based, 0 <= i < N) takes batches
// [floor(i K / N), floor((i + 1) K / N)) — contiguous, disjoint, covering, and any two shards'
// batch counts differ by at most one (so their channel counts by at most one batch). N > K
// leaves some shards without work; lower --batch to spread a small sweep wider.
//
// Files: channels/<layer>_<c>.png (one per channel, names unique, each written atomically) and
// shards/shard-<i>-of-<N>.json (the shard's own manifest: the sweep settings, the layout and the
// channels it has finished, rewritten atomically after every batch). Shards never write the same
// file, so any number can share the directory; manifest.json, index.html and contact_sheet.png
// are written by the merge alone.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "viz/sweep.h"

namespace cuviz {

// Shard `index` of `count`, 0-based (the numbering of Slurm's SLURM_PROCID, MPI ranks and an
// array job --array=0-(N-1)).
struct ShardSpec {
  int index = 0, count = 1;
  std::string label() const;  // "1/3"
};

// Parses "i/N" (0 <= i < N <= 65536); throws naming the text otherwise.
ShardSpec parse_shard(const std::string& text);

// The shard the environment of a Slurm job gives, when --shard is not given:
//  - an array job (SLURM_ARRAY_TASK_COUNT > 1): index (SLURM_ARRAY_TASK_ID -
//    SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP (step 1 when unset) of SLURM_ARRAY_TASK_COUNT,
//    so --array=0-7, --array=1-8 and --array=0-14:2 all give shards 0..7 of 8;
//  - otherwise a step of several tasks under srun (SLURM_NTASKS > 1): SLURM_PROCID of SLURM_NTASKS;
//  - otherwise nullopt (a plain single-process sweep).
// `source` is set to the variables used, for the notice on stderr. Throws when the variables are
// malformed or the array's ids do not map onto 0..COUNT-1 (e.g. --array=1,5,6): use --shard.
std::optional<ShardSpec> shard_from_environment(const std::function<const char*(const char*)>& getenv_fn,
                                                std::string* source = nullptr);

// The work layout of a sweep: `channels` (in order) cut into consecutive batches of
// min(batch, channels.size()) (the last may be shorter; it is padded when rendered).
std::vector<std::vector<int>> sweep_batches(const std::vector<int>& channels, int batch);

// Shard `s`'s batches: the half-open range [first, last) of batch indices out of `batches`.
std::pair<size_t, size_t> shard_batch_range(size_t batches, const ShardSpec& s);

// "shards/shard-<i>-of-<N>.json"; dynamic (a --devices worker): "shards/device-<i>-of-<N>.json".
std::string shard_manifest_file(const ShardSpec& s, bool dynamic = false);

// A shard's manifest: a SweepManifest (the channels it finished) plus the layout.
struct ShardManifest {
  SweepManifest sweep;
  ShardSpec shard;
  int batch = 0;              // the layout's batch size (min(--batch, channels))
  std::vector<int> requested; // the whole sweep's channel list (every shard's)
  bool dynamic = false;       // a --devices worker (claims batches) rather than a fixed share

  nlohmann::json to_json() const;
  static ShardManifest from_json(const nlohmann::json& j);
};

// Reads every DIR/shards/shard-*-of-*.json and device-*-of-*.json, sorted by file name; throws naming a file that is
// unreadable.
std::vector<ShardManifest> load_shard_manifests(const std::string& dir);

// Runs (or resumes) shard `shard` of the sweep `o` (o.channels empty: every channel; o.batch 0:
// auto_sweep_batch of the whole list). Renders only batches of its share that are not done:
// a channel counts as done when any shard manifest in the directory lists it and its PNG exists,
// so a rerun after a crash, or with another N, never renders a finished batch again and never
// records a channel twice. Throws before rendering when the directory holds a sweep with other
// settings, or this shard's manifest another layout (unless o.overwrite). Returns this shard's
// manifest.
ShardManifest run_shard_sweep(const Network& net, const SweepOptions& o, const ShardSpec& shard,
                              const std::function<void(const SweepProgress&)>& progress = {});

// `--devices`: worker `worker.index` of `worker.count` in one run. Instead of a fixed share it
// goes through every batch of the layout in order and renders those it claims: a batch is
// claimed by creating claims_dir/<batch> exclusively (O_EXCL), so each is rendered by exactly one
// worker and a fast worker simply claims more (dynamic hand-out: a slow GPU holds up no one). The
// claims directory belongs to one run (a rerun makes a new one and skips what is done); the
// worker's manifest is shards/device-<i>-of-<N>.json, merged like a shard's.
ShardManifest run_worker_sweep(const Network& net, const SweepOptions& o, const ShardSpec& worker,
                               const std::string& claims_dir,
                               const std::function<void(const SweepProgress&)>& progress = {});

// What `cuviz gallery merge` found.
struct MergeResult {
  SweepManifest manifest;                 // the merged manifest (also written to DIR/manifest.json)
  int shards = 0;                         // shard manifests read
  std::vector<int> missing;               // requested channels that no shard has finished
  std::map<int, std::string> missing_owner;  // channel -> "i/N" of the shard whose share it is (none
                                             // when only --devices workers requested it)
};

// Builds DIR/manifest.json, DIR/index.html and DIR/contact_sheet.png from every shard manifest
// in DIR/shards: the union of their channels (a channel listed by several shards, possible only
// after reruns with another N, is taken once, from the first file by name), total_channels = the
// union of their requested lists, render_seconds their sum. A pure function of the shard
// manifests and the PNGs, so merging twice writes the same files. Throws when there is no shard
// manifest, two disagree on the settings, or a listed PNG is absent. Missing channels are not an
// error here: the gallery of the finished ones is written and they are returned.
MergeResult merge_sweep_shards(const std::string& dir, int thumb = 96);

// "0-3,7,9-10" for a sorted list.
std::string format_channel_list(const std::vector<int>& channels);

// ---- several layers in one sweep: `--layer a,b,c` or `--layer all` --------------------------------
//
// Each layer is a sweep of its own in DIR/<layer stem>/ (the files above, its own manifest and
// gallery), with its own layout (its channels in batches of min(--batch, its channels)); DIR/
// layers.json lists the layers and their layouts, DIR/index.html links their galleries. The
// unit of work of a sharded multi-layer sweep is a (layer, batch) pair: the layers' batches,
// concatenated in order, are cut into N contiguous balanced shares as above, so shard i may
// finish one layer and start the next, and every layer's PNGs equal those of a single-process
// sweep of that layer.

// "a,b,c" (in that order), or "all": every blob a conv or concat layer writes, in graph order.
std::vector<std::string> sweep_layer_names(const Network& net, const std::string& text);

struct LayerLayout {
  std::string layer;
  std::vector<int> channels;  // requested (--channels, or every channel of the layer)
  int batch = 1;              // min(--batch or auto, channels)
};

// Each layer's channels and batch (checks the layers and channels).
std::vector<LayerLayout> multi_layer_layout(const Network& net, const SweepOptions& o,
                                            const std::vector<std::string>& layers);

// DIR/<layer stem>.
std::string layer_sweep_dir(const std::string& dir, const std::string& layer);

// DIR/layers.json: written once; a run with other layers or channels into DIR is refused.
void write_layers_file(const std::string& dir, const std::vector<LayerLayout>& layout);
std::vector<LayerLayout> read_layers_file(const std::string& dir);

// Shard `shard`'s batches of layer `layer`, [first, last) in that layer's batch list.
std::pair<size_t, size_t> multi_layer_shard_range(const std::vector<LayerLayout>& layout, size_t layer,
                                                 const ShardSpec& shard);

// Renders (or resumes) shard `shard` of every layer; returns the channels it lists.
int run_multi_layer_shard(const Network& net, const SweepOptions& o, const std::vector<LayerLayout>& layout,
                          const ShardSpec& shard, const std::function<void(const SweepProgress&)>& progress = {});

// The single-process multi-layer sweep: run_sweep of each layer into its directory, then the index.
void run_multi_layer_sweep(const Network& net, const SweepOptions& o, const std::vector<LayerLayout>& layout,
                           const std::function<void(size_t layer, const SweepProgress&)>& progress = {});

// DIR/index.html: one row per layer (link, channels done, contact sheet).
void write_layers_index(const std::string& dir, const std::vector<LayerLayout>& layout);

struct MultiMergeResult {
  int shards = 0, channels = 0, total = 0;
  std::vector<std::pair<std::string, std::vector<int>>> missing;  // (layer, its missing channels)
};

// `gallery merge DIR` of a multi-layer sweep (DIR/layers.json): merge_sweep_shards of every
// layer's directory that has shard manifests (a layer none has reached is all missing), then
// DIR/index.html.
MultiMergeResult merge_multi_layer(const std::string& dir, int thumb = 96);

}  // namespace cuviz
