// Crash safety of long runs, through the real binary (issue 16): Ctrl-C and SIGTERM stop a
// sweep or a render cleanly (exit 130/143, one line saying how to resume, no temporary file,
// the resumed sweep byte-identical to an uninterrupted one); SIGKILL at 20 seeded random points
// spread over a sweep, each resumed to the same files; a full disk (RLIMIT_FSIZE, so write()
// fails with EFBIG) ends with one error line naming the file, exit 1, nothing corrupt, and a
// resume completes identically. Small sizes (a 32 px sweep of 8 channels of GoogLeNet's
// conv2/3x3_reduce) keep the whole file about a minute on a 2-core CI machine.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>
#include <onnx/onnx_pb.h>

#include "apps/run_cli.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "test_util.h"
#include "viz/gallery.h"

namespace cuviz {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using Clock = std::chrono::steady_clock;

const char* kLayer = "conv2/3x3_reduce";
constexpr int kChannels = 8;

std::vector<std::string> sweep_args(const std::string& out, const std::string& steps = "24") {
  std::vector<std::string> a = {"sweep",  "googlenet", "--layer", kLayer, "--channels", "0-7", "--size", "32",
                                "--steps", steps,      "--batch", "2",    "--device",   "cpu", "-q",     "-o",
                                out};
  for (const auto& d : test::shared_model_dir()) a.push_back(d);
  return a;
}

// A running `cuviz args...` in `dir` (stdout to /dev/null, stderr to dir/<err>), hermetic as
// run_cli. `fsize_limit` >= 0: RLIMIT_FSIZE of that many bytes, SIGXFSZ ignored, so a write
// beyond it fails with EFBIG as on a full disk. `nice`: the lowest priority (so that on a busy
// machine the test still sees the sweep between its batches).
struct Child {
  pid_t pid = -1;
  std::string err_file;

  Child(const std::vector<std::string>& args, const TempDir& dir, const std::string& err, long fsize_limit = -1,
        bool nice = false)
      : err_file(dir.file(err)) {
    // Everything the child needs is built before fork (no allocation between fork and exec).
    std::vector<std::string> all = {CUVIZ_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string home = "HOME=" + dir.path().string();
    std::vector<std::string> env_s = {home, "CUVIZ_MODEL_PATH=", "OMP_NUM_THREADS=1", "PATH=/usr/bin:/bin"};
    std::vector<char*> envp;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    const std::string cwd = dir.path().string();
    pid = ::fork();
    if (pid == 0) {
      if (::chdir(cwd.c_str()) != 0) ::_exit(126);
      const int out = ::open("/dev/null", O_WRONLY), e = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, 1);
      ::dup2(e, 2);
      if (nice) (void)::setpriority(PRIO_PROCESS, 0, 19);
      if (fsize_limit >= 0) {
        const rlimit rl{rlim_t(fsize_limit), rlim_t(fsize_limit)};
        ::setrlimit(RLIMIT_FSIZE, &rl);
        ::signal(SIGXFSZ, SIG_IGN);
      }
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
  }
  // Waits for the end (at most `limit`); the raw wait status.
  int wait(double limit_s = 120) {
    const auto t0 = Clock::now();
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::duration<double>(Clock::now() - t0).count() > limit_s) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        ADD_FAILURE() << "cuviz ran past " << limit_s << " s";
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return status;
  }
  std::string err() const { return test::read_text(err_file); }
};

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

// Every file under `dir` (relative path -> bytes); manifest.json as JSON without its timing.
std::map<std::string, std::string> folder(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string rel = fs::relative(e.path(), dir).string();
    std::string bytes = read_file(e.path().string());
    if (rel == "manifest.json") {
      auto j = nlohmann::json::parse(bytes);
      j.erase("render_seconds");
      bytes = j.dump(1);
    }
    files[rel] = bytes;
  }
  return files;
}

// The folder of an interrupted run is consistent: the manifest (when there is one) parses, each
// channel it lists has a readable PNG, and (unless the process was killed with SIGKILL, which
// leaves the temporary it was writing for the next run to remove) no temporary file is left.
void expect_consistent(const fs::path& dir, const std::string& when, bool killed = false) {
  if (!fs::exists(dir)) return;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (!killed) EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << when << ": leftover " << e.path();
  std::optional<SweepManifest> m;
  try {
    m = SweepManifest::load(dir.string());
  } catch (const Error& e) {
    ADD_FAILURE() << when << ": manifest unreadable: " << e.what();
    return;
  }
  if (!m) return;
  for (const auto& [c, r] : m->channels) {
    const Image im = read_image((dir / r.file).string());  // throws on a corrupt PNG
    EXPECT_EQ(im.width, 32) << when << ": channel " << c;
    EXPECT_TRUE(std::isfinite(r.objective)) << when << ": channel " << c;
  }
}

// The uninterrupted sweep every test compares with, made once per steps count.
const std::map<std::string, std::string>& reference(const std::string& steps, double* seconds = nullptr) {
  static std::map<std::string, std::map<std::string, std::string>> made;
  static std::map<std::string, double> took;
  if (!made.count(steps)) {
    const fs::path dir = fs::temp_directory_path() / ("cuviz_robust_reference_" + steps + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string out = (dir / "whole").string();
    std::vector<std::string> args = sweep_args(out, steps);
    const auto t0 = Clock::now();
    std::string cmd = "cd " + test::shell_quote(dir.string()) + " && CUVIZ_MODEL_PATH= OMP_NUM_THREADS=1 " +
                      test::shell_quote(CUVIZ_BINARY);
    for (const auto& a : args) cmd += " " + test::shell_quote(a);
    EXPECT_EQ(std::system((cmd + " >/dev/null 2>&1").c_str()), 0);
    took[steps] = std::chrono::duration<double>(Clock::now() - t0).count();
    made[steps] = folder(out);
    fs::remove_all(dir);
  }
  if (seconds) *seconds = took[steps];
  return made[steps];
}

void expect_same_folder(const fs::path& dir, const std::map<std::string, std::string>& want, const std::string& when) {
  const auto got = folder(dir);
  std::vector<std::string> got_names, want_names;
  for (const auto& [k, v] : got) got_names.push_back(k);
  for (const auto& [k, v] : want) want_names.push_back(k);
  ASSERT_EQ(got_names, want_names) << when << ": the files differ (lost, duplicated or left over)";
  for (const auto& [name, bytes] : want) EXPECT_TRUE(got.at(name) == bytes) << when << ": " << name << " differs";
}

// Waits until the sweep in `dir` has at least one channel in its manifest (or `child` ended).
bool wait_for_first_batch(Child& child, const std::string& dir) {
  for (int i = 0; i < 20000; ++i) {
    int status = 0;
    if (::waitpid(child.pid, &status, WNOHANG) != 0) return false;
    try {
      if (auto m = SweepManifest::load(dir); m && !m->channels.empty()) return true;
    } catch (const Error&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  return false;
}

// SIGINT, then SIGTERM, once the first batch is written: exit 130 / 143, one line naming the
// signal, what is done and the exact command to resume (without --overwrite); running that
// command completes the sweep byte-identical to an uninterrupted one.
TEST(Interrupt, SigintAndSigtermStopASweepThatResumesIdentically) {
  const auto& want = reference("24");
  for (const int sig : {SIGINT, SIGTERM}) {
    TempDir tmp(sig == SIGINT ? "robust_sigint" : "robust_sigterm");
    const std::string out = tmp.file("g");
    auto args = sweep_args(out);
    args.push_back("--overwrite");
    Child child(args, tmp, "err.txt", -1, true);
    ASSERT_TRUE(wait_for_first_batch(child, out)) << "the sweep ended before its first batch: " << child.err();
    ::kill(child.pid, sig);
    const int status = child.wait();
    ASSERT_TRUE(WIFEXITED(status)) << "killed by the signal instead of stopping: " << child.err();
    EXPECT_EQ(WEXITSTATUS(status), 128 + sig) << child.err();
    const std::string err = child.err();
    const std::string name = sig == SIGINT ? "SIGINT" : "SIGTERM";
    ASSERT_EQ(err.rfind("cuviz: interrupted by " + name + ": ", 0), 0u) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_NE(err.find(" of 8 channels are done in " + out), std::string::npos) << err;
    const size_t at = err.find("; resume with: ");
    ASSERT_NE(at, std::string::npos) << err;
    std::string resume = err.substr(at + 15);
    resume.pop_back();  // the newline
    EXPECT_EQ(resume.find("--overwrite"), std::string::npos) << "the resume command would start afresh: " << resume;
    EXPECT_EQ(resume.rfind(CUVIZ_BINARY, 0), 0u) << resume;
    expect_consistent(out, name);
    const auto m = SweepManifest::load(out);
    ASSERT_TRUE(m.has_value());
    EXPECT_LT(int(m->channels.size()), kChannels) << "the sweep finished instead of stopping";

    // The printed command, run by the shell as a user would paste it.
    // Same environment as the interrupted run (one thread: the manifest records the device's threads).
    const std::string cmd = "cd " + test::shell_quote(tmp.path().string()) + " && CUVIZ_MODEL_PATH= OMP_NUM_THREADS=1 " + resume +
                            " >/dev/null 2>" + test::shell_quote(tmp.file("err2.txt"));
    ASSERT_EQ(std::system(cmd.c_str()), 0) << test::read_text(tmp.file("err2.txt"));
    expect_same_folder(out, want, name + " then resumed");
  }
}

// A render stopped by SIGTERM inside its loop writes nothing: exit 143, one line, no file.
TEST(Interrupt, SigtermStopsARenderWithoutWritingAnything) {
  TempDir tmp("robust_render_term");
  std::vector<std::string> args = {"render", "googlenet", "--objective", "channel(conv2/3x3_reduce, 3)", "--size", "32",
                                   "--steps", "100000",   "--device",    "cpu",       "-o",     "r.png"};
  for (const auto& d : test::shared_model_dir()) args.push_back(d);
  Child child(args, tmp, "err.txt");
  // The loop has started once the progress line is out.
  for (int i = 0; i < 20000 && child.err().find('[') == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  ::kill(child.pid, SIGTERM);
  const int status = child.wait();
  ASSERT_TRUE(WIFEXITED(status)) << child.err();
  EXPECT_EQ(WEXITSTATUS(status), 143) << child.err();
  const std::string err = child.err();
  const size_t line = err.rfind("cuviz: interrupted by SIGTERM: stopped at step ");
  ASSERT_NE(line, std::string::npos) << err;
  EXPECT_NE(err.find("; its result was not written", line), std::string::npos) << err;
  for (const auto& e : fs::directory_iterator(tmp.path()))
    EXPECT_TRUE(e.path().filename() == "err.txt") << "left " << e.path();
}

// SIGKILL (no chance to clean up) at 20 seeded random times spread over an uninterrupted
// sweep's duration (one in each twentieth, so early kills before the first batch and late ones
// during the final writes are both covered); after each kill the folder is consistent, and the
// resumed sweep's files are the uninterrupted sweep's, byte for byte (the manifest without its
// render_seconds): nothing lost, nothing duplicated, no temporary file.
TEST(KillAndResume, TwentyRandomKillPointsResumeIdentically) {
  double whole_s = 0;
  const auto& want = reference("24", &whole_s);
  std::mt19937 rng(16);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  constexpr int kKills = 20;
  int partial = 0;
  for (int k = 0; k < kKills; ++k) {
    TempDir tmp("robust_kill_" + std::to_string(k));
    const std::string out = tmp.file("g");
    const double at = whole_s * (k + u(rng)) / kKills;
    Child child(sweep_args(out), tmp, "err.txt");
    std::this_thread::sleep_for(std::chrono::duration<double>(at));
    ::kill(child.pid, SIGKILL);
    child.wait();
    const std::string when = "killed at " + std::to_string(at) + " s";
    expect_consistent(out, when, true);
    try {
      if (auto m = SweepManifest::load(out); m && int(m->channels.size()) < kChannels) ++partial;
    } catch (const Error&) {
    }
    Child again(sweep_args(out), tmp, "err2.txt");
    ASSERT_EQ(exit_code(again.wait()), 0) << when << ": " << again.err();
    expect_same_folder(out, want, when + ", then resumed");
  }
  std::printf("%d of %d kills landed between two batches (whole sweep %.2f s)\n", partial, kKills, whole_s);
  // The kills must have caught sweeps in the middle, not only before the start or after the end.
  EXPECT_GE(partial, 3) << "too few kills landed between two batches";
}

// A full disk: RLIMIT_FSIZE at several sizes makes a different file the first to fail (a channel
// PNG, the page at a later batch, the contact sheet). Each run ends with exit 1 and one
// `cuviz: error:` line naming the file; the folder is consistent (no corrupt PNG or manifest, no
// temporary); a resume without the limit completes byte-identical.
TEST(FullDisk, FileSizeLimitEndsWithOneErrorAndTheResumeCompletes) {
  const auto& want = reference("24");
  std::set<std::string> failed_files;
  // At 32 px a channel PNG is about 3.2 kB, the final page 4.1 kB, the manifest 1.5 kB, the
  // contact sheet 37 kB.
  for (const long limit : {1000L, 3500L, 4000L, 20000L}) {
    TempDir tmp("robust_fsize_" + std::to_string(limit));
    const std::string out = tmp.file("g");
    Child child(sweep_args(out), tmp, "err.txt", limit);
    const int status = child.wait();
    const std::string when = "RLIMIT_FSIZE " + std::to_string(limit);
    const test::CliResult r{exit_code(status), "", child.err()};
    ASSERT_TRUE(test::failed_with_one_line(r, "File too large")) << when;
    // The file named is one of the sweep's.
    const size_t at = r.err.find(out + "/");
    ASSERT_NE(at, std::string::npos) << when << ": " << r.err;
    failed_files.insert(r.err.substr(at + out.size() + 1, r.err.find(' ', at) - at - out.size() - 1));
    expect_consistent(out, when);
    Child again(sweep_args(out), tmp, "err2.txt");
    ASSERT_EQ(exit_code(again.wait()), 0) << when << ": " << again.err();
    expect_same_folder(out, want, when + ", then resumed");
  }
  EXPECT_GE(failed_files.size(), 3u) << "the limits should make different files fail first";
  EXPECT_TRUE(failed_files.count("index.html") && failed_files.count("contact_sheet.png"));

  // render: the group write (PNG and JSON) fails as a whole; nothing is left.
  TempDir tmp("robust_fsize_render");
  std::vector<std::string> args = {"render", "googlenet", "--objective", "channel(conv2/3x3_reduce, 3)", "--size", "32",
                                   "--steps", "2",        "--device",    "cpu",       "-q",     "-o",     "r.png"};
  for (const auto& d : test::shared_model_dir()) args.push_back(d);
  Child child(args, tmp, "err.txt", 1000);
  const test::CliResult r{exit_code(child.wait()), "", child.err()};
  EXPECT_TRUE(test::failed_with_one_line(r, "r."));
  EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
  for (const auto& e : fs::directory_iterator(tmp.path()))
    EXPECT_TRUE(e.path().filename() == "err.txt") << "left " << e.path();
}

// conv1 (3 -> 4, 3x3) -> relu1 -> conv2 (4 -> 4, 3x3): every weight of conv1 `w1`, of conv2 `w2`.
// At 1e20 and 1e20, conv1's outputs stay finite (about 1e22 for inputs near 1) and conv2's
// overflow float (about 1e43).
std::string two_convs(float w1, float w2) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("two_convs");
  auto* in = g->add_input();
  in->set_name("x");
  in->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : {1, 3, 32, 32}) in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
  g->add_output()->set_name("y");
  auto weight = [&](const std::string& name, int64_t cin, float w) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : {int64_t(4), cin, int64_t(3), int64_t(3)}) t->add_dims(d);
    const std::vector<float> v(size_t(4 * cin * 9), w);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
  };
  weight("w1", 3, w1);
  weight("w2", 4, w2);
  auto node = [&](const std::string& op, const std::string& name, std::vector<std::string> ins, const std::string& out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (auto& i : ins) n->add_input(i);
    n->add_output(out);
  };
  node("Conv", "conv1", {"x", "w1"}, "a");
  node("Relu", "relu1", {"a"}, "b");
  node("Conv", "conv2", {"b", "w2"}, "y");
  return m.SerializeAsString();
}

// Activations that overflow: render and sweep stop at the first step with one error naming the
// first layer whose output is not finite (conv2, not relu1 before it nor anything after), exit 1,
// and write no image, .npy, sidecar or manifest entry. With weights of 1 the same commands work
// (the failure is the overflow, not the model).
TEST(NonFinite, OverflowingActivationsNameTheLayerAndWriteNothing) {
  TempDir tmp("robust_nonfinite");
  test::write_text(tmp.file("huge.onnx"), two_convs(1e20f, 1e20f));
  test::write_text(tmp.file("ones.onnx"), two_convs(1.f, 1.f));
  auto render = [&](const std::string& model, const std::string& out) {
    return test::run_cli({"render", model, "--objective", "channel(conv2, 0)", "--size", "32", "--steps", "4",
                          "--device", "cpu", "-q", "-o", out, "--npy", "r.npy"},
                         tmp);
  };
  const auto bad = render("huge.onnx", "r.png");
  EXPECT_TRUE(test::failed_with_one_line(bad, "the first layer whose output is not finite is conv2 (conv, value inf)"));
  EXPECT_NE(bad.err.find("the objective of image 0 is inf at step 1"), std::string::npos) << bad.err;
  for (const char* f : {"r.png", "r.npy", "r.json"}) EXPECT_FALSE(fs::exists(tmp.file(f))) << f;

  const auto sweep = test::run_cli({"sweep", "huge.onnx", "--layer", "conv2", "--size", "32", "--steps", "4",
                                    "--device", "cpu", "-q", "-o", "g"},
                                   tmp);
  EXPECT_TRUE(test::failed_with_one_line(sweep, "the first layer whose output is not finite is conv2"));
  EXPECT_FALSE(fs::exists(tmp.file("g/manifest.json")));
  EXPECT_TRUE(fs::is_empty(tmp.file("g/channels")));

  const auto good = render("ones.onnx", "ok.png");
  EXPECT_EQ(good.code, 0) << good.err;
  EXPECT_TRUE(fs::exists(tmp.file("ok.png")));
}

// A gradient that overflows while the forward and the objective stay finite: conv1's weights of
// 1e-30 make its outputs about 1e-29, conv2's of 3e38 bring them back to about 1e11, and the
// objective 1e10 * channel(conv2, 0) is about 1e21; but conv2's backward sends relu1 about
// 36 x 3e38 x 1e10 / 32^2, which overflows. The error names the gradient, and conv2 as the first
// layer, walking back, whose input gradient is not finite.
TEST(NonFinite, OverflowingGradientNamesTheLayerWalkingBack) {
  TempDir tmp("robust_nonfinite_grad");
  test::write_text(tmp.file("m.onnx"), two_convs(1e-30f, 3e38f));
  const auto r = test::run_cli({"render", "m.onnx", "--objective", "1e10 * channel(conv2, 0)", "--size", "32",
                                "--steps", "4", "--param", "pixel", "--transforms", "none", "--device", "cpu", "-q",
                                "-o", "r.png"},
                               tmp);
  EXPECT_TRUE(test::failed_with_one_line(
      r, "walking back, the first layer whose input gradient is not finite is conv2 (conv) (the gradient of relu1's output)"));
  EXPECT_NE(r.err.find("the gradient of image 0 is not finite at step 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("every layer's output is finite"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp.file("r.png")));
}

}  // namespace
}  // namespace cuviz
