// The execution context (core/): where the ops called on this thread run: the backend of GPU ops (cuviz's hand-written kernels
// or the cuDNN/cuBLAS oracle, kernels/cudnn_oracle.h), the CUDA stream their launchers use and a
// device workspace for their temporaries. Network sets it for the duration of a forward or
// backward (ExecScope) from the plan being run; ops called outside a plan see the defaults:
// native kernels, FP32 arithmetic, the legacy default stream, no workspace.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/tensor.h"

namespace cuviz {

// native: the hand-written kernels (the product). cudnn: conv, pool, LRN and softmax forward
// through cuDNN, conv backward (data and weights) through cuDNN, linear forward through cuBLAS,
// wherever the library can express the op exactly; everything else stays native.
enum class Backend { native, cudnn };

// "native" or "cudnn".
const char* backend_name(Backend b);
// Parses "native" or "cudnn"; throws naming the choices otherwise.
Backend parse_backend(std::string_view name);
// check_backend (is cuDNN usable for this device?) lives in kernels/backend.h: it asks the oracle.

// Arithmetic of the convolutions' forward and backward-data GEMMs (docs/gpu.md, "Tensor cores"):
// fp32 everywhere, or operands rounded to TF32 / BF16 for the tensor cores with FP32
// accumulation. Weight gradients, linear layers and every other op stay FP32. On the CPU the
// rounded precisions are an emulation of the tensor-core numerics (same rounding, FP32 sums, no
// speed-up), there so that they can be tested without a GPU.
enum class Precision { fp32, tf32, bf16 };

// "fp32", "tf32" or "bf16".
const char* precision_name(Precision p);
// Parses "fp32", "tf32" or "bf16"; throws naming the choices otherwise.
Precision parse_precision(std::string_view name);
// Throws a one-line reason when precision `p` cannot be honoured with backend `b` (the cuDNN
// oracle runs FP32 only).
void check_precision(Precision p, Backend b);

struct ExecContext {
  Backend backend = Backend::native;
  void* stream = nullptr;         // cudaStream_t of the launches; null = the legacy default stream
  float* workspace = nullptr;     // device memory for ops' temporaries (a slice of the plan's arena)
  size_t workspace_bytes = 0;
  Precision precision = Precision::fp32;  // of conv forward and backward-data (see Precision)
};

// The context of the calling thread.
const ExecContext& exec_context();

// Installs `context` for the calling thread until the scope ends, then restores the previous one.
class ExecScope {
 public:
  explicit ExecScope(const ExecContext& context);
  ~ExecScope();
  ExecScope(const ExecScope&) = delete;
  ExecScope& operator=(const ExecScope&) = delete;

 private:
  ExecContext saved_;
};

// True when an op whose tensors are on `device` runs on the oracle: the thread's backend is
// cudnn, the device is cuda and the library can express this op (`expressible`). Counts it.
bool use_oracle(Device device, bool expressible);
// Ops of the calling thread that ran on the oracle so far (Network reports them per forward).
int64_t oracle_ops_count();

}  // namespace cuviz
