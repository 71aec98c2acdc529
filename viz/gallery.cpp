// Sweep manifest (JSON) and the static gallery page. The page embeds its data as a JSON literal
// and builds the grid with a few lines of script, so it needs no server and no network.
#include "viz/gallery.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>

#include "io/atomic_file.h"
#include "io/html.h"
#include "io/image.h"
#include "core/error.h"

namespace cuviz {

using nlohmann::json;

json SweepManifest::to_json() const {
  json ch = json::array();
  for (const auto& [c, r] : channels) ch.push_back(json{{"channel", c}, {"objective", r.objective}, {"file", r.file}});
  return json{{"format", "cuviz-sweep-1"}, {"settings", settings.to_json()}, {"device", device},
              {"render_seconds", render_seconds}, {"total_channels", total_channels}, {"channels", ch}};
}

namespace {

// A count or channel number of a manifest: an integer from 0 to 2^31 - 1. (A JSON float such as
// 1e300 converted to int would be undefined behaviour; a huge or negative one would wrap.)
int manifest_int(const json& v, const char* what) {
  const bool ok = (v.is_number_unsigned() && v.get<uint64_t>() <= uint64_t(INT32_MAX)) ||
                  (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() >= 0 &&
                   v.get<int64_t>() <= INT32_MAX);
  CUVIZ_CHECK(ok, what, " must be an integer from 0 to 2147483647, not ", v.dump().substr(0, 40));
  return int(v.get<int64_t>());
}

}  // namespace

// A manifest is read back when a sweep resumes, and a folder can come from anywhere: every value
// is checked for its type and range, and each channel's file must be the one cuviz writes for it
// (channels/<layer>_<c>.png), so a manifest cannot point the resume or the contact sheet at a
// file outside the sweep's folder.
SweepManifest SweepManifest::from_json(const json& j) {
  CUVIZ_CHECK(j.is_object(), "not a cuviz sweep manifest (not a JSON object)");
  CUVIZ_CHECK(j.value("format", "") == "cuviz-sweep-1", "not a cuviz sweep manifest (format ",
              j.value("format", "missing"), ")");
  SweepManifest m;
  m.settings = SweepSettings::from_json(j.at("settings"));
  m.device = j.value("device", "");
  m.render_seconds = j.value("render_seconds", 0.0);
  CUVIZ_CHECK(m.render_seconds >= 0, "render_seconds must not be negative");
  m.total_channels = j.contains("total_channels") ? manifest_int(j.at("total_channels"), "total_channels") : 0;
  const json& list = j.at("channels");
  CUVIZ_CHECK(list.is_array(), "channels must be a list");
  for (const auto& e : list) {
    CUVIZ_CHECK(e.is_object(), "each entry of channels must be an object");
    const int c = manifest_int(e.at("channel"), "channel");
    // A channel whose objective is `null` (written before the render loop refused NaN and Inf) is
    // not done: the resume renders it again instead of failing on it.
    if (e.at("objective").is_null()) continue;
    CUVIZ_CHECK(e.at("objective").is_number(), "channel ", c, ": objective must be a number");
    ChannelResult r{c, e.at("objective").get<double>(), e.at("file").get<std::string>()};
    CUVIZ_CHECK(r.file == channel_file(m.settings.layer, c), "channel ", c, ": file '", r.file.substr(0, 80),
                "' is not ", channel_file(m.settings.layer, c));
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
    img.alt = "channel " + c.channel;
    img.addEventListener("error", () => {
      fig.dataset.broken = "";
      console.error("missing image " + c.file);
    });
    img.src = c.file;
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
                              " transforms · ReLU override ", s.relu_override, " steps · Adam lr ", s.lr, " · seed ", s.seed, " · ", s.precision, " · ", m.device)));
  replace_all(page, "@DATA@", data);
  write_file_atomic(dir + "/index.html", page);
}

namespace {

// 3x5 bitmap digits, one row per 3-bit mask (bit 2 = left column).
constexpr uint8_t kDigits[10][5] = {{7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7},
                                    {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1},
                                    {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};

// Draws `number` in white on a black box with its top-left corner at (x0, y0), `scale` pixels per dot.
void draw_number(Image& im, int x0, int y0, int number, int scale) {
  const std::string digits = std::to_string(number);
  const int bw = int(digits.size()) * 4 * scale + scale, bh = 7 * scale;
  for (int y = y0; y < std::min(y0 + bh, im.height); ++y)
    for (int x = x0; x < std::min(x0 + bw, im.width); ++x)
      for (int c = 0; c < 3; ++c) im.at(x, y, c) = 0;
  for (size_t d = 0; d < digits.size(); ++d) {
    const uint8_t* glyph = kDigits[digits[d] - '0'];
    for (int r = 0; r < 5; ++r)
      for (int col = 0; col < 3; ++col) {
        if (!(glyph[r] >> (2 - col) & 1)) continue;
        for (int dy = 0; dy < scale; ++dy)
          for (int dx = 0; dx < scale; ++dx) {
            const int x = x0 + scale + int(d) * 4 * scale + col * scale + dx, y = y0 + scale + r * scale + dy;
            if (x < im.width && y < im.height)
              for (int c = 0; c < 3; ++c) im.at(x, y, c) = 255;
          }
      }
  }
}

// Area-average shrink (or nearest enlarge) of `src` into the thumb x thumb cell at (x0, y0).
void blit_scaled(const Image& src, Image& dst, int x0, int y0, int thumb) {
  for (int ty = 0; ty < thumb; ++ty)
    for (int tx = 0; tx < thumb; ++tx) {
      const int sx0 = tx * src.width / thumb, sx1 = std::max(sx0 + 1, (tx + 1) * src.width / thumb);
      const int sy0 = ty * src.height / thumb, sy1 = std::max(sy0 + 1, (ty + 1) * src.height / thumb);
      for (int c = 0; c < 3; ++c) {
        int sum = 0;
        for (int y = sy0; y < sy1; ++y)
          for (int x = sx0; x < sx1; ++x) sum += src.at(x, y, std::min(c, src.channels - 1));
        dst.at(x0 + tx, y0 + ty, c) = uint8_t((sum + (sx1 - sx0) * (sy1 - sy0) / 2) / ((sx1 - sx0) * (sy1 - sy0)));
      }
    }
}

}  // namespace

void write_contact_sheet(const std::string& dir, const SweepManifest& m, int thumb) {
  const int count = int(m.channels.size());
  if (count == 0) return;
  const int gap = 2, cols = int(std::ceil(std::sqrt(double(count))));
  const int rows = (count + cols - 1) / cols;
  Image sheet;
  sheet.width = cols * (thumb + gap) + gap;
  sheet.height = rows * (thumb + gap) + gap;
  sheet.pixels.assign(size_t(sheet.width) * sheet.height * 3, 24);
  const int scale = std::max(1, thumb / 48);
  int k = 0;
  for (const auto& [c, r] : m.channels) {
    const int x0 = gap + (k % cols) * (thumb + gap), y0 = gap + (k / cols) * (thumb + gap);
    blit_scaled(read_image(dir + "/" + r.file), sheet, x0, y0, thumb);
    draw_number(sheet, x0, y0, c, scale);
    ++k;
  }
  write_png(dir + "/contact_sheet.png", sheet);
}

}  // namespace cuviz
