// The browsable output of a channel sweep: manifest.json (settings, per-channel objective
// values, timings, device), index.html (a static page that works from the file system: a grid
// of thumbnails with channel number and objective value, click to enlarge, sort by activation)
// and a contact-sheet PNG with every channel numbered. Every file is written atomically.
#pragma once

#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "viz/settings.h"

namespace cuviz {

// One rendered channel.
struct ChannelResult {
  int channel = 0;
  double objective = 0;    // final objective value (image evaluated at the last step)
  std::string file;        // relative to the sweep directory: channels/<layer>_<c>.png
};

struct SweepManifest {
  SweepSettings settings;
  std::map<int, ChannelResult> channels;  // done so far, by channel number
  std::string device;                     // e.g. "cpu (2 threads)" or the GPU's name
  double render_seconds = 0;              // accumulated over all runs
  int total_channels = 0;                 // channels requested

  nlohmann::json to_json() const;
  static SweepManifest from_json(const nlohmann::json& j);
  // Reads DIR/manifest.json; nullopt when absent; throws naming the file when unreadable.
  static std::optional<SweepManifest> load(const std::string& dir);
  // Writes DIR/manifest.json atomically.
  void save(const std::string& dir) const;
};

// "inception_4a/output" -> "inception_4a_output" (safe as a file name).
std::string layer_file_stem(const std::string& layer);
// "channels/<layer stem>_<c>.png".
std::string channel_file(const std::string& layer, int channel);

// Writes DIR/index.html for the channels in the manifest (atomically).
void write_gallery_html(const std::string& dir, const SweepManifest& m);

// Writes DIR/contact_sheet.png: every channel image of the manifest (read back from DIR),
// shrunk to `thumb` pixels, in channel order on a grid, each numbered in its corner.
void write_contact_sheet(const std::string& dir, const SweepManifest& m, int thumb = 96);

}  // namespace cuviz
