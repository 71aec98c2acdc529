// The handful of CUDA runtime services the CPU-side code needs (allocation, copies, fills).
// Implemented in core/cuda_runtime.cu when cuviz is built with CUDA and in
// nn/cuda_runtime_disabled.cpp otherwise, where every call but device_count and the frees throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace cuviz::cuda_rt {

// Number of usable devices; 0 when the runtime reports any error (no driver, no device).
int device_count();
// cudaMalloc that throws cuviz::Error with the size and the CUDA error on failure.
void* malloc(size_t bytes);
// cudaFree; never throws (used from destructors).
void free(void* p) noexcept;
// cudaMemcpy of `bytes` bytes; each side on the CPU or the device.
void memcpy(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t bytes);
// Sets n floats at p (device memory) to v.
void fill(float* p, int64_t n, float v);
// Waits for all work on the device (used by copies to the host and by tests).
void synchronize();
// A new stream (cudaStreamCreate). It is a BLOCKING stream on purpose: work on the legacy default
// stream (copies and kernels launched outside any plan) waits for it and it waits for them, so
// code that does not know about plan streams stays correctly ordered with them.
void* stream_create();
// cudaStreamDestroy; never throws (pending work still completes).
void stream_destroy(void* stream) noexcept;
// Waits for the work queued on `stream` (null: the legacy default stream).
void stream_synchronize(void* stream);
// cudaMemcpy2DAsync on the current stream: `rows` rows of `width` bytes, `*_pitch` bytes apart.
// When either side is host memory it waits for the copy before returning, so pageable memory is
// safe to reuse; device-to-device copies return at once.
void memcpy_2d(void* dst, bool dst_on_device, size_t dst_pitch, const void* src, bool src_on_device,
               size_t src_pitch, size_t width, size_t rows);
// Async host -> device copy on the current stream from page-locked memory (returns at once).
void memcpy_to_device_async(void* dst, const void* pinned_src, size_t bytes);
// Page-locked host memory (cudaHostAlloc) for copies that overlap with work; throws on failure.
void* host_alloc(size_t bytes);
// cudaFreeHost; never throws.
void host_free(void* p) noexcept;
// cudaProfilerStart / cudaProfilerStop: the capture range of `nsys --capture-range=cudaProfilerApi`
// and of `ncu --profile-from-start off`.
void profiler_start();
void profiler_stop();
// CUDA events for timing (core/profiler.h): create (default flags, timing on), record on a stream
// (null: the legacy default stream), milliseconds between two recorded events (waits for the
// second), destroy (never throws).
void* event_create();
void event_record(void* event, void* stream);
double event_elapsed_ms(void* start, void* stop);
void event_destroy(void* event) noexcept;
// The current device's FP32 and memory peaks, from its attributes: peak_flops = SMs x FP32 lanes
// per SM (by compute capability) x 2 (an FMA is two FLOPs) x the SM clock; peak_bytes_per_s = 2
// (double data rate) x the memory clock x the bus width in bytes. `what` says how they were derived.
struct DevicePeaks {
  double flops = 0, bytes_per_s = 0;
  int sms = 0, fp32_lanes_per_sm = 0, bus_bits = 0;
  double sm_clock_hz = 0, mem_clock_hz = 0;
};
DevicePeaks device_peaks();
// Free and total bytes of the current device's memory.
void memory_info(size_t& free_bytes, size_t& total_bytes);
// The current device's name, e.g. "NVIDIA H100 80GB HBM3".
const char* device_name();
// Adds 1 to the int64 at p (device memory) with a one-thread kernel on the current stream: a step
// counter that later kernels of the same stream read, advanced without the host.
void increment(int64_t* p);

// A CUDA graph: the kernels and copies one thread queues on a stream, recorded once
// (cudaStreamBeginCapture ... cudaStreamEndCapture), instantiated once, then replayed with one
// cudaGraphLaunch. The recorded launches keep their arguments, so what changes from replay to
// replay must live in device memory. Move-only; destroying it frees the graph.
class CudaGraph {
 public:
  CudaGraph() = default;
  ~CudaGraph();
  CudaGraph(CudaGraph&& o) noexcept { *this = std::move(o); }
  CudaGraph& operator=(CudaGraph&& o) noexcept;
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Starts recording what the calling thread queues on `stream` (cudaStreamCaptureModeThreadLocal:
  // other threads' CUDA calls are not affected). Throws when capture cannot start.
  void begin_capture(void* stream);
  // Stops recording and instantiates. Returns "" on success; otherwise the reason, with the
  // capture ended, the error cleared and the graph empty, so the stream can be used eagerly.
  std::string end_capture(void* stream);
  // Ends a capture that an exception interrupted; discards what was recorded and clears the
  // error. Never throws.
  static void abandon_capture(void* stream) noexcept;
  // True once end_capture succeeded.
  bool ready() const { return exec_ != nullptr; }
  // Replays the graph on `stream` (asynchronous, like the launches it recorded).
  void launch(void* stream);
  // Frees the graph (ready() becomes false).
  void reset() noexcept;

 private:
  void* graph_ = nullptr;  // cudaGraph_t
  void* exec_ = nullptr;   // cudaGraphExec_t
};

}  // namespace cuviz::cuda_rt
