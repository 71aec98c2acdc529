// Per-op timing for `--profile N` (apps/profile.h, docs/profiling.md) and the NVTX ranges of the
// render loop, in one scope-bound object:
//
//   { CUVIZ_PROFILE_RANGE(ProfileStage::network, ProfilePhase::forward, l.name); op(...); }
//
// pushes the NVTX range "fwd <name>" (or "bwd <name>") in the domain "cuviz" with the stage as its
// category, and, only while an OpProfiler is installed (ProfilerScope), adds the op's time to the
// profiler's row for (name, phase): steady-clock time on the CPU, the time between two CUDA events
// recorded on the current stream on a GPU (read after the profiled steps synchronise). With no
// profiler installed the timing part is one load of a thread-local pointer and a branch: the
// normal run pays nothing else. Rows are leaves: a range opened inside a timed range is not timed
// (its time is already its parent's), so the rows of one step never count a microsecond twice.
// Containers (the step, the network's forward and backward) are NVTX ranges only
// (ProfilePhase::none): they group the leaves on the timeline and hold no time of their own.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cuviz {

// The NVTX category of a range (named in the "cuviz" domain) and the stage a profile row belongs to.
enum class ProfileStage : uint32_t {
  other = 0,         // no category (NvtxRange's plain ranges: bench, attribution)
  step = 1,          // a whole render step (container)
  parameterization,  // P -> image (Fourier / pixel / input) and its adjoint
  transforms,        // jitter, scale, rotate, roll, crop, preprocessing, and their adjoints
  network,           // the layers (forward, backward) and the network's input/output copies
  objective,         // objective values and seeds, image terms' gradients
  optimizer,         // the update: Adam / SGD / L-BFGS bookkeeping, step ops, hooks
};
const char* profile_stage_name(ProfileStage s);

enum class ProfilePhase { none, forward, backward };

// One row of a profile: a layer or a stage, its summed time per phase and how often it ran.
struct ProfileRow {
  std::string name;      // layer name, or the stage's range name ("param", "update", ...)
  ProfileStage stage = ProfileStage::network;
  double forward_ms = 0, backward_ms = 0;  // summed over every call
  int64_t forward_calls = 0, backward_calls = 0;
};

// Collects the rows. Install one with ProfilerScope around the steps to measure, call finish()
// once the device is synchronised (a GPU profiler resolves its events there), then read rows().
class OpProfiler {
 public:
  // gpu: time with CUDA events on the current stream (exec_context().stream); else steady clock.
  explicit OpProfiler(bool gpu);
  ~OpProfiler();
  OpProfiler(const OpProfiler&) = delete;
  OpProfiler& operator=(const OpProfiler&) = delete;

  // Resolves pending GPU events into the rows (waits for them). Idempotent.
  void finish();
  // Clears every row and pending event (after warm-up steps, for instance).
  void reset();
  const std::vector<ProfileRow>& rows() const { return rows_; }
  bool gpu() const { return gpu_; }

  // Used by ProfileRange.
  struct Token {
    int row = -1;                 // -1: not timed (a container, or nested in a timed range)
    ProfilePhase phase = ProfilePhase::none;
    bool counted = false;         // a leaf: counts in the nesting depth
    std::chrono::steady_clock::time_point t0{};
    void* event0 = nullptr;
  };
  Token begin(ProfileStage stage, ProfilePhase phase, std::string_view name);
  void end(const Token& t);

 private:
  int row_of(ProfileStage stage, std::string_view name);
  void add(int row, ProfilePhase phase, double ms);
  void* new_event();

  bool gpu_;
  int depth_ = 0;  // open timed ranges: nested ones are not timed
  std::vector<ProfileRow> rows_;
  struct Pending {
    int row;
    ProfilePhase phase;
    void *e0, *e1;
  };
  std::vector<Pending> pending_;
  std::vector<void*> free_events_;
};

// The profiler of the calling thread (null: none installed; the normal case).
OpProfiler* active_profiler();

// Installs `p` for the calling thread until the scope ends, then restores the previous one.
class ProfilerScope {
 public:
  explicit ProfilerScope(OpProfiler* p);
  ~ProfilerScope();
  ProfilerScope(const ProfilerScope&) = delete;
  ProfilerScope& operator=(const ProfilerScope&) = delete;

 private:
  OpProfiler* previous_;
};

// The NVTX range of an op or a stage, and its profile row when a profiler is installed.
class ProfileRange {
 public:
  ProfileRange(ProfileStage stage, ProfilePhase phase, std::string_view name);
  ~ProfileRange();
  ProfileRange(const ProfileRange&) = delete;
  ProfileRange& operator=(const ProfileRange&) = delete;

 private:
  OpProfiler* profiler_;
  OpProfiler::Token token_;
};

// The message of an NVTX range: "fwd inception_4a.3x3", "bwd inception_4a.3x3", or the name
// itself for a container. Every '/' of a layer name becomes '.': Nsight Compute's --nvtx-include
// reads '/' as the separator of nested push/pop ranges, so "fwd inception_4a/3x3" could never be
// selected as one range (docs/profiling.md).
std::string nvtx_message(ProfilePhase phase, std::string_view name);

// Pushes / pops a range in the "cuviz" NVTX domain (category = stage); no-ops without CUDA.
void nvtx_push(ProfileStage stage, ProfilePhase phase, std::string_view name);
void nvtx_pop();

}  // namespace cuviz

#define CUVIZ_PROFILE_CAT2(a, b) a##b
#define CUVIZ_PROFILE_CAT(a, b) CUVIZ_PROFILE_CAT2(a, b)
// Marks the rest of the enclosing scope: CUVIZ_PROFILE_RANGE(ProfileStage::objective, ProfilePhase::forward, "objective");
#define CUVIZ_PROFILE_RANGE(stage, phase, name) \
  ::cuviz::ProfileRange CUVIZ_PROFILE_CAT(cuviz_profile_range_, __LINE__)(stage, phase, name)
