// `cuviz sweep` on real GoogLeNet at a tiny size: the gallery directory is complete, an
// interrupted sweep resumes to the same files as an uninterrupted one, other settings are
// refused (and --overwrite accepted), and the page renders in headless Chromium with one image
// per channel and no console errors.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "apps/run_cli.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "test_util.h"
#include "viz/gallery.h"

namespace cuviz {
namespace {

namespace fs = std::filesystem;
using test::run_cli;
using test::TempDir;

constexpr int kChannels = 8;
const char* kLayer = "inception_3a/output";

// Small enough for a 2-core CI machine, long enough (a few tenths of a second per batch) that
// the interruption test can stop the process between batches.
std::vector<std::string> sweep_args(const std::string& out, const std::string& channels = "0-7",
                                    const std::string& layer = kLayer, const std::string& steps = "24") {
  std::vector<std::string> a = {"sweep",   "googlenet", "--layer", layer, "--channels", channels, "--size", "48",
                                "--steps", steps,       "--batch", "2",   "--device",   "cpu",    "-q",     "-o",
                                out};
  for (const auto& d : test::shared_model_dir()) a.push_back(d);
  return a;
}

std::string slurp(const fs::path& p) { return read_file(p.string()); }

TEST(SweepCommand, WritesACompleteGallery) {
  TempDir tmp("sweep_gallery");
  const std::string out = tmp.file("g");
  const auto r = run_cli(sweep_args(out), tmp);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("index.html"), std::string::npos) << r.out;
  const auto m = SweepManifest::load(out);
  ASSERT_TRUE(m.has_value());
  ASSERT_EQ(int(m->channels.size()), kChannels);
  EXPECT_EQ(m->settings.layer, kLayer);
  EXPECT_EQ(m->settings.steps, 24);
  const std::string page = slurp(fs::path(out) / "index.html");
  for (int c = 0; c < kChannels; ++c) {
    const fs::path png = fs::path(out) / channel_file(kLayer, c);
    ASSERT_TRUE(fs::exists(png)) << png;
    const Image im = read_image(png.string());
    EXPECT_EQ(im.width, 48);
    EXPECT_NE(page.find(channel_file(kLayer, c)), std::string::npos) << c;
    EXPECT_TRUE(std::isfinite(m->channels.at(c).objective));
  }
  const Image sheet = read_image((fs::path(out) / "contact_sheet.png").string());
  EXPECT_EQ(sheet.width, 3 * (96 + 2) + 2);  // 8 channels: a 3 x 3 grid of 96 px cells
  for (const auto& e : fs::directory_iterator(out)) EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos);
}

TEST(SweepCommand, InterruptedSweepResumesToTheSameFiles) {
  TempDir tmp("sweep_resume");
  const std::string whole = tmp.file("whole"), cut = tmp.file("cut");
  ASSERT_EQ(run_cli(sweep_args(whole), tmp).code, 0);

  // Start the same sweep in the background and kill it (SIGKILL: no chance to clean up) once
  // the first batch is in the manifest. The sweep runs at the lowest priority so that on a
  // loaded machine (ctest -j) this watcher still sees the first batch before the last one.
  const std::string pid_file = tmp.file("pid");
  std::string cmd = "cd " + test::shell_quote(tmp.path().string()) + " && exec nice -n 19 " +
                    test::shell_quote(CUVIZ_BINARY);
  for (const auto& a : sweep_args(cut)) cmd += " " + test::shell_quote(a);
  cmd += " >/dev/null 2>&1 & echo $! > " + test::shell_quote(pid_file);
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  int pid = 0;
  for (int i = 0; i < 100 && pid == 0; ++i) {
    std::ifstream(pid_file) >> pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(pid, 0);
  int done_at_kill = -1;
  for (int i = 0; i < 12000; ++i) {  // up to 60 s
    std::optional<SweepManifest> m;
    try {
      m = SweepManifest::load(cut);
    } catch (const Error&) {
    }
    if (m && !m->channels.empty()) {
      done_at_kill = int(m->channels.size());
      ::kill(pid, SIGKILL);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_GT(done_at_kill, 0) << "the sweep never wrote its first batch";
  ASSERT_LT(done_at_kill, kChannels) << "the sweep finished before it could be interrupted";

  const auto again = run_cli(sweep_args(cut), tmp);
  ASSERT_EQ(again.code, 0) << again.err;
  const auto a = SweepManifest::load(whole), b = SweepManifest::load(cut);
  ASSERT_EQ(b->channels.size(), a->channels.size());
  for (int c = 0; c < kChannels; ++c) {
    EXPECT_EQ(slurp(fs::path(cut) / channel_file(kLayer, c)), slurp(fs::path(whole) / channel_file(kLayer, c)))
        << "channel " << c << " differs from the uninterrupted run";
    EXPECT_EQ(b->channels.at(c).objective, a->channels.at(c).objective) << c;
  }
  for (const auto& e : fs::recursive_directory_iterator(cut))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << "leftover " << e.path();
}

TEST(SweepCommand, OtherSettingsAreRefusedUnlessOverwrite) {
  TempDir tmp("sweep_mismatch");
  const std::string out = tmp.file("g");
  ASSERT_EQ(run_cli(sweep_args(out, "0-1"), tmp).code, 0);
  const std::string before = slurp(fs::path(out) / "manifest.json");
  auto args = sweep_args(out, "0-1", kLayer, "25");
  const auto r = run_cli(args, tmp);
  EXPECT_TRUE(test::failed_with_one_line(r, "other settings"));
  EXPECT_NE(r.err.find("steps: 25 vs 24"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(fs::path(out) / "manifest.json"), before) << "a refused run must not touch the manifest";
  args.push_back("--overwrite");
  const auto ok = run_cli(args, tmp);
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(SweepManifest::load(out)->settings.steps, 25);
}

// A manifest as the code before the ReLU override wrote it (no "relu_override" key: its sweeps
// ran without the override) still resumes with --relu-override 0, keeping its channels, and a
// rerun with today's default (16) is refused as other settings instead of mixing images made two
// ways in one gallery.
TEST(SweepCommand, ManifestWrittenBeforeTheReluOverrideStillResumes) {
  TempDir tmp("sweep_old_manifest");
  const std::string out = tmp.file("g");
  auto args = [&](const std::string& channels, bool override_off) {
    auto a = sweep_args(out, channels, kLayer, "8");
    if (override_off) a.insert(a.end(), {"--relu-override", "0"});
    return a;
  };
  ASSERT_EQ(run_cli(args("0-1", true), tmp).code, 0);
  const std::string model_file = SweepManifest::load(out)->settings.model_file;
  // The old writer's text, key for key; objectives 12.5 and 13.5 mark channels as the old run's.
  write_file_atomic(out + "/manifest.json",
                    cat(R"j({"channels": [{"channel": 0, "file": ")j", channel_file(kLayer, 0),
                        R"j(", "objective": 12.5}, {"channel": 1, "file": ")j", channel_file(kLayer, 1),
                        R"j(", "objective": 13.5}], "device": "cpu (2 threads)", "format": "cuviz-sweep-1",
  "render_seconds": 1.5, "settings": {"layer": ")j",
                        kLayer, R"j(", "lr": 0.05, "model": "googlenet", "model_file": ")j", model_file,
                        R"j(", "objective": "channel", "param": "fourier", "precision": "fp32", "seed": 0,
  "size": 48, "steps": 8, "transforms": "standard"}, "total_channels": 2})j"));
  const std::string png0 = slurp(fs::path(out) / channel_file(kLayer, 0));

  EXPECT_TRUE(test::failed_with_one_line(run_cli(args("0-3", false), tmp), "relu_override: 16 vs 0"));
  const auto r = run_cli(args("0-3", true), tmp);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto m = SweepManifest::load(out);
  ASSERT_TRUE(m.has_value());
  ASSERT_EQ(m->channels.size(), 4u);
  EXPECT_EQ(m->channels.at(0).objective, 12.5) << "channel 0 was rendered again instead of resumed";
  EXPECT_EQ(m->channels.at(1).objective, 13.5) << "channel 1 was rendered again instead of resumed";
  EXPECT_EQ(slurp(fs::path(out) / channel_file(kLayer, 0)), png0);
  for (int c : {2, 3}) EXPECT_TRUE(fs::exists(fs::path(out) / channel_file(kLayer, c))) << c;
  EXPECT_EQ(m->settings.relu_override, 0);
  EXPECT_NE(slurp(fs::path(out) / "manifest.json").find("\"relu_override\": 0"), std::string::npos)
      << "the resumed manifest records the override it was rendered with";
}

// An unknown layer or a channel the layer lacks is a failure at run time (exit 1: it depends on
// the model); a channel list that does not parse is a usage error (exit 2). Nothing is written.
TEST(SweepCommand, BadArgumentsAreOneErrorLine) {
  TempDir tmp("sweep_bad");
  EXPECT_TRUE(test::failed_with_one_line(run_cli(sweep_args(tmp.file("a"), "0-7", "inception_9z/output"), tmp),
                                         "inception_9z/output"));
  EXPECT_TRUE(test::failed_with_one_line(run_cli(sweep_args(tmp.file("b"), "250-300"), tmp),
                                         "out of range"));
  EXPECT_TRUE(test::usage_error(run_cli(sweep_args(tmp.file("c"), "3-1"), tmp), "backwards"));
  EXPECT_FALSE(fs::exists(tmp.file("a") + "/manifest.json"));
  EXPECT_FALSE(fs::exists(tmp.file("b") + "/manifest.json"));
}

// --precision bf16 renders (on the CPU, the emulated tensor-core numerics) and is recorded in the
// manifest; an unknown precision, or a reduced one with the FP32-only cuDNN backend, is a usage
// error (one line naming the choices, exit 2), before anything is written.
TEST(SweepCommand, PrecisionBf16IsAcceptedAndFp16Refused) {
  TempDir tmp("sweep_precision");
  auto args = sweep_args(tmp.file("bf16"), "0-1", kLayer, "4");
  args.insert(args.end(), {"--precision", "bf16"});
  const auto ok = run_cli(args, tmp);
  ASSERT_EQ(ok.code, 0) << ok.err;
  const auto m = SweepManifest::load(tmp.file("bf16"));
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->settings.precision, "bf16");
  EXPECT_EQ(m->channels.size(), 2u);

  auto bad = sweep_args(tmp.file("fp16"), "0-1", kLayer, "4");
  bad.insert(bad.end(), {"--precision", "fp16"});
  const auto r = run_cli(bad, tmp);
  EXPECT_TRUE(test::usage_error(r, "unknown precision 'fp16' (choices: fp32, tf32, bf16)")) << r.err;
  EXPECT_FALSE(fs::exists(tmp.file("fp16") + "/manifest.json"));

  auto cudnn = sweep_args(tmp.file("cudnn"), "0-1", kLayer, "4");
  cudnn.insert(cudnn.end(), {"--precision", "tf32", "--backend", "cudnn"});
  EXPECT_TRUE(test::usage_error(run_cli(cudnn, tmp), "FP32 only"));
  EXPECT_FALSE(fs::exists(tmp.file("cudnn") + "/manifest.json"));
}

// Channels 0 and 2 of inception_4a/output are zero on the grey initial image, so their ReLU
// passes no gradient and plain ascent never leaves grey (PyTorch's pipeline gives 0.0 too). The
// sweep's default ReLU gradient override (Lucid's, 16 steps) revives them.
TEST(SweepCommand, DefaultReluOverrideRevivesChannelsDeadOnGrey) {
  TempDir tmp("sweep_dead");
  auto objectives = [&](const std::string& out, std::vector<std::string> extra) {
    auto args = sweep_args(out, "0,2", "inception_4a/output");
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_cli(args, tmp);
    EXPECT_EQ(r.code, 0) << r.err;
    std::vector<double> v;
    if (auto m = SweepManifest::load(out))
      for (const auto& [c, res] : m->channels) v.push_back(res.objective);
    return v;
  };
  const auto plain = objectives(tmp.file("plain"), {"--relu-override", "0"});
  const auto revived = objectives(tmp.file("revived"), {});
  ASSERT_EQ(plain.size(), 2u);
  ASSERT_EQ(revived.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(plain[size_t(i)], 0.0) << "channel " << 2 * i << " is not dead on grey any more";
    EXPECT_GT(revived[size_t(i)], 10.0) << "channel " << 2 * i << " stayed grey";
  }
}

// Finds Debian's chromium (installed by scripts/install-deps.sh).
std::string chromium_binary() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (fs::exists(p)) return p;
  return "";
}

TEST(SweepCommand, GalleryRendersInHeadlessChromium) {
  const std::string chromium = chromium_binary();
  ASSERT_FALSE(chromium.empty()) << "chromium not found: run scripts/install-deps.sh";
  TempDir tmp("sweep_chromium");
  const std::string out = tmp.file("g");
  ASSERT_EQ(run_cli(sweep_args(out, "0-5"), tmp).code, 0);
  // --dump-dom prints the DOM after the load event (images included); console messages go to
  // stderr with --enable-logging=stderr.
  const std::string dom = tmp.file("dom.html"), log = tmp.file("chromium.log");
  const std::string cmd = test::shell_quote(chromium) +
                          " --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir=" +
                          test::shell_quote(tmp.file("profile")) +
                          " --enable-logging=stderr --v=0 --virtual-time-budget=5000 --dump-dom " +
                          test::shell_quote("file://" + out + "/index.html") + " >" + test::shell_quote(dom) +
                          " 2>" + test::shell_quote(log);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(log);
  const std::string page = slurp(dom), console = slurp(log);
  const std::regex img("<figure><img alt=\"channel [0-9]+\" src=\"channels/[a-z0-9_]+\\.png\"");
  const auto n = std::distance(std::sregex_iterator(page.begin(), page.end(), img), std::sregex_iterator());
  EXPECT_EQ(n, 6) << page.substr(0, 2000);
  EXPECT_EQ(page.find("data-broken"), std::string::npos) << "an image failed to load";
  EXPECT_EQ(console.find("CONSOLE"), std::string::npos) << console;
  EXPECT_EQ(console.find("Uncaught"), std::string::npos) << console;
}

}  // namespace
}  // namespace cuviz
