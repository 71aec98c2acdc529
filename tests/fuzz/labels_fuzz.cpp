// libFuzzer target: the labels parser (io/labels.cpp).
#include "fuzz_util.h"
#include "io/labels.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  cuviz::fuzz::expect_clean([&] { cuviz::parse_labels(text, "fuzz"); });
  return 0;
}
