// CUDA runtime services for Buffer, copy and fill, streams, pinned memory and the profiler range
// (see core/cuda_runtime.h).
#include <cuda_profiler_api.h>

#include "core/cuda_check.cuh"
#include "core/cuda_context.cuh"
#include "core/cuda_runtime.h"

namespace cuviz::cuda_rt {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error so later calls start clean
    return 0;
  }
  return n;
}

void* malloc(size_t bytes) {
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, bytes);
  if (err != cudaSuccess)
    throw Error(cat("CUDA error: cudaMalloc of ", bytes, " bytes failed: ", cudaGetErrorString(err)));
  return p;
}

void free(void* p) noexcept { cudaFree(p); }

void memcpy(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t bytes) {
  const cudaMemcpyKind kind = dst_on_device ? (src_on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                            : (src_on_device ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  CUVIZ_CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
}

namespace {
__global__ void fill_kernel(float* p, int64_t n, float v) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    p[i] = v;
}
}  // namespace

void fill(float* p, int64_t n, float v) {
  if (n == 0) return;
  const int threads = 256;
  const int blocks = int(std::min<int64_t>((n + threads - 1) / threads, 4096));
  fill_kernel<<<blocks, threads, 0, cuviz::current_stream()>>>(p, n, v);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

void synchronize() { CUVIZ_CUDA_CHECK(cudaDeviceSynchronize()); }

void* stream_create() {
  cudaStream_t s = nullptr;
  CUVIZ_CUDA_CHECK(cudaStreamCreate(&s));
  return s;
}

void stream_destroy(void* stream) noexcept { cudaStreamDestroy(static_cast<cudaStream_t>(stream)); }

void stream_synchronize(void* stream) { CUVIZ_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream))); }

void memcpy_2d(void* dst, bool dst_on_device, size_t dst_pitch, const void* src, bool src_on_device,
               size_t src_pitch, size_t width, size_t rows) {
  const cudaMemcpyKind kind = dst_on_device ? (src_on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                            : (src_on_device ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  const cudaStream_t stream = cuviz::current_stream();
  CUVIZ_CUDA_CHECK(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, width, rows, kind, stream));
  if (!dst_on_device || !src_on_device) CUVIZ_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void memcpy_to_device_async(void* dst, const void* pinned_src, size_t bytes) {
  CUVIZ_CUDA_CHECK(cudaMemcpyAsync(dst, pinned_src, bytes, cudaMemcpyHostToDevice, cuviz::current_stream()));
}

void* host_alloc(size_t bytes) {
  void* p = nullptr;
  const cudaError_t err = cudaHostAlloc(&p, bytes, cudaHostAllocDefault);
  if (err != cudaSuccess)
    throw Error(cat("CUDA error: cudaHostAlloc of ", bytes, " pinned bytes failed: ", cudaGetErrorString(err)));
  return p;
}

void host_free(void* p) noexcept { cudaFreeHost(p); }

void profiler_start() { CUVIZ_CUDA_CHECK(cudaProfilerStart()); }
void profiler_stop() { CUVIZ_CUDA_CHECK(cudaProfilerStop()); }

void* event_create() {
  cudaEvent_t e = nullptr;
  CUVIZ_CUDA_CHECK(cudaEventCreate(&e));
  return e;
}

void event_record(void* event, void* stream) {
  CUVIZ_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), static_cast<cudaStream_t>(stream)));
}

double event_elapsed_ms(void* start, void* stop) {
  CUVIZ_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(stop)));
  float ms = 0;
  CUVIZ_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(stop)));
  return ms;
}

void event_destroy(void* event) noexcept {
  if (event) cudaEventDestroy(static_cast<cudaEvent_t>(event));
}

// FP32 lanes (CUDA cores) per SM by compute capability, from the CUDA C Programming Guide's
// "Arithmetic Instructions" table (32-bit floating-point add, multiply, multiply-add results per
// clock per SM): 64 on 6.0, 7.x and 8.0; 128 on 5.x, 6.1/6.2, 8.6-8.9, 9.0 and later.
static int fp32_lanes_per_sm(int major, int minor) {
  if (major == 7 || (major == 8 && minor == 0) || (major == 6 && minor == 0)) return 64;
  return 128;
}

DevicePeaks device_peaks() {
  int dev = 0;
  CUVIZ_CUDA_CHECK(cudaGetDevice(&dev));
  auto attr = [dev](cudaDeviceAttr a) {
    int v = 0;
    CUVIZ_CUDA_CHECK(cudaDeviceGetAttribute(&v, a, dev));
    return v;
  };
  DevicePeaks p;
  p.sms = attr(cudaDevAttrMultiProcessorCount);
  p.fp32_lanes_per_sm = fp32_lanes_per_sm(attr(cudaDevAttrComputeCapabilityMajor), attr(cudaDevAttrComputeCapabilityMinor));
  p.sm_clock_hz = 1e3 * attr(cudaDevAttrClockRate);          // kHz: the maximum (boost) clock
  p.mem_clock_hz = 1e3 * attr(cudaDevAttrMemoryClockRate);   // kHz
  p.bus_bits = attr(cudaDevAttrGlobalMemoryBusWidth);
  p.flops = 2.0 * p.sms * p.fp32_lanes_per_sm * p.sm_clock_hz;
  p.bytes_per_s = 2.0 * p.mem_clock_hz * p.bus_bits / 8.0;
  return p;
}

void memory_info(size_t& free_bytes, size_t& total_bytes) {
  CUVIZ_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
}

namespace {
__global__ void increment_kernel(int64_t* p) { *p += 1; }
}  // namespace

void increment(int64_t* p) {
  increment_kernel<<<1, 1, 0, cuviz::current_stream()>>>(p);
  CUVIZ_CUDA_LAUNCH_CHECK();
}

CudaGraph::~CudaGraph() { reset(); }

CudaGraph& CudaGraph::operator=(CudaGraph&& o) noexcept {
  std::swap(graph_, o.graph_);
  std::swap(exec_, o.exec_);
  return *this;  // o frees what this held
}

void CudaGraph::reset() noexcept {
  if (exec_) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));
  if (graph_) cudaGraphDestroy(static_cast<cudaGraph_t>(graph_));
  exec_ = graph_ = nullptr;
}

void CudaGraph::begin_capture(void* stream) {
  reset();
  CUVIZ_CUDA_CHECK(cudaStreamBeginCapture(static_cast<cudaStream_t>(stream), cudaStreamCaptureModeThreadLocal));
}

std::string CudaGraph::end_capture(void* stream) {
  cudaGraph_t g = nullptr;
  cudaError_t err = cudaStreamEndCapture(static_cast<cudaStream_t>(stream), &g);
  if (err != cudaSuccess) {
    cudaGetLastError();  // capture errors are not sticky: clear them so later calls start clean
    if (g) cudaGraphDestroy(g);
    return cat("cudaStreamEndCapture failed: ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ")");
  }
  graph_ = g;
  cudaGraphExec_t exec = nullptr;
  err = cudaGraphInstantiate(&exec, g, 0);
  if (err != cudaSuccess) {
    cudaGetLastError();
    reset();
    return cat("cudaGraphInstantiate failed: ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ")");
  }
  exec_ = exec;
  return {};
}

void CudaGraph::abandon_capture(void* stream) noexcept {
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(s, &status) == cudaSuccess && status != cudaStreamCaptureStatusNone) {
    cudaGraph_t g = nullptr;
    cudaStreamEndCapture(s, &g);
    if (g) cudaGraphDestroy(g);
  }
  cudaGetLastError();
}

void CudaGraph::launch(void* stream) {
  CUVIZ_CHECK(ready(), "CUDA graph: launch before a successful capture");
  CUVIZ_CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), static_cast<cudaStream_t>(stream)));
}

const char* device_name() {
  static cudaDeviceProp prop{};
  static bool known = false;
  if (!known) {
    int dev = 0;
    CUVIZ_CUDA_CHECK(cudaGetDevice(&dev));
    CUVIZ_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    known = true;
  }
  return prop.name;
}

}  // namespace cuviz::cuda_rt
