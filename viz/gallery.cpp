// Sweep manifest (JSON) and the static gallery page. The page embeds its data as a JSON literal
// and builds the grid with a few lines of script, so it needs no server and no network.
#include "viz/gallery.h"

#include <filesystem>

#include "loaders/atomic_file.h"
#include "nn/error.h"

namespace cuviz {

using nlohmann::json;

json SweepSettings::to_json() const {
  return json{{"model", model},   {"model_file", model_file}, {"layer", layer},           {"objective", objective},
              {"size", size},     {"steps", steps},           {"param", param},           {"transforms", transforms},
              {"lr", lr},         {"seed", seed},             {"precision", precision}};
}

SweepSettings SweepSettings::from_json(const json& j) {
  SweepSettings s;
  s.model = j.at("model");
  s.model_file = j.at("model_file");
  s.layer = j.at("layer");
  s.objective = j.at("objective");
  s.size = j.at("size");
  s.steps = j.at("steps");
  s.param = j.at("param");
  s.transforms = j.at("transforms");
  s.lr = j.at("lr");
  s.seed = j.at("seed");
  s.precision = j.at("precision");
  return s;
}

std::string SweepSettings::differences(const SweepSettings& o) const {
  const json a = to_json(), b = o.to_json();
  std::string out;
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (it.key() == "model") continue;  // a name and a path may name the same file: model_file decides
    if (!b.contains(it.key()) || b.at(it.key()) != it.value())
      out += cat(out.empty() ? "" : ", ", it.key(), ": ", it.value().dump(), " vs ",
                 b.contains(it.key()) ? b.at(it.key()).dump() : "(missing)");
  }
  return out;
}

json SweepManifest::to_json() const {
  json ch = json::array();
  for (const auto& [c, r] : channels) ch.push_back(json{{"channel", c}, {"objective", r.objective}, {"file", r.file}});
  return json{{"format", "cuviz-sweep-1"}, {"settings", settings.to_json()}, {"device", device},
              {"render_seconds", render_seconds}, {"total_channels", total_channels}, {"channels", ch}};
}

SweepManifest SweepManifest::from_json(const json& j) {
  CUVIZ_CHECK(j.value("format", "") == "cuviz-sweep-1", "not a cuviz sweep manifest (format ",
              j.value("format", "missing"), ")");
  SweepManifest m;
  m.settings = SweepSettings::from_json(j.at("settings"));
  m.device = j.value("device", "");
  m.render_seconds = j.value("render_seconds", 0.0);
  m.total_channels = j.value("total_channels", 0);
  for (const auto& e : j.at("channels")) {
    ChannelResult r{e.at("channel"), e.at("objective"), e.at("file")};
    m.channels[r.channel] = r;
  }
  return m;
}

std::optional<SweepManifest> SweepManifest::load(const std::string& dir) {
  const std::string path = dir + "/manifest.json";
  if (!std::filesystem::exists(path)) return std::nullopt;
  try {
    return from_json(json::parse(read_file(path)));
  } catch (const json::exception& e) {
    throw Error(cat(path, ": unreadable sweep manifest (", e.what(), "); remove it or use --overwrite"));
  } catch (const Error& e) {
    throw Error(cat(path, ": ", e.what(), "; remove it or use --overwrite"));
  }
}

void SweepManifest::save(const std::string& dir) const {
  write_file_atomic(dir + "/manifest.json", to_json().dump(2) + "\n");
}

std::string layer_file_stem(const std::string& layer) {
  std::string s = layer;
  for (char& ch : s)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.')) ch = '_';
  return s;
}

std::string channel_file(const std::string& layer, int channel) {
  return cat("channels/", layer_file_stem(layer), "_", channel, ".png");
}

namespace {

// Escapes a string for inclusion in HTML text.
std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

constexpr const char* kPage = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>@TITLE@</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; background: #111; color: #ddd; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
p.meta { color: #999; margin: 0 0 1em; font-size: .9em; }
#controls { margin-bottom: 1em; }
button { background: #333; color: #ddd; border: 1px solid #555; padding: .3em .8em; cursor: pointer; }
button.on { background: #556; }
#grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(136px, 1fr)); gap: 10px; }
figure { margin: 0; background: #1c1c1c; padding: 4px; border-radius: 4px; cursor: zoom-in; }
figure img { width: 100%; image-rendering: auto; display: block; }
figcaption { font-size: .8em; display: flex; justify-content: space-between; padding-top: 2px; }
#zoom { position: fixed; inset: 0; background: rgba(0,0,0,.9); display: none; align-items: center;
        justify-content: center; flex-direction: column; cursor: zoom-out; }
#zoom img { max-width: 90vmin; max-height: 85vmin; image-rendering: pixelated; }
#zoom div { margin-top: .6em; }
</style>
</head>
<body>
<h1>@TITLE@</h1>
<p class="meta">@META@</p>
<div id="controls">sort by
  <button id="by-channel" class="on">channel</button>
  <button id="by-activation">activation</button>
</div>
<div id="grid"></div>
<div id="zoom"><img alt=""><div></div></div>
<script id="data" type="application/json">@DATA@</script>
<script>
"use strict";
const data = JSON.parse(document.getElementById("data").textContent);
const grid = document.getElementById("grid");
const zoom = document.getElementById("zoom");
function show(order) {
  grid.replaceChildren();
  for (const c of order) {
    const fig = document.createElement("figure");
    const img = document.createElement("img");
    img.src = c.file; img.alt = "channel " + c.channel; img.loading = "lazy";
    const cap = document.createElement("figcaption");
    const num = document.createElement("span"); num.textContent = "#" + c.channel;
    const val = document.createElement("span"); val.textContent = c.objective.toFixed(2);
    cap.append(num, val); fig.append(img, cap);
    fig.addEventListener("click", () => {
      zoom.querySelector("img").src = c.file;
      zoom.querySelector("div").textContent = "channel " + c.channel + ", objective " + c.objective.toFixed(3);
      zoom.style.display = "flex";
    });
    grid.append(fig);
  }
}
zoom.addEventListener("click", () => { zoom.style.display = "none"; });
function sortBy(key) {
  document.getElementById("by-channel").classList.toggle("on", key === "channel");
  document.getElementById("by-activation").classList.toggle("on", key === "activation");
  const order = data.channels.slice();
  if (key === "activation") order.sort((a, b) => b.objective - a.objective);
  else order.sort((a, b) => a.channel - b.channel);
  show(order);
}
document.getElementById("by-channel").addEventListener("click", () => sortBy("channel"));
document.getElementById("by-activation").addEventListener("click", () => sortBy("activation"));
sortBy("channel");
</script>
</body>
</html>
)HTML";

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
}

}  // namespace

void write_gallery_html(const std::string& dir, const SweepManifest& m) {
  const SweepSettings& s = m.settings;
  json channels = json::array();
  for (const auto& [c, r] : m.channels) channels.push_back(json{{"channel", c}, {"objective", r.objective}, {"file", r.file}});
  // "</" must not appear inside a <script> element: JSON allows "<\/".
  std::string data = json{{"channels", channels}}.dump();
  replace_all(data, "</", "<\\/");
  std::string page = kPage;
  replace_all(page, "@TITLE@", html_escape(cat(s.layer, " — ", s.model)));
  replace_all(page, "@META@",
              html_escape(cat(m.channels.size(), " of ", m.total_channels, " channels · ", s.objective, " objective · ",
                              s.size, " px · ", s.steps, " steps · ", s.param, " parameterization · ", s.transforms,
                              " transforms · Adam lr ", s.lr, " · seed ", s.seed, " · ", s.precision, " · ", m.device)));
  replace_all(page, "@DATA@", data);
  write_file_atomic(dir + "/index.html", page);
}

}  // namespace cuviz
