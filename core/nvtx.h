// NVTX ranges for Nsight Systems / Nsight Compute: `NvtxRange r("conv1/7x7_s2");` marks the
// enclosing scope on the profiler's timeline. Header-only (NVTX v3), usable from CPU code; a
// no-op when cuviz is built without CUDA. See docs/profiling.md.
#pragma once

#include <string>

#if CUVIZ_HAS_CUDA
#include <nvtx3/nvToolsExt.h>
#endif

namespace cuviz {

// Pushes a named range on construction and pops it on destruction (same thread).
class NvtxRange {
 public:
  explicit NvtxRange(const char* name) {
#if CUVIZ_HAS_CUDA
    nvtxRangePushA(name);
#else
    (void)name;
#endif
  }
  explicit NvtxRange(const std::string& name) : NvtxRange(name.c_str()) {}
  ~NvtxRange() {
#if CUVIZ_HAS_CUDA
    nvtxRangePop();
#endif
  }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace cuviz

#define CUVIZ_NVTX_CAT2(a, b) a##b
#define CUVIZ_NVTX_CAT(a, b) CUVIZ_NVTX_CAT2(a, b)
// Marks the rest of the enclosing scope: CUVIZ_NVTX_RANGE("forward");
#define CUVIZ_NVTX_RANGE(name) ::cuviz::NvtxRange CUVIZ_NVTX_CAT(cuviz_nvtx_range_, __LINE__)(name)
