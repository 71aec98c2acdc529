// Stand-ins for core/cuda_runtime.cu when cuviz is built without CUDA (CUVIZ_CUDA=OFF or no nvcc).
#include "core/cuda_runtime.h"
#include "core/error.h"

namespace cuviz::cuda_rt {

namespace {
[[noreturn]] void unavailable() {
  throw Error("this cuviz was built without CUDA (configure with -DCUVIZ_CUDA=ON on a machine with nvcc)");
}
}  // namespace

int device_count() { return 0; }
void* malloc(size_t) { unavailable(); }
void free(void*) noexcept {}
void memcpy(void*, bool, const void*, bool, size_t) { unavailable(); }
void fill(float*, int64_t, float) { unavailable(); }
void synchronize() { unavailable(); }
void* stream_create() { unavailable(); }
void stream_destroy(void*) noexcept {}
void stream_synchronize(void*) { unavailable(); }
void memcpy_2d(void*, bool, size_t, const void*, bool, size_t, size_t, size_t) { unavailable(); }
void memcpy_to_device_async(void*, const void*, size_t) { unavailable(); }
void* host_alloc(size_t) { unavailable(); }
void host_free(void*) noexcept {}
void profiler_start() { unavailable(); }
void profiler_stop() { unavailable(); }
void* event_create() { unavailable(); }
void event_record(void*, void*) { unavailable(); }
double event_elapsed_ms(void*, void*) { unavailable(); }
void event_destroy(void*) noexcept {}
DevicePeaks device_peaks() { unavailable(); }
void memory_info(size_t&, size_t&) { unavailable(); }
const char* device_name() { unavailable(); }
void increment(int64_t*) { unavailable(); }

CudaGraph::~CudaGraph() = default;
CudaGraph& CudaGraph::operator=(CudaGraph&& o) noexcept {
  std::swap(graph_, o.graph_);
  std::swap(exec_, o.exec_);
  return *this;
}
void CudaGraph::begin_capture(void*) { unavailable(); }
std::string CudaGraph::end_capture(void*) { return "this cuviz was built without CUDA"; }
void CudaGraph::abandon_capture(void*) noexcept {}
void CudaGraph::launch(void*) { unavailable(); }
void CudaGraph::reset() noexcept {}

}  // namespace cuviz::cuda_rt
