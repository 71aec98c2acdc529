// The settings structs (viz/settings.h): the defaults render and sweep share are the render
// loop's, JSON round-trips, a manifest written before a key existed reads with the value its
// sweeps were rendered with, and bad values are one error naming the setting.
#include "viz/settings.h"

#include <map>
#include <tuple>

#include "test_util.h"
#include "viz/gallery.h"
#include "viz/render.h"

namespace cuviz {
namespace {

using nlohmann::json;

// The keys of the shared optimisation settings, as the manifest has always spelled them.
const std::vector<std::string> kSharedKeys = {"size", "steps",         "param",    "transforms",
                                              "lr",   "seed",          "relu_override", "precision"};

TEST(Settings, RenderOptionsStartFromTheSharedDefaults) {
  const RenderOptions defaults;
  const RenderOptions from_settings = render_options(OptimSettings{}, Device::cpu);
  EXPECT_EQ(defaults.size, from_settings.size);
  EXPECT_EQ(defaults.steps, from_settings.steps);
  EXPECT_EQ(defaults.seed, from_settings.seed);
  EXPECT_EQ(defaults.relu_override_steps, from_settings.relu_override_steps);
  EXPECT_EQ(defaults.adam.lr, from_settings.adam.lr);
  EXPECT_EQ(defaults.param, from_settings.param);
  EXPECT_EQ(defaults.precision, from_settings.precision);
  EXPECT_EQ(defaults.transforms.enabled, from_settings.transforms.enabled);
  EXPECT_EQ(defaults.transforms.n_scales, from_settings.transforms.n_scales);
  EXPECT_EQ(defaults.transforms.n_angles, from_settings.transforms.n_angles);
  // The values chosen (docs/visualization.md, "Settings"): Lucid's ReLU override for 16 steps,
  // 224 px, 512 steps, lr 0.05.
  EXPECT_EQ(from_settings.relu_override_steps, 16);
  EXPECT_EQ(from_settings.size, 224);
  EXPECT_EQ(from_settings.steps, 512);
  EXPECT_FLOAT_EQ(from_settings.adam.lr, 0.05f);
}

TEST(Settings, RenderAndSweepShareKeysFlagsAndDefaults) {
  const json render = settings_to_json(RenderSettings{}), sweep = settings_to_json(SweepSettings{});
  for (const auto& key : kSharedKeys) {
    ASSERT_TRUE(render.contains(key)) << key;
    ASSERT_TRUE(sweep.contains(key)) << key;
    EXPECT_EQ(render.at(key), sweep.at(key)) << key;
  }
  // Same flag, help and check for each shared setting: collected from both field lists.
  auto flags = [](const auto& s) {
    std::map<std::string, std::string> out;
    std::remove_cvref_t<decltype(s)>::fields(s, [&](const auto& f) {
      out[f.key] = cat(f.flag, " | ", f.help, " | ", f.check.index());
    });
    return out;
  };
  const auto r = flags(RenderSettings{}), w = flags(SweepSettings{});
  for (const auto& key : kSharedKeys) EXPECT_EQ(r.at(key), w.at(key)) << key;
}

TEST(Settings, JsonRoundTripsEveryField) {
  SweepSettings s;
  s.model = "googlenet";
  s.model_file = "/w/bvlc_googlenet.caffemodel";
  s.layer = "inception_4a/output";
  s.objective = "neuron";
  s.size = 96;
  s.steps = 33;
  s.param = "pixel";
  s.transforms = "none";
  s.lr = 0.125;
  s.seed = 1ull << 40;
  s.relu_override = 5;
  s.precision = "bf16";
  const SweepSettings back = SweepSettings::from_json(s.to_json());
  EXPECT_EQ(back.differences(s), "");
  EXPECT_EQ(back.model, "googlenet");  // not compared, but kept
  EXPECT_EQ(back.seed, 1ull << 40);

  RenderSettings r;
  r.objectives = {"a:1", "b:2"};
  r.batch = 2;
  r.relu_override = 0;
  const RenderSettings rb = settings_from_json<RenderSettings>(settings_to_json(r));
  EXPECT_EQ(rb.objectives, r.objectives);
  EXPECT_EQ(rb.batch, 2);
  EXPECT_EQ(rb.relu_override, 0);
}

// The settings object of a manifest as the code before the ReLU override wrote it (no
// "relu_override" key): those sweeps ran without the override, so it must read as 0, not as
// today's default 16 — or a resumed sweep would mix images made two ways.
TEST(Settings, ManifestWithoutNewerKeysReadsAsItWasRendered) {
  const json old = json::parse(R"({"layer": "inception_4a/output", "lr": 0.05, "model": "googlenet",
      "model_file": "/w/bvlc_googlenet.caffemodel", "objective": "channel", "param": "fourier",
      "precision": "fp32", "seed": 0, "size": 224, "steps": 512, "transforms": "standard"})");
  const SweepSettings s = SweepSettings::from_json(old);
  EXPECT_EQ(s.relu_override, 0);
  EXPECT_EQ(s.size, 224);
  EXPECT_EQ(s.layer, "inception_4a/output");
  SweepSettings today = s;
  today.relu_override = OptimSettings{}.relu_override;
  EXPECT_EQ(today.differences(s), "relu_override: 16 vs 0");
  // Before precision existed every sweep was FP32.
  json older = old;
  older.erase("precision");
  EXPECT_EQ(SweepSettings::from_json(older).precision, "fp32");
}

TEST(Settings, BadJsonIsOneErrorNamingTheSetting) {
  const json good = SweepSettings{}.to_json();
  auto error_of = [](const json& j) -> std::string {
    try {
      SweepSettings::from_json(j);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  // One changed key each: what the file says, and the one error it gets.
  const std::vector<std::tuple<std::string, json, std::string>> cases = {
      {"layer", nullptr, "settings: missing \"layer\""},  // no `absent` value: required
      {"size", 4, "size 4 is out of range (8 to 4096)"},
      {"precision", "fp16", "unknown precision 'fp16' (choices: fp32, tf32, bf16)"},
      {"lr", 0.0, "lr 0 must be greater than 0"},
  };
  for (const auto& [key, value, error] : cases) {
    json j = good;
    if (value.is_null())
      j.erase(key);
    else
      j[key] = value;
    EXPECT_EQ(error_of(j), error) << key;
  }
  json text_steps = good;
  text_steps["steps"] = "many";
  EXPECT_NE(error_of(text_steps).find("settings: \"steps\""), std::string::npos) << error_of(text_steps);
}

TEST(Settings, DifferencesNameEachSettingOnce) {
  SweepSettings a, b;
  a.model = "googlenet";
  b.model = "/w/bvlc_googlenet";  // a name and a path may be the same model: model_file decides
  b.param = "pixel";
  b.steps = 128;
  EXPECT_EQ(b.differences(a), "steps: 128 vs 512, param: \"pixel\" vs \"fourier\"");
  EXPECT_EQ(a.differences(a), "");
}

// render's start image: "seed" by default and for a JSON written before the key existed; a word
// that is no source is one error naming the setting; render_options passes it on as the source.
TEST(Settings, RenderStartIsRecordedCheckedAndPassedOn) {
  EXPECT_EQ(RenderSettings{}.start, "seed");
  json old = settings_to_json(RenderSettings{});
  old.erase("start");
  EXPECT_EQ(settings_from_json<RenderSettings>(old).start, "seed");
  for (const char* good : {"seed", "zeros", "noise", "a/cat.png", "b/DOG.JPG", "c.jpeg", "x.npy"})
    EXPECT_EQ(image_source_text_problem(good), "") << good;
  json bad = settings_to_json(RenderSettings{});
  bad["start"] = "zero";
  try {
    settings_from_json<RenderSettings>(bad);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "start 'zero' is neither seed, zeros, noise, a photo (.png, .jpg, .jpeg) nor an .npy "
                           "network input");
  }
  for (const char* wrong : {"", "photo.webp", ".png", "seeds"}) EXPECT_NE(image_source_text_problem(wrong), "") << wrong;

  RenderSettings r;
  r.start = "in/x.npy";
  r.param = "input";
  r.batch = 3;
  const RenderOptions ro = render_options(r, Device::cpu);
  EXPECT_EQ(ro.source.kind, SourceKind::npy);
  EXPECT_EQ(ro.source.path, "in/x.npy");
  EXPECT_EQ(ro.param, ParamKind::input);
  EXPECT_EQ(ro.batch, 3);
  EXPECT_EQ(render_options(RenderSettings{}, Device::cpu).source.kind, SourceKind::seed);
}

TEST(Settings, RenderOptionsRefuseAValueOutOfRange) {
  OptimSettings s;
  s.relu_override = -1;
  try {
    render_options(s, Device::cpu);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "relu_override -1 is out of range (0 to 1000000)");
  }
}

}  // namespace
}  // namespace cuviz
