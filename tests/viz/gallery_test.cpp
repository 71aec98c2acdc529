// Sweep output: manifest round trip and settings comparison, the gallery page lists every
// channel, the contact sheet has one numbered cell per channel, bad manifests are refused.
#include "viz/gallery.h"

#include <filesystem>
#include <fstream>

#include "io/atomic_file.h"
#include "io/image.h"
#include "test_util.h"

namespace cuviz {
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const char* name) {
  fs::path d = fs::temp_directory_path() / cat("cuviz_gallery_", name, "_", ::getpid());
  fs::remove_all(d);
  fs::create_directories(d / "channels");
  return d;
}

// A manifest with `n` channels whose images are flat colours (channel c has red = 10 c).
SweepManifest make_sweep(const fs::path& dir, int n) {
  SweepManifest m;
  m.settings.model = "googlenet";
  m.settings.model_file = "/x/bvlc_googlenet.caffemodel";
  m.settings.layer = "inception_4a/output";
  m.total_channels = n;
  m.device = "cpu";
  for (int c = 0; c < n; ++c) {
    Image im;
    im.width = im.height = 40;
    im.pixels.assign(40 * 40 * 3, 0);
    for (int i = 0; i < 40 * 40; ++i) im.pixels[i * 3] = uint8_t(10 * c);
    ChannelResult r{c, 100.0 - c, channel_file(m.settings.layer, c)};
    write_png((dir / r.file).string(), im);
    m.channels[c] = r;
  }
  return m;
}

}  // namespace

TEST(Gallery, ChannelFilesAreSafeNames) {
  EXPECT_EQ(channel_file("inception_4a/output", 7), "channels/inception_4a_output_7.png");
  EXPECT_EQ(layer_file_stem("a b/c:d"), "a_b_c_d");
}

TEST(Gallery, ManifestRoundTripsAndReportsDifferences) {
  const fs::path dir = fresh_dir("manifest");
  SweepManifest m = make_sweep(dir, 3);
  m.render_seconds = 1.5;
  m.save(dir.string());
  auto back = SweepManifest::load(dir.string());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->channels.size(), 3u);
  EXPECT_DOUBLE_EQ(back->channels.at(2).objective, 98.0);
  EXPECT_EQ(back->settings.differences(m.settings), "");
  SweepSettings other = m.settings;
  other.steps = 128;
  other.seed = 4;
  const std::string diff = other.differences(m.settings);
  EXPECT_NE(diff.find("steps: 128 vs 512"), std::string::npos) << diff;
  EXPECT_NE(diff.find("seed"), std::string::npos) << diff;
  EXPECT_FALSE(SweepManifest::load((dir / "channels").string()).has_value());
  fs::remove_all(dir);
}

// A manifest from before the finite checks, with `"objective": null` for a channel whose render
// went NaN: it still loads (every resume of such a folder used to fail), without that channel,
// which the resume renders again.
TEST(Gallery, ChannelWithNullObjectiveIsNotDone) {
  const fs::path dir = fresh_dir("null_objective");
  make_sweep(dir, 3).save(dir.string());
  auto j = nlohmann::json::parse(read_file((dir / "manifest.json").string()));
  j["channels"][1]["objective"] = nullptr;
  write_file_atomic((dir / "manifest.json").string(), j.dump(2));
  const auto back = SweepManifest::load(dir.string());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->channels.size(), 2u);
  EXPECT_EQ(back->channels.count(1), 0u);
  EXPECT_EQ(back->channels.count(2), 1u);
  fs::remove_all(dir);
}

TEST(Gallery, CorruptManifestIsOneClearError) {
  const fs::path dir = fresh_dir("corrupt");
  write_file_atomic((dir / "manifest.json").string(), "{\"format\": \"cuviz-sweep-1\", \"settings\": ");
  try {
    SweepManifest::load(dir.string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("manifest.json"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(Gallery, PageListsEveryChannelAndEscapesScriptEnd) {
  const fs::path dir = fresh_dir("html");
  SweepManifest m = make_sweep(dir, 5);
  m.settings.model = "</script><b>";
  write_gallery_html(dir.string(), m);
  const std::string page = read_file((dir / "index.html").string());
  for (int c = 0; c < 5; ++c)
    EXPECT_NE(page.find(cat("\"file\":\"", channel_file(m.settings.layer, c), "\"")), std::string::npos) << c;
  EXPECT_EQ(page.find("</script><b>"), std::string::npos);
  EXPECT_NE(page.find("5 of 5 channels"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Gallery, ContactSheetHasANumberedCellPerChannel) {
  const fs::path dir = fresh_dir("sheet");
  SweepManifest m = make_sweep(dir, 10);
  write_contact_sheet(dir.string(), m, 48);
  const Image sheet = read_image((dir / "contact_sheet.png").string());
  // 10 channels -> 4 columns x 3 rows of 48 px cells with 2 px gaps.
  EXPECT_EQ(sheet.width, 4 * 50 + 2);
  EXPECT_EQ(sheet.height, 3 * 50 + 2);
  for (int c = 0; c < 10; ++c) {
    const int x0 = 2 + (c % 4) * 50, y0 = 2 + (c / 4) * 50;
    EXPECT_EQ(sheet.at(x0 + 40, y0 + 40, 0), 10 * c) << "cell of channel " << c;  // the flat colour
    EXPECT_EQ(sheet.at(x0, y0, 0), 0) << "black label box of channel " << c;
    int white = 0;  // the digit's dots inside its 5x7 box
    for (int y = y0; y < y0 + 7; ++y)
      for (int x = x0; x < x0 + 5; ++x) white += sheet.at(x, y, 0) == 255;
    EXPECT_GE(white, 5) << "number of channel " << c;
  }
  fs::remove_all(dir);
}

}  // namespace cuviz
