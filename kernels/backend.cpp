// The backend check that needs the cuDNN oracle (kernels/backend.h); the context itself lives in
// core/exec_context.cpp.
#include "kernels/backend.h"

#include "core/check.h"
#include "kernels/cudnn_oracle.h"

namespace cuviz {

void check_backend(Backend b, Device device) {
  if (b == Backend::native) return;
  CUVIZ_CHECK(CUVIZ_HAS_CUDA, "backend cudnn: this cuviz was built without CUDA, so there is no cuDNN/cuBLAS path");
  CUVIZ_CHECK(device == Device::cuda, "backend cudnn needs a CUDA device, and the network runs on the ",
              device_name(device), " (--device cpu, or no usable GPU); use --backend native");
  CUVIZ_CHECK(cudnn_oracle_available(), "backend cudnn: cuDNN cannot be used here (cuviz was built without cuDNN, ",
              "or libcudnn or a device is missing)");
}

}  // namespace cuviz
