// The browsable output of a channel sweep: manifest.json (settings, per-channel objective
// values, timings, device), index.html (a static page that works from the file system: a grid
// of thumbnails with channel number and objective value, click to enlarge, sort by activation)
// and a contact-sheet PNG with every channel numbered. Every file is written atomically.
#pragma once

#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace cuviz {

// What a sweep was asked to do. Two runs may share an output directory only when these agree.
struct SweepSettings {
  std::string model;       // the model name or path given by the user
  std::string model_file;  // the file actually loaded
  std::string layer;
  std::string objective = "channel";  // channel | neuron
  int size = 224, steps = 512;
  std::string param = "fourier", transforms = "standard";
  double lr = 0.05;
  uint64_t seed = 0;
  std::string precision = "fp32";
  // Lucid's relu_gradient_override (on by default in its render_vis): the first N steps pass
  // gradient through inactive ReLUs, so channels that are zero on the initial grey image (a
  // third or more of inception_4a's) are not stuck at a grey, zero-objective result.
  int relu_override = 16;

  nlohmann::json to_json() const;
  static SweepSettings from_json(const nlohmann::json& j);
  // The names of the settings that differ from `o` ("steps: 512 vs 256, ..."); "" when equal.
  std::string differences(const SweepSettings& o) const;
};

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
