// libFuzzer target: the ONNX loader (loaders/onnx_loader.cpp) on a model file.
#include "fuzz_util.h"
#include "loaders/onnx_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = cuviz::fuzz::as_file(data, size, ".onnx");
  cuviz::fuzz::expect_clean([&] { cuviz::load_onnx(path); });
  return 0;
}
