// The settings of each visualization method, declared once. Every setting is one `Field` in its
// struct's `fields(s, visitor)` list: its JSON key, its command-line flag with help text, its range
// or choices, and (for manifests written before the key existed) the value its absence means. The
// default is the member's initializer. From that one list come the CLI11 options
// (apps/settings_cli.h), the JSON of `render` and of the sweep manifest, the comparison of two
// sweeps' settings and the checks of values read from a file — so `render` and `sweep` cannot
// drift apart on a default, a flag or a range again.
//
// Why the shared defaults are what they are (docs/visualization.md, "Settings"):
//   size 224         GoogLeNet's and VGG's training resolution; both commands used it already.
//   steps 512        Lucid's render_vis threshold.
//   lr 0.05          Lucid's Adam learning rate.
//   relu_override 16 Lucid's render_vis redirects the ReLU gradient for the first 16 steps; without
//                    it a third of inception_4a's channels are zero on the grey start image and
//                    never leave grey (docs/sweep.md). `render` used 0 until the settings were
//                    unified; `--relu-override 0` gives the old behaviour.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "core/error.h"
#include "viz/image_source.h"

namespace cuviz {

// The defaults the optimisation settings share, as constants so that RenderOptions (the render
// loop's own, lower-level options) starts from the same values (viz/render.h).
namespace settings_defaults {
inline constexpr int size = 224;
inline constexpr int steps = 512;
inline constexpr double lr = 0.05;
inline constexpr uint64_t seed = 0;
inline constexpr int relu_override = 16;
}  // namespace settings_defaults

// What a setting's value must satisfy.
struct NoCheck {};
struct Range {  // lo <= value <= hi
  double lo, hi;
};
struct Positive {};  // value > 0
struct OneOf {       // one of the listed strings
  std::vector<std::string> choices;
};
struct Judged {  // text a function judges: why_not returns "" for a good value, else the rest of "KEY 'VALUE' is ..."
  std::string (*why_not)(const std::string& value);
  const char* shown;  // what --help shows of the accepted values
};
using Check = std::variant<NoCheck, Range, Positive, OneOf, Judged>;

// One setting of a settings struct; T is const when the struct is visited read-only.
template <class T>
struct Field {
  const char* key;   // JSON key (render's JSON, the sweep manifest)
  const char* flag;  // command-line flag; "" when the setting is not given on the command line
  const char* help;  // the flag's help text
  T& value;
  Check check = NoCheck{};
  bool required = false;  // the flag must be given (no default)
  // The value a JSON object without this key means: set for keys added after manifests were
  // first written (those manifests were rendered with that value). Unset: the key must be present.
  std::optional<std::remove_const_t<T>> absent = std::nullopt;
  bool compared = true;  // counts in differences() (the model name does not: model_file decides)
};

// 8 -> "8", 0.5 -> "0.5", 1e6 -> "1000000": numbers in messages read as the user would type them.
std::string number_text(double v);
// "" when `value` satisfies `check`, else the one-line reason naming the setting by `key` (a
// number's reason leaves out an empty key: the CLI prefixes the flag).
std::string check_message(const char* key, const Check& check, double value);
std::string check_message(const char* key, const Check& check, const std::string& value);
inline std::string check_message(const char*, const Check&, const std::vector<std::string>&) { return ""; }

// The optimisation settings `render` and `sweep` share: same flags, defaults and checks.
struct OptimSettings {
  int size = settings_defaults::size;
  int steps = settings_defaults::steps;
  std::string param = "fourier";
  std::string transforms = "standard";
  double lr = settings_defaults::lr;
  uint64_t seed = settings_defaults::seed;
  int relu_override = settings_defaults::relu_override;
  std::string precision = "fp32";

  template <class S, class V>
  static void fields(S& s, V&& v) {
    v(Field{.key = "size", .flag = "--size", .help = "Image height and width in pixels", .value = s.size,
            .check = Range{8, 4096}});
    v(Field{.key = "steps", .flag = "--steps", .help = "Optimisation steps per image", .value = s.steps,
            .check = Range{1, 1000000}});
    v(Field{.key = "param",
            .flag = "--param",
            .help = "Image parameterization: fourier (decorrelated colour), pixel, or input (the preprocessed network "
                    "input itself, as google/deepdream)",
            .value = s.param,
            .check = OneOf{{"fourier", "pixel", "input"}}});
    v(Field{.key = "transforms", .flag = "--transforms", .help = "Transformation robustness: standard (Lucid's) or none",
            .value = s.transforms, .check = OneOf{{"standard", "none"}}});
    v(Field{.key = "lr", .flag = "--lr", .help = "Adam learning rate", .value = s.lr, .check = Positive{}});
    v(Field{.key = "seed", .flag = "--seed", .help = "Seed of the initialisation and the transform draws",
            .value = s.seed});
    // Manifests written before the override existed were rendered without it: absent means 0.
    v(Field{.key = "relu_override",
            .flag = "--relu-override",
            .help = "Steps at the start with Lucid's redirected ReLU gradient (0 = off; revives channels that are "
                    "zero on the grey start image)",
            .value = s.relu_override,
            .check = Range{0, 1000000},
            .absent = 0});
    v(Field{.key = "precision",
            .flag = "--precision",
            .help = "Convolution arithmetic: fp32, or tf32/bf16 operands with FP32 accumulation (GPU tensor cores; "
                    "on the CPU an emulation of their numerics, slower than fp32)",
            .value = s.precision,
            .check = OneOf{{"fp32", "tf32", "bf16"}},
            .absent = std::string("fp32")});
  }
};

// `cuviz render`: activation maximization of one objective expression per image (or one for all).
struct RenderSettings : OptimSettings {
  std::vector<std::string> objectives;
  int batch = 1;
  std::string start = "seed";  // where the image starts (viz/image_source.h)

  template <class S, class V>
  static void fields(S& s, V&& v) {
    v(Field{.key = "objectives",
            .flag = "--objective",
            .help = "Objective, e.g. inception_4a/output:97, logit:285, deepdream(L), 'L:10 - 100*diversity(L2)', "
                    "'-0.25*tv'; repeat once per image for a batch",
            .value = s.objectives,
            .required = true});
    v(Field{.key = "batch", .flag = "--batch", .help = "Images rendered together", .value = s.batch,
            .check = Range{1, 4096}});
    // Renders written before the key existed started from the seed.
    v(Field{.key = "start",
            .flag = "--start",
            .help = "Start image: seed (Lucid's random parameters), zeros (grey; the dataset mean with --param "
                    "input), noise, a photo (PNG or JPEG, centre-cropped and resized to --size), or an .npy holding "
                    "the preprocessed network input (1 or N, 3, size, size), as forward --input takes (needs --param "
                    "input)",
            .value = s.start,
            .check = Judged{image_source_text_problem, "{seed,zeros,noise,PHOTO,X.npy}"},
            .absent = std::string("seed")});
    OptimSettings::fields(s, v);
  }
};

// `cuviz sweep`: what a sweep was asked to render. Two runs may share an output directory only
// when these agree (differences()); the manifest records them.
struct SweepSettings : OptimSettings {
  std::string model;       // the model name or path given by the user
  std::string model_file;  // the file actually loaded
  std::string layer;
  std::string objective = "channel";  // channel | neuron

  template <class S, class V>
  static void fields(S& s, V&& v) {
    v(Field{.key = "model", .flag = "", .help = "", .value = s.model, .compared = false});
    v(Field{.key = "model_file", .flag = "", .help = "", .value = s.model_file});
    v(Field{.key = "layer", .flag = "--layer", .help = "Layer (blob) to sweep, e.g. inception_4a/output; several: a,b,c; all: every conv and concat output",
            .value = s.layer, .required = true});
    v(Field{.key = "objective", .flag = "--objective",
            .help = "channel (spatial mean of each channel) or neuron (its centre position)", .value = s.objective,
            .check = OneOf{{"channel", "neuron"}}});
    OptimSettings::fields(s, v);
  }

  nlohmann::json to_json() const;
  static SweepSettings from_json(const nlohmann::json& j);
  // The settings that differ from `o` ("steps: 512 vs 256, ..."); "" when equal.
  std::string differences(const SweepSettings& o) const;
};

// ---- what every settings struct gets from its field list ----------------------------------------

template <class S>
nlohmann::json settings_to_json(const S& s) {
  nlohmann::json j = nlohmann::json::object();
  S::fields(s, [&](const auto& f) { j[f.key] = f.value; });
  return j;
}

// Throws (one line naming the setting) at the first value that fails its check.
template <class S>
void check_settings(const S& s) {
  S::fields(s, [&](const auto& f) {
    const std::string why = check_message(f.key, f.check, f.value);
    CUVIZ_CHECK(why.empty(), why);
  });
}

// Reads the settings from `j`: every key that is present, the `absent` value of a missing key that
// has one; throws naming the key when a required key is missing, has the wrong type or a value
// out of range.
template <class S>
S settings_from_json(const nlohmann::json& j) {
  S s;
  S::fields(s, [&](auto&& f) {
    using T = std::remove_cvref_t<decltype(f.value)>;
    if (!j.contains(f.key)) {
      CUVIZ_CHECK(f.absent.has_value(), "settings: missing \"", f.key, "\"");
      f.value = *f.absent;
      return;
    }
    try {
      f.value = j.at(f.key).template get<T>();
    } catch (const nlohmann::json::exception& e) {
      throw Error(cat("settings: \"", f.key, "\": ", e.what()));
    }
  });
  check_settings(s);
  return s;
}

// "key: a vs b" for every compared setting that differs, comma-separated; "" when none does.
template <class S>
std::string settings_differences(const S& a, const S& b) {
  const nlohmann::json ja = settings_to_json(a), jb = settings_to_json(b);
  std::string out;
  S::fields(a, [&](const auto& f) {
    if (!f.compared || ja.at(f.key) == jb.at(f.key)) return;
    out += cat(out.empty() ? "" : ", ", f.key, ": ", ja.at(f.key).dump(), " vs ", jb.at(f.key).dump());
  });
  return out;
}

struct RenderOptions;
// The render loop's options for these settings on `device` (batch 1; the caller sets it). Throws
// as check_settings does for a value out of range.
RenderOptions render_options(const OptimSettings& s, Device device);
// The same plus what `render` adds: the batch and the start image.
RenderOptions render_options(const RenderSettings& s, Device device);

}  // namespace cuviz
