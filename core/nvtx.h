// NVTX ranges for Nsight Systems / Nsight Compute: `NvtxRange r("attribution");` marks the
// enclosing scope on the profiler's timeline, in the "cuviz" domain without a category (the render
// loop's stages and layers use ProfileRange, core/profiler.h, which also names their category and
// phase). Every '/' of a name shows as '.' (see nvtx_message). A no-op when cuviz is built without
// CUDA. See docs/profiling.md.
#pragma once

#include <string>

#include "core/profiler.h"

namespace cuviz {

// Pushes a named range on construction and pops it on destruction (same thread).
class NvtxRange {
 public:
  explicit NvtxRange(const char* name) { nvtx_push(ProfileStage::other, ProfilePhase::none, name); }
  explicit NvtxRange(const std::string& name) : NvtxRange(name.c_str()) {}
  ~NvtxRange() { nvtx_pop(); }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace cuviz

#define CUVIZ_NVTX_CAT2(a, b) a##b
#define CUVIZ_NVTX_CAT(a, b) CUVIZ_NVTX_CAT2(a, b)
// Marks the rest of the enclosing scope: CUVIZ_NVTX_RANGE("attribution");
#define CUVIZ_NVTX_RANGE(name) ::cuviz::NvtxRange CUVIZ_NVTX_CAT(cuviz_nvtx_range_, __LINE__)(name)
