// libFuzzer target: the safetensors reader (loaders/safetensors.cpp): the header, then every
// tensor read as floats.
#include "fuzz_util.h"
#include "loaders/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = cuviz::fuzz::as_file(data, size, ".safetensors");
  cuviz::fuzz::expect_clean([&] {
    const cuviz::SafetensorsFile f(path);
    for (const auto& name : f.names()) cuviz::fuzz::expect_clean([&] { f.read_floats(name); });
  });
  return 0;
}
