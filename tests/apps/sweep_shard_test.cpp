// `cuviz sweep --shard i/N` + `cuviz gallery merge DIR` on real GoogLeNet at a tiny size (the
// acceptance of issue 19): 12 channels of inception_4a/output rendered by 3 shard processes at
// once, merged, equal a single-process sweep PNG by PNG (and contact sheet, page and manifest);
// a shard killed with SIGKILL mid-run, rerun, merges to the same files with nothing lost and
// nothing listed twice; a missing shard makes the merge exit 1 naming it; Slurm's environment
// picks the shard.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "apps/run_cli.h"
#include "io/atomic_file.h"
#include "test_util.h"
#include "apps/sweep_devices.h"
#include "viz/sweep_shard.h"

namespace cuviz {
namespace {

namespace fs = std::filesystem;
using test::run_cli;
using test::shell_quote;
using test::TempDir;

const char* kLayer = "inception_4a/output";
constexpr int kChannels = 12;

// 12 channels in batches of 4 (3 batches): 3 shards take one each, 2 shards take 1 and 2.
std::vector<std::string> sweep_args(const std::string& out, const std::string& shard = "") {
  std::vector<std::string> a = {"sweep", "googlenet", "--layer", kLayer, "--channels", "0-11", "--size",  "48",
                                "--steps", "24",      "--batch", "4",    "--device",   "cpu",  "-q",      "-o",
                                out};
  if (!shard.empty()) a.insert(a.end(), {"--shard", shard});
  for (const auto& d : test::shared_model_dir()) a.push_back(d);
  return a;
}

// The command line of `cuviz args...` run from `dir` at the lowest priority, one thread.
std::string shell_command(const std::vector<std::string>& args, const TempDir& dir) {
  std::string cmd = "cd " + shell_quote(dir.path().string()) + " && OMP_NUM_THREADS=1 CUVIZ_MODEL_PATH= exec nice -n 19 " +
                    shell_quote(CUVIZ_BINARY);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  return cmd;
}

// Runs the shards as concurrent processes; true when every one exits 0.
bool run_shards_at_once(const std::string& out, int n, const TempDir& dir) {
  std::string cmd;
  for (int i = 0; i < n; ++i)
    cmd += "(" + shell_command(sweep_args(out, cat(i, "/", n)), dir) + ") >/dev/null 2>>" +
           shell_quote(dir.file("shards.err")) + " & p" + std::to_string(i) + "=$!; ";
  cmd += "fail=0";
  for (int i = 0; i < n; ++i) cmd += "; wait $p" + std::to_string(i) + " || fail=1";
  cmd += "; exit $fail";
  const int status = std::system(("sh -c " + shell_quote(cmd)).c_str());
  return status == 0;
}

// Every process the tests start renders with one thread, as the reference does: the manifest and
// the page record the device ("cpu (1 thread)"), so a shard run with the runner's default thread
// count would differ in those bytes whatever the PNGs.
const int kOneThreadForChildren = (::setenv("OMP_NUM_THREADS", "1", 1), 0);

// The single-process sweep every test compares with, rendered once per test program (and
// removed at its end).
struct Reference {
  fs::path root = fs::temp_directory_path() / cat("cuviz_shard_reference_", ::getpid());
  Reference() {
    fs::remove_all(root);
    fs::create_directories(root);
    std::string cmd = "cd " + shell_quote(root.string()) + " && OMP_NUM_THREADS=1 CUVIZ_MODEL_PATH= " + shell_quote(CUVIZ_BINARY);
    for (const auto& a : sweep_args((root / "one").string())) cmd += " " + shell_quote(a);
    EXPECT_EQ(std::system((cmd + " >/dev/null 2>&1").c_str()), 0) << cmd;
  }
  ~Reference() { fs::remove_all(root); }
};
fs::path reference() {
  static const Reference r;
  return r.root / "one";
}

std::string slurp(const fs::path& p) { return read_file(p.string()); }

// The merged gallery equals the single-process one: every PNG, the contact sheet, the page, and
// the manifest but for the time spent.
void expect_equal_to_reference(const std::string& out) {
  const auto a = SweepManifest::load(reference().string()), b = SweepManifest::load(out);
  ASSERT_TRUE(a && b);
  ASSERT_EQ(int(a->channels.size()), kChannels);
  ASSERT_EQ(b->channels.size(), a->channels.size());
  EXPECT_EQ(b->total_channels, kChannels);
  for (const auto& [c, r] : a->channels) {
    EXPECT_EQ(slurp(fs::path(out) / r.file), slurp(reference() / r.file)) << "channel " << c << " differs";
    EXPECT_EQ(b->channels.at(c).objective, r.objective) << "channel " << c;
  }
  EXPECT_EQ(slurp(fs::path(out) / "contact_sheet.png"), slurp(reference() / "contact_sheet.png"));
  EXPECT_EQ(slurp(fs::path(out) / "index.html"), slurp(reference() / "index.html"));
  nlohmann::json ja = a->to_json(), jb = b->to_json();
  ja.erase("render_seconds");
  jb.erase("render_seconds");
  EXPECT_EQ(jb.dump(), ja.dump());
  for (const auto& e : fs::recursive_directory_iterator(out))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << "leftover " << e.path();
}

TEST(SweepShardCommand, ThreeShardsAtOnceMergeToTheSingleProcessSweep) {
  TempDir tmp("shard3");
  const std::string out = tmp.file("g");
  ASSERT_TRUE(run_shards_at_once(out, 3, tmp)) << test::read_text(tmp.file("shards.err"));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(fs::exists(fs::path(out) / shard_manifest_file({i, 3}))) << i;
  EXPECT_FALSE(fs::exists(fs::path(out) / "index.html")) << "shards leave the gallery to the merge";
  const auto merged = run_cli({"gallery", "merge", out}, tmp);
  ASSERT_EQ(merged.code, 0) << merged.err;
  EXPECT_NE(merged.err.find("12 channels of inception_4a/output from 3 shard manifests"), std::string::npos) << merged.err;
  EXPECT_NE(merged.out.find("index.html"), std::string::npos) << merged.out;
  expect_equal_to_reference(out);
  // Idempotent: merging again changes nothing.
  const std::string manifest = slurp(fs::path(out) / "manifest.json"), page = slurp(fs::path(out) / "index.html");
  ASSERT_EQ(run_cli({"gallery", "merge", out}, tmp).code, 0);
  EXPECT_EQ(slurp(fs::path(out) / "manifest.json"), manifest);
  EXPECT_EQ(slurp(fs::path(out) / "index.html"), page);
}

TEST(SweepShardCommand, KilledShardRerunLosesAndDuplicatesNothing) {
  TempDir tmp("shard_kill");
  const std::string out = tmp.file("g");
  // Shard 1/2 (batches 1 and 2: channels 4-11) in the background, killed with SIGKILL once its
  // manifest lists its first batch.
  const std::string pid_file = tmp.file("pid");
  const std::string cmd = shell_command(sweep_args(out, "1/2"), tmp) + " >/dev/null 2>&1 & echo $! > " + shell_quote(pid_file);
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  int pid = 0;
  for (int i = 0; i < 200 && pid == 0; ++i) {
    std::ifstream(pid_file) >> pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(pid, 0);
  int done_at_kill = -1;
  for (int i = 0; i < 12000 && done_at_kill < 0; ++i) {  // up to 60 s
    try {
      for (const ShardManifest& m : load_shard_manifests(out))
        if (!m.sweep.channels.empty()) {
          done_at_kill = int(m.sweep.channels.size());
          ::kill(pid, SIGKILL);
        }
    } catch (const Error&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(done_at_kill, 4) << "the shard should have been killed after its first batch of 4";

  // Merging now: the gallery of what is there, exit 1 naming the missing channels and shards.
  const auto partial = run_cli({"gallery", "merge", out}, tmp);
  EXPECT_TRUE(test::failed_with_one_line(partial, "8 of 12 channels missing"));
  EXPECT_NE(partial.err.find("shard 0/2: 0-3"), std::string::npos) << partial.err;
  EXPECT_NE(partial.err.find("shard 1/2: 8-11"), std::string::npos) << partial.err;
  EXPECT_EQ(SweepManifest::load(out)->channels.size(), 4u);

  // Shard 0 and the rerun of shard 1 (which resumes: renders batch 2 only), then the merge.
  const auto s0 = run_cli(sweep_args(out, "0/2"), tmp);
  ASSERT_EQ(s0.code, 0) << s0.err;
  const auto s1 = run_cli(sweep_args(out, "1/2"), tmp);
  ASSERT_EQ(s1.code, 0) << s1.err;
  const auto merged = run_cli({"gallery", "merge", out}, tmp);
  ASSERT_EQ(merged.code, 0) << merged.err;
  expect_equal_to_reference(out);
  // Nothing listed twice: the shard manifests' channel sets are disjoint and cover the 12.
  std::map<int, int> listed;
  for (const ShardManifest& m : load_shard_manifests(out))
    for (const auto& [c, r] : m.sweep.channels) ++listed[c];
  EXPECT_EQ(int(listed.size()), kChannels);
  for (const auto& [c, k] : listed) EXPECT_EQ(k, 1) << "channel " << c << " listed by " << k << " shards";
}

TEST(SweepShardCommand, SlurmArrayEnvironmentPicksTheShard) {
  TempDir tmp("shard_slurm");
  const std::string out = tmp.file("g");
  // --array=1-3: task 2 is shard 1 of 3 (channels 1 of 0-2, batch 1, a few steps).
  ::setenv("SLURM_ARRAY_TASK_ID", "2", 1);
  ::setenv("SLURM_ARRAY_TASK_MIN", "1", 1);
  ::setenv("SLURM_ARRAY_TASK_COUNT", "3", 1);
  std::vector<std::string> args = {"sweep", "googlenet", "--layer", kLayer, "--channels", "0-2", "--size", "48",
                                   "--steps", "2", "--batch", "1", "--device", "cpu", "-q", "-o", out};
  for (const auto& d : test::shared_model_dir()) args.push_back(d);
  const auto r = run_cli(args, tmp);
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  ::unsetenv("SLURM_ARRAY_TASK_MIN");
  ::unsetenv("SLURM_ARRAY_TASK_COUNT");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("shard 1/3 from the Slurm environment"), std::string::npos) << r.err;
  const auto shards = load_shard_manifests(out);
  ASSERT_EQ(shards.size(), 1u);
  EXPECT_EQ(shards[0].shard.label(), "1/3");
  ASSERT_EQ(shards[0].sweep.channels.size(), 1u);
  EXPECT_EQ(shards[0].sweep.channels.begin()->first, 1);
}

TEST(SweepShardCommand, DevicesListParses) {
  using app::parse_devices;
  std::string notice;
  auto w = parse_devices("all", 3, &notice);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[2].label(), "cuda:2");
  EXPECT_TRUE(notice.empty());
  w = parse_devices("2,0,cpu", 3);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].label(), "cuda:2");
  EXPECT_EQ(w[2].label(), "cpu");
  w = parse_devices("all", 0, &notice);  // no GPU: one CPU worker, said
  ASSERT_EQ(w.size(), 1u);
  EXPECT_FALSE(w[0].cuda);
  EXPECT_NE(notice.find("no usable CUDA device"), std::string::npos);
  w = parse_devices("0,1,cpu", 0, &notice);  // no GPU: the CPU workers only
  ASSERT_EQ(w.size(), 1u);
  EXPECT_FALSE(w[0].cuda);
  for (const char* bad : {"", "0,,1", "x", "all,0", "1,1", "-1", "0.5"}) EXPECT_THROW(parse_devices(bad, 2), Error) << bad;
  EXPECT_THROW(parse_devices("2", 2), Error);  // GPU 2 of 0-1
}

// --devices cpu,cpu: two worker processes claim the 3 batches dynamically; the gallery is the
// single-process one, and every channel is listed by exactly one worker.
TEST(SweepShardCommand, DevicesCpuWorkersEqualTheSingleProcessSweep) {
  TempDir tmp("shard_devices");
  const std::string out = tmp.file("g");
  auto args = sweep_args(out);
  args.insert(args.end(), {"--devices", "cpu,cpu"});
  std::string cmd = shell_command(args, tmp) + " >" + shell_quote(tmp.file("out")) + " 2>" + shell_quote(tmp.file("err"));
  ASSERT_EQ(std::system(cmd.c_str()), 0) << test::read_text(tmp.file("err"));
  EXPECT_NE(test::read_text(tmp.file("err")).find("2 workers (cpu, cpu)"), std::string::npos) << test::read_text(tmp.file("err"));
  EXPECT_NE(test::read_text(tmp.file("out")).find("index.html"), std::string::npos);
  expect_equal_to_reference(out);
  std::map<int, int> listed;
  const auto manifests = load_shard_manifests(out);
  ASSERT_EQ(manifests.size(), 2u);
  for (const ShardManifest& m : manifests) {
    EXPECT_TRUE(m.dynamic);
    for (const auto& [c, r] : m.sweep.channels) ++listed[c];
  }
  EXPECT_EQ(int(listed.size()), kChannels);
  for (const auto& [c, k] : listed) EXPECT_EQ(k, 1) << "channel " << c;
  for (const auto& e : fs::directory_iterator(fs::path(out) / "shards"))
    EXPECT_EQ(e.path().extension(), ".json") << "leftover " << e.path() << " (claims or a worker log)";
  // A rerun finds everything done: no worker renders, the files stay the same.
  const std::string manifest = slurp(fs::path(out) / "manifest.json");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << test::read_text(tmp.file("err"));
  EXPECT_EQ(slurp(fs::path(out) / "manifest.json"), manifest);
}

// Without a GPU, --devices all falls back to one CPU worker and says so.
TEST(SweepShardCommand, DevicesAllWithoutAGpuFallsBackToTheCpu) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is present: no fallback to check";
  TempDir tmp("shard_devices_all");
  std::vector<std::string> args = {"sweep", "googlenet", "--layer", kLayer, "--channels", "0-1", "--size", "48",
                                   "--steps", "2", "--devices", "all", "-q", "-o", tmp.file("g")};
  for (const auto& d : test::shared_model_dir()) args.push_back(d);
  const auto r = run_cli(args, tmp);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("--devices all: no usable CUDA device, one CPU worker"), std::string::npos) << r.err;
  EXPECT_EQ(SweepManifest::load(tmp.file("g"))->channels.size(), 2u);
}

// --layer a,b: 3 shard processes over two layers' batches, merged, equal the single-process
// multi-layer sweep file by file (each layer's PNGs, galleries and the index of layers).
TEST(SweepShardCommand, TwoLayersInThreeShardsEqualTheSingleProcessSweep) {
  TempDir tmp("shard_layers");
  auto args = [&](const std::string& out) {
    std::vector<std::string> a = {"sweep", "googlenet", "--layer", "inception_4a/output,inception_3a/output",
                                  "--channels", "0-5", "--size", "48", "--steps", "8", "--batch", "2",
                                  "--device", "cpu", "-q", "-o", out};
    for (const auto& d : test::shared_model_dir()) a.push_back(d);
    return a;
  };
  const auto one = run_cli(args(tmp.file("one")), tmp);
  ASSERT_EQ(one.code, 0) << one.err;
  for (int i = 0; i < 3; ++i) {
    auto a = args(tmp.file("three"));
    a.insert(a.end(), {"--shard", cat(i, "/3")});
    const auto r = run_cli(a, tmp);
    ASSERT_EQ(r.code, 0) << r.err;
  }
  const auto merged = run_cli({"gallery", "merge", tmp.file("three")}, tmp);
  ASSERT_EQ(merged.code, 0) << merged.err;
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(tmp.file("one"))) {
    const auto rel = fs::relative(e.path(), tmp.file("one"));
    if (!e.is_regular_file() || rel.filename() == "manifest.json") continue;
    EXPECT_EQ(slurp(fs::path(tmp.file("three")) / rel), slurp(e.path())) << rel;
    ++files;
  }
  EXPECT_EQ(files, 12 + 2 * 2 + 2) << "12 PNGs, 2 pages and contact sheets, layers.json and the index";
}

TEST(SweepShardCommand, BadArgumentsAreOneErrorLine) {
  TempDir tmp("shard_bad");
  EXPECT_TRUE(test::usage_error(run_cli(sweep_args(tmp.file("g"), "3/3"), tmp), "i must be 0-2"));
  EXPECT_TRUE(test::usage_error(run_cli(sweep_args(tmp.file("g"), "1"), tmp), "expected i/N"));
  auto devices = sweep_args(tmp.file("g"));
  devices.insert(devices.end(), {"--devices", "0,x"});
  EXPECT_TRUE(test::usage_error(run_cli(devices, tmp), "expected all, cpu or GPU numbers"));
  devices = sweep_args(tmp.file("g"), "0/2");
  devices.insert(devices.end(), {"--devices", "cpu"});
  EXPECT_TRUE(test::usage_error(run_cli(devices, tmp), "--devices and --shard do not go together"));
  EXPECT_TRUE(test::usage_error(run_cli({"gallery"}, tmp)));
  EXPECT_TRUE(test::usage_error(run_cli({"gallery", "merge"}, tmp)));
  EXPECT_TRUE(test::failed_with_one_line(run_cli({"gallery", "merge", tmp.path().string()}, tmp), "no shard manifests"));
  EXPECT_TRUE(test::failed_with_one_line(run_cli({"gallery", "merge", tmp.file("absent")}, tmp), "not a directory"));
}

}  // namespace
}  // namespace cuviz
