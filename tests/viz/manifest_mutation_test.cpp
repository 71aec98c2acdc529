// manifest.json of a sweep being resumed, fed hostile variants (the manifest target issue 16
// asks of the fuzzing has its libFuzzer target too, tests/fuzz/manifest_fuzz.cpp; this test runs
// in the ordinary build and in the sanitizer build of CI). Starting from a real manifest:
// every value replaced by every adversarial JSON value (wrong types, 1e300, -1, 2^31, 2^64,
// huge strings, deep nesting, paths out of the folder), and a few thousand seeded random byte
// edits of the text. Each variant either loads into a manifest whose channel numbers, files and
// counts are ones cuviz could have written, or gives one cuviz::Error; nothing else may escape,
// and under the sanitizers no undefined behaviour (float-to-int conversions of 1e300 among them).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <random>

#include "io/atomic_file.h"
#include "loaders/loader_test_util.h"
#include "test_util.h"
#include "viz/gallery.h"

namespace cuviz {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json valid_manifest() {
  SweepManifest m;
  m.settings.model = "googlenet";
  m.settings.model_file = "/x/bvlc_googlenet.caffemodel";
  m.settings.layer = "inception_4a/output";
  m.total_channels = 3;
  m.device = "cpu (2 threads)";
  m.render_seconds = 1.5;
  for (int c = 0; c < 3; ++c) m.channels[c] = ChannelResult{c, 10.0 + c, channel_file(m.settings.layer, c)};
  return m.to_json();
}

std::vector<json> adversarial_values() {
  std::vector<json> v = {nullptr, true, 0, -1, 1, 2147483647, 2147483648LL, -2147483649LL,
                         std::numeric_limits<uint64_t>::max(), 1e300, -1e300, 0.5, "", "x",
                         std::string(100000, 'a'), "../../../etc/passwd", "/etc/passwd",
                         "channels/inception_4a_output_0.png", json::array(), json::object(),
                         json::array({1, 2}), json::parse(R"({"a": {"b": [[[[[]]]]]}})")};
  json deep = 1;
  for (int i = 0; i < 200; ++i) deep = json::array({deep});
  v.push_back(deep);
  return v;
}

// Every JSON pointer to a value in `j` (objects and arrays, depth first).
void pointers(const json& j, const json::json_pointer& at, std::vector<json::json_pointer>& out) {
  out.push_back(at);
  if (j.is_object())
    for (auto it = j.begin(); it != j.end(); ++it) pointers(it.value(), at / it.key(), out);
  else if (j.is_array())
    for (size_t i = 0; i < j.size(); ++i) pointers(j[i], at / i, out);
}

struct Outcome {
  int loaded = 0, refused = 0;
};

// Loads DIR/manifest.json holding `text`: a manifest cuviz could have written, or a cuviz::Error.
void check_one(const std::string& dir, const std::string& text, Outcome& o) {
  write_file_atomic(dir + "/manifest.json", text);
  std::optional<SweepManifest> m;
  try {
    m = SweepManifest::load(dir);
  } catch (const Error& e) {
    ++o.refused;
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
    return;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a cuviz::Error: " << e.what() << "\ninput: " << text.substr(0, 300);
    return;
  }
  ASSERT_TRUE(m.has_value());
  ++o.loaded;
  EXPECT_GE(m->total_channels, 0);
  EXPECT_GE(m->render_seconds, 0);
  for (const auto& [c, r] : m->channels) {
    EXPECT_GE(c, 0);
    EXPECT_EQ(r.channel, c);
    EXPECT_EQ(r.file, channel_file(m->settings.layer, c)) << "a file outside the sweep's own names";
  }
}

TEST(ManifestMutation, EveryValueReplacedLoadsSaneOrGivesACuvizError) {
  test::TempDir dir("manifest_values");
  const json base = valid_manifest();
  Outcome o;
  check_one(dir.path().string(), base.dump(2), o);
  ASSERT_EQ(o.loaded, 1) << "the unmodified manifest loads";
  std::vector<json::json_pointer> at;
  pointers(base, json::json_pointer(), at);
  const auto values = adversarial_values();
  for (const auto& p : at)
    for (const auto& v : values) {
      json j = base;
      j[p] = v;
      check_one(dir.path().string(), j.dump(), o);
    }
  // Keys removed, one at a time.
  for (const auto& p : at) {
    if (p.empty()) continue;
    json j = base;
    json& parent = j[p.parent_pointer()];
    if (parent.is_array())
      parent.erase(std::stoul(p.back()));
    else
      parent.erase(p.back());
    check_one(dir.path().string(), j.dump(), o);
  }
  EXPECT_GT(o.refused, int(at.size())) << "most hostile values are refused";
  EXPECT_GT(o.loaded, 1) << "values of the right type and range still load (the device string, say)";
}

TEST(ManifestMutation, RandomByteEditsLoadSaneOrGiveACuvizError) {
  test::TempDir dir("manifest_bytes");
  const std::string base = valid_manifest().dump(2);
  std::mt19937 rng(16);
  std::string alphabet = "{}[]\",:0123456789-+.eE truefalsnul\\/";
  alphabet += '\0';
  alphabet += '\xff';
  Outcome o;
  for (int round = 0; round < 3000; ++round) {
    std::string s = base;
    const int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t pos = rng() % s.size();
      const char ch = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0: s[pos] = ch; break;
        case 1: s.insert(s.begin() + long(pos), ch); break;
        default: s.erase(pos, 1 + rng() % 8); break;
      }
    }
    check_one(dir.path().string(), s, o);
  }
  EXPECT_GT(o.refused, 1000);
}

}  // namespace
}  // namespace cuviz
