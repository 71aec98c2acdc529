// OpProfiler, ProfileRange and the "cuviz" NVTX domain (core/profiler.h).
#include "core/profiler.h"

#include <cstdio>

#include "core/cuda_runtime.h"
#include "core/exec_context.h"

#if CUVIZ_HAS_CUDA
#include <nvtx3/nvToolsExt.h>
#endif

namespace cuviz {

const char* profile_stage_name(ProfileStage s) {
  switch (s) {
    case ProfileStage::other: return "other";
    case ProfileStage::step: return "step";
    case ProfileStage::parameterization: return "parameterization";
    case ProfileStage::transforms: return "transforms";
    case ProfileStage::network: return "network";
    case ProfileStage::objective: return "objective";
    case ProfileStage::optimizer: return "optimizer";
  }
  return "?";
}

namespace {
const char* phase_prefix(ProfilePhase phase) {
  return phase == ProfilePhase::forward ? "fwd " : phase == ProfilePhase::backward ? "bwd " : "";
}
}  // namespace

std::string nvtx_message(ProfilePhase phase, std::string_view name) {
  std::string m = std::string(phase_prefix(phase)).append(name);
  for (char& c : m)
    if (c == '/') c = '.';
  return m;
}

namespace {

thread_local OpProfiler* g_profiler = nullptr;

#if CUVIZ_HAS_CUDA
// One domain for everything cuviz marks, its categories named after the stages, so that nsys
// shows "cuviz" as the domain and groups ranges by stage.
nvtxDomainHandle_t nvtx_domain() {
  static const nvtxDomainHandle_t d = [] {
    const nvtxDomainHandle_t h = nvtxDomainCreateA("cuviz");
    for (uint32_t c = uint32_t(ProfileStage::step); c <= uint32_t(ProfileStage::optimizer); ++c)
      nvtxDomainNameCategoryA(h, c, profile_stage_name(ProfileStage(c)));
    return h;
  }();
  return d;
}

}  // namespace

void nvtx_push(ProfileStage stage, ProfilePhase phase, std::string_view name) {
  // The message on the stack: no allocation per range (names longer than the buffer are cut).
  char msg[256];
  const int n = std::snprintf(msg, sizeof msg, "%s%.*s", phase_prefix(phase), int(name.size()), name.data());
  for (int i = 0; i < n && i < int(sizeof msg); ++i)
    if (msg[i] == '/') msg[i] = '.';
  nvtxEventAttributes_t a{};
  a.version = NVTX_VERSION;
  a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
  a.category = uint32_t(stage);
  a.messageType = NVTX_MESSAGE_TYPE_ASCII;
  a.message.ascii = msg;
  nvtxDomainRangePushEx(nvtx_domain(), &a);
}
void nvtx_pop() { nvtxDomainRangePop(nvtx_domain()); }
#else
}  // namespace

void nvtx_push(ProfileStage, ProfilePhase, std::string_view) {}
void nvtx_pop() {}
#endif

OpProfiler* active_profiler() { return g_profiler; }

ProfilerScope::ProfilerScope(OpProfiler* p) : previous_(g_profiler) { g_profiler = p; }
ProfilerScope::~ProfilerScope() { g_profiler = previous_; }

OpProfiler::OpProfiler(bool gpu) : gpu_(gpu) {}

OpProfiler::~OpProfiler() {
  for (const Pending& p : pending_) {
    cuda_rt::event_destroy(p.e0);
    cuda_rt::event_destroy(p.e1);
  }
  for (void* e : free_events_) cuda_rt::event_destroy(e);
}

int OpProfiler::row_of(ProfileStage stage, std::string_view name) {
  // Linear search: a profile has a few hundred rows and runs only while profiling.
  for (size_t i = 0; i < rows_.size(); ++i)
    if (rows_[i].stage == stage && rows_[i].name == name) return int(i);
  rows_.push_back(ProfileRow{std::string(name), stage});
  return int(rows_.size()) - 1;
}

void OpProfiler::add(int row, ProfilePhase phase, double ms) {
  ProfileRow& r = rows_[size_t(row)];
  if (phase == ProfilePhase::backward) {
    r.backward_ms += ms;
    ++r.backward_calls;
  } else {
    r.forward_ms += ms;
    ++r.forward_calls;
  }
}

void* OpProfiler::new_event() {
  if (free_events_.empty()) return cuda_rt::event_create();
  void* e = free_events_.back();
  free_events_.pop_back();
  return e;
}

OpProfiler::Token OpProfiler::begin(ProfileStage stage, ProfilePhase phase, std::string_view name) {
  Token t;
  if (phase == ProfilePhase::none) return t;  // a container: NVTX only
  t.counted = true;
  if (depth_++ > 0) return t;  // inside a timed range: its time is the parent's
  t.row = row_of(stage, name);
  t.phase = phase;
  if (gpu_) {
    t.event0 = new_event();
    cuda_rt::event_record(t.event0, exec_context().stream);
  } else {
    t.t0 = std::chrono::steady_clock::now();
  }
  return t;
}

void OpProfiler::end(const Token& t) {
  if (!t.counted) return;
  --depth_;
  if (t.row < 0) return;
  if (gpu_) {
    void* e1 = new_event();
    cuda_rt::event_record(e1, exec_context().stream);
    pending_.push_back({t.row, t.phase, t.event0, e1});
  } else {
    add(t.row, t.phase, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t.t0).count());
  }
}

void OpProfiler::finish() {
  for (const Pending& p : pending_) {
    add(p.row, p.phase, cuda_rt::event_elapsed_ms(p.e0, p.e1));
    free_events_.push_back(p.e0);
    free_events_.push_back(p.e1);
  }
  pending_.clear();
}

void OpProfiler::reset() {
  finish();
  rows_.clear();
  depth_ = 0;
}

ProfileRange::ProfileRange(ProfileStage stage, ProfilePhase phase, std::string_view name) : profiler_(g_profiler) {
  nvtx_push(stage, phase, name);
  if (profiler_) token_ = profiler_->begin(stage, phase, name);
}

ProfileRange::~ProfileRange() {
  if (profiler_) profiler_->end(token_);
  nvtx_pop();
}

}  // namespace cuviz
