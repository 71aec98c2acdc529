// The backend choice of GPU ops: the execution context (core/exec_context.h: Backend, Precision,
// ExecContext, ExecScope) plus the check that asks the cuDNN oracle whether a backend can run.
#pragma once

#include "core/exec_context.h"

namespace cuviz {

// Throws a one-line reason when `b` cannot run on `device` (cudnn needs a CUDA device and a
// cuviz built with cuDNN that can load it).
void check_backend(Backend b, Device device);

}  // namespace cuviz
