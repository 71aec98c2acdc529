// `cuviz gallery merge DIR`: the one gallery (manifest.json, index.html, contact_sheet.png) of a
// sweep rendered in shards (`cuviz sweep --shard i/N -o DIR`), from every shard manifest in
// DIR/shards. Idempotent; channels no shard has finished are listed, with the shard whose share
// they are, and make the exit code 1 (the gallery of the finished ones is written all the same).
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <vector>

#include "apps/common.h"
#include "viz/sweep_shard.h"

namespace cuviz::app {

namespace {

struct GalleryCommand {
  std::string dir;
  int thumb = 96;
};

// A multi-layer sweep (DIR/layers.json): every layer's merge, then the index of layers.
void run_layers_merge(const GalleryCommand& o) {
  const MultiMergeResult r = merge_multi_layer(o.dir, o.thumb);
  if (r.missing.empty()) {
    std::fprintf(stderr, "gallery merge: %d channels of %zu layers from %d shard manifests in %s\n", r.channels,
                 read_layers_file(o.dir).size(), r.shards, o.dir.c_str());
    std::printf("%s\n", std::filesystem::absolute(std::filesystem::path(o.dir) / "index.html").lexically_normal().c_str());
    return;
  }
  std::string which;
  for (const auto& [layer, cs] : r.missing) which += cat(which.empty() ? "" : "; ", layer, ": ", format_channel_list(cs));
  throw Error(cat("gallery merge: ", r.total - r.channels, " of ", r.total, " channels missing (", which,
                  "); the galleries show the ", r.channels, " finished; rerun the shards (they resume) and merge again"));
}

void run_gallery_merge(const GalleryCommand& o) {
  if (std::filesystem::exists(std::filesystem::path(o.dir) / "layers.json")) return run_layers_merge(o);
  const MergeResult r = merge_sweep_shards(o.dir, o.thumb);
  const SweepManifest& m = r.manifest;
  if (r.missing.empty()) {
    std::fprintf(stderr, "gallery merge: %zu channels of %s from %d shard manifest%s in %s\n", m.channels.size(),
                 m.settings.layer.c_str(), r.shards, r.shards == 1 ? "" : "s", o.dir.c_str());
    std::printf("%s\n", std::filesystem::absolute(std::filesystem::path(o.dir) / "index.html").lexically_normal().c_str());
    return;
  }
  // Which shards to rerun: the owners of the missing channels, each once.
  std::map<std::string, std::vector<int>> by_owner;
  for (int c : r.missing) {
    const auto it = r.missing_owner.find(c);
    by_owner[it == r.missing_owner.end() ? "" : it->second].push_back(c);
  }
  std::string owners;
  for (const auto& [owner, cs] : by_owner)
    owners += cat(owners.empty() ? "" : "; ", owner.empty() ? "the --devices run" : "shard " + owner, ": ",
                  format_channel_list(cs));
  throw Error(cat("gallery merge: ", r.missing.size(), " of ", m.total_channels, " channels missing (", owners,
                  "); the gallery shows the ", m.channels.size(),
                  " finished; rerun those shards (they resume) and merge again"));
}

}  // namespace

Command add_gallery_command(CLI::App& app) {
  auto o = std::make_shared<GalleryCommand>();
  CLI::App* cmd = app.add_subcommand("gallery", "Galleries of sharded sweeps: gallery merge DIR");
  cmd->require_subcommand(1);
  CLI::App* merge = cmd->add_subcommand(
      "merge", "Build DIR's gallery, contact sheet and manifest from the shards of `cuviz sweep --shard i/N -o DIR`");
  merge->add_option("dir", o->dir, "The sweep directory the shards wrote into")->required();
  merge->add_option("--thumb", o->thumb, "Contact sheet cell size in pixels")
      ->capture_default_str()
      ->check(CLI::Range(8, 1024));
  return {cmd, [o, merge] {
            usage_check(merge->parsed(), "gallery: give a subcommand (merge)");
            run_gallery_merge(*o);
          }};
}

}  // namespace cuviz::app
