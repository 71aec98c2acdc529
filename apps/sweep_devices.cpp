// --devices: parse the list, start one worker process per device, watch the directory for the
// progress bar, wait, and report a failed worker by its own error line.
#include "apps/sweep_devices.h"

#include <omp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <thread>

#include "apps/progress.h"
#include "io/atomic_file.h"
#include "viz/sweep_shard.h"

extern char** environ;

namespace cuviz::app {

namespace fs = std::filesystem;

std::string DeviceWorker::label() const { return cuda ? cat("cuda:", device) : std::string("cpu"); }

std::vector<DeviceWorker> parse_devices(const std::string& text, int gpu_count, std::string* notice) {
  std::vector<DeviceWorker> out;
  bool wants_gpu = false;
  std::set<int> seen;
  size_t pos = 0;
  while (true) {
    const size_t end = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, end - pos);
    if (item == "all") {
      CUVIZ_CHECK(text == "all", "--devices '", text, "': 'all' stands alone");
      wants_gpu = true;
      for (int d = 0; d < gpu_count; ++d) out.push_back({true, d});
    } else if (item == "cpu") {
      out.push_back({false, 0});
    } else {
      CUVIZ_CHECK(!item.empty() && item.size() <= 4 && std::all_of(item.begin(), item.end(), ::isdigit), "--devices '",
                  text, "': expected all, cpu or GPU numbers, e.g. 0,1,2");
      const int d = std::stoi(item);
      CUVIZ_CHECK(seen.insert(d).second, "--devices '", text, "': GPU ", d, " given twice");
      CUVIZ_CHECK(gpu_count == 0 || d < gpu_count, "--devices '", text, "': GPU ", d, " does not exist (", gpu_count,
                  " visible: 0-", gpu_count - 1, ")");
      wants_gpu = true;
      if (gpu_count > 0) out.push_back({true, d});
    }
    if (end == text.size()) break;
    pos = end + 1;
  }
  if (wants_gpu && gpu_count == 0) {
    const bool has_cpu = !out.empty();
    if (!has_cpu) out.push_back({false, 0});
    if (notice) *notice = cat("--devices ", text, ": no usable CUDA device, ", has_cpu ? "the CPU workers only" : "one CPU worker");
  }
  CUVIZ_CHECK(out.size() <= 256, "--devices '", text, "': at most 256 workers");
  return out;
}

std::vector<std::string> own_arguments() {
  const std::string raw = read_file("/proc/self/cmdline");
  std::vector<std::string> args;
  for (size_t pos = 0; pos < raw.size();) {
    const size_t end = raw.find('\0', pos);
    args.push_back(raw.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  if (!args.empty()) args.erase(args.begin());
  return args;
}

namespace {

// `args` without the options a worker gets its own value of (--devices, --device, -q).
std::vector<std::string> worker_base_arguments(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--devices" || a == "--device") {
      ++i;  // and its value
      continue;
    }
    if (a.rfind("--devices=", 0) == 0 || a.rfind("--device=", 0) == 0 || a == "-q" || a == "--quiet") continue;
    out.push_back(a);
  }
  return out;
}

struct Running {
  pid_t pid = -1;
  DeviceWorker worker;
  std::string log;
  int status = 0;
  bool done = false;
};

// The last line of a worker's log, without its "cuviz: error: ".
std::string last_error(const std::string& log) {
  std::string text;
  try {
    text = read_file(log);
  } catch (const Error&) {
    return "no log";
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::string line = text.substr(text.find_last_of('\n') == std::string::npos ? 0 : text.find_last_of('\n') + 1);
  const std::string prefix = "cuviz: error: ";
  if (line.rfind(prefix, 0) == 0) line = line.substr(prefix.size());
  return line.empty() ? "no message" : line;
}

}  // namespace

void run_device_workers(const std::vector<DeviceWorker>& workers, const std::vector<std::string>& args,
                        const SweepOptions& so, const std::vector<int>& channels, bool quiet) {
  const int n = int(workers.size());
  const fs::path shards = fs::path(so.dir) / "shards";
  fs::create_directories(shards);
  const fs::path claims = shards / cat("claims-", ::getpid());
  fs::remove_all(claims);
  fs::create_directories(claims);
  const int cpu_workers = int(std::count_if(workers.begin(), workers.end(), [](const DeviceWorker& w) { return !w.cuda; }));
  const int cpu_threads = std::max(1, omp_get_max_threads() / std::max(1, cpu_workers));
  const std::string exe = fs::read_symlink("/proc/self/exe").string();
  const std::vector<std::string> base = worker_base_arguments(args);

  std::vector<Running> running(size_t(n), Running{});
  for (int i = 0; i < n; ++i) {
    Running& r = running[size_t(i)];
    r.worker = workers[size_t(i)];
    r.log = (shards / cat("worker-", i, ".log")).string();
    std::vector<std::string> argv_s = {exe};
    argv_s.insert(argv_s.end(), base.begin(), base.end());
    argv_s.insert(argv_s.end(), {"--device", r.worker.cuda ? "cuda" : "cpu", "--worker", cat(i, "/", n), "--claims",
                                 claims.string(), "-q"});
    // The environment: ours, with the worker's device the only one it sees, or its CPU threads.
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e) {
      const std::string v = *e;
      if (v.rfind("CUDA_VISIBLE_DEVICES=", 0) == 0 || (!r.worker.cuda && v.rfind("OMP_NUM_THREADS=", 0) == 0)) continue;
      env_s.push_back(v);
    }
    if (r.worker.cuda) {
      // The index among the devices this process sees: map through our own CUDA_VISIBLE_DEVICES.
      std::string visible = std::to_string(r.worker.device);
      if (const char* ours = std::getenv("CUDA_VISIBLE_DEVICES"); ours && *ours) {
        std::vector<std::string> ids;
        for (size_t p = 0, e; p <= std::strlen(ours); p = e + 1) {
          e = std::min(std::string(ours).find(',', p), std::strlen(ours));
          ids.push_back(std::string(ours).substr(p, e - p));
        }
        if (size_t(r.worker.device) < ids.size()) visible = ids[size_t(r.worker.device)];
      }
      env_s.push_back("CUDA_VISIBLE_DEVICES=" + visible);
    } else {
      env_s.push_back(cat("OMP_NUM_THREADS=", cpu_threads));
    }
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, r.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int rc = posix_spawn(&r.pid, exe.c_str(), &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      for (auto& o : running)
        if (o.pid > 0) ::kill(o.pid, SIGTERM);
      throw Error(cat("sweep: cannot start worker ", i, " (", r.worker.label(), "): ", std::strerror(rc)));
    }
  }
  std::string devices;
  for (const auto& w : workers) devices += (devices.empty() ? "" : ", ") + w.label();
  std::fprintf(stderr, "sweep: %d worker%s (%s) claiming batches of %zu channels\n", n, n == 1 ? "" : "s",
               devices.c_str(), channels.size());

  // Wait, drawing the bar from what the manifests in the directory list.
  const std::set<int> wanted(channels.begin(), channels.end());
  auto count_done = [&] {
    std::set<int> done;
    try {
      for (const ShardManifest& m : load_shard_manifests(so.dir))
        for (const auto& [c, r] : m.sweep.channels)
          if (wanted.count(c)) done.insert(c);
    } catch (const Error&) {  // a manifest being replaced: count at the next look
    }
    return int(done.size());
  };
  ProgressBar bar(quiet);
  const auto start = std::chrono::steady_clock::now();
  const int done_before = count_done();
  int left = n;
  while (left > 0) {
    for (auto& r : running) {
      if (r.done) continue;
      const pid_t got = ::waitpid(r.pid, &r.status, WNOHANG);
      if (got == r.pid) {
        r.done = true;
        --left;
      }
    }
    const int done = count_done();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double rate = s > 0 ? (done - done_before) / s : 0;
    bar.update(wanted.empty() ? 1.0 : double(done) / double(wanted.size()),
               cat(done, "/", wanted.size(), " channels  ", n, " workers  ", std::round(rate * 100) / 100, " ch/s"),
               left == 0);
    if (left > 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  fs::remove_all(claims);
  std::string failures;
  for (size_t i = 0; i < running.size(); ++i) {
    const Running& r = running[i];
    if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) {
      fs::remove(r.log);
      continue;
    }
    failures += cat(failures.empty() ? "" : "; ", "worker ", i, " (", r.worker.label(), ") ",
                    WIFSIGNALED(r.status) ? cat("was killed by signal ", WTERMSIG(r.status))
                                          : cat("failed: ", last_error(r.log)));
  }
  CUVIZ_CHECK(failures.empty(), "sweep --devices: ", failures, " (its log: ", shards.string(),
              "/worker-<i>.log); the others' channels are kept: rerun the same command to resume");
}

}  // namespace cuviz::app
