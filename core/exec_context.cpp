// The thread's execution context (core/exec_context.h): names and parsing of the backend and
// precision choices, and the per-thread context with its scope.
#include "core/exec_context.h"

#include "core/check.h"

namespace cuviz {

namespace {
thread_local ExecContext current;
thread_local int64_t oracle_ops = 0;
}  // namespace

const char* backend_name(Backend b) { return b == Backend::native ? "native" : "cudnn"; }

Backend parse_backend(std::string_view name) {
  if (name == "native") return Backend::native;
  if (name == "cudnn") return Backend::cudnn;
  throw Error(cat("unknown backend '", name, "' (choices: native, cudnn)"));
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::tf32: return "tf32";
    case Precision::bf16: return "bf16";
  }
  return "?";
}

Precision parse_precision(std::string_view name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "tf32") return Precision::tf32;
  if (name == "bf16") return Precision::bf16;
  throw Error(cat("unknown precision '", name, "' (choices: fp32, tf32, bf16)"));
}

void check_precision(Precision p, Backend b) {
  CUVIZ_CHECK(p == Precision::fp32 || b == Backend::native, "precision ", precision_name(p),
              " runs on cuviz's native tensor-core kernels; backend ", backend_name(b),
              " is FP32 only (use --backend native or --precision fp32)");
}

const ExecContext& exec_context() { return current; }

ExecScope::ExecScope(const ExecContext& context) : saved_(current) { current = context; }
ExecScope::~ExecScope() { current = saved_; }

bool use_oracle(Device device, bool expressible) {
  const bool yes = current.backend == Backend::cudnn && device == Device::cuda && expressible;
  oracle_ops += yes;
  return yes;
}

int64_t oracle_ops_count() { return oracle_ops; }

}  // namespace cuviz
