// libFuzzer target: io/image.cpp decode_image (PNG and JPEG by magic number over stb_image).
#include "fuzz_util.h"
#include "io/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  cuviz::fuzz::expect_clean([&] { cuviz::decode_image(bytes, "fuzz"); });
  return 0;
}
