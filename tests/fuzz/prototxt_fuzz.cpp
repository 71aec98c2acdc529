// libFuzzer target: the Caffe loader's text side (loaders/caffe_loader.cpp): the input is the
// deploy.prototxt, the weights an empty NetParameter (so a valid architecture fails on its
// first weighted layer, after all of the prototxt's checks).
#include "fuzz_util.h"
#include "loaders/caffe_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string proto = cuviz::fuzz::as_file(data, size, ".prototxt");
  static const std::string weights = cuviz::fuzz::as_file(nullptr, 0, ".caffemodel");
  cuviz::fuzz::expect_clean([&] { cuviz::load_caffe(proto, weights); });
  return 0;
}
