// libFuzzer target: the Caffe loader's binary side: the input is the .caffemodel of a small
// fixed architecture (a convolution, a BatchNorm, a Scale and an InnerProduct).
#include "fuzz_util.h"
#include "loaders/caffe_loader.h"

namespace {
const char kPrototxt[] = R"(
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 2 kernel_size: 3 } }
layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" }
layer { name: "sc" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
layer { name: "fc" type: "InnerProduct" bottom: "conv" top: "fc" inner_product_param { num_output: 3 } }
)";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string proto =
      cuviz::fuzz::as_file(reinterpret_cast<const uint8_t*>(kPrototxt), sizeof(kPrototxt) - 1, ".arch.prototxt");
  const std::string weights = cuviz::fuzz::as_file(data, size, ".caffemodel");
  cuviz::fuzz::expect_clean([&] { cuviz::load_caffe(proto, weights); });
  return 0;
}
