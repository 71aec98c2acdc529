// libFuzzer target: io/npy.cpp (read_npy and the NCHW view of it).
#include "fuzz_util.h"
#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = cuviz::fuzz::as_file(data, size, ".npy");
  cuviz::fuzz::expect_clean([&] { cuviz::read_npy(path); });
  cuviz::fuzz::expect_clean([&] { cuviz::read_npy_tensor(path); });
  return 0;
}
