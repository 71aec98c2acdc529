// End to end: each of the four shipped model files (GoogLeNet and SqueezeNet, Caffe and ONNX),
// loaded by name through the search path and run by nn/Network on the CPU, turns the reference
// inputs into the reference softmax outputs of weights/README.md.
#include <gtest/gtest.h>

#include <cstdlib>

#include "loader_test_util.h"
#include "loaders/model.h"
#include "io/npy.h"
#include "nn/network.h"
#include "test_util.h"

namespace cuviz {
namespace {

using namespace cuviz::test;

struct Case {
  const char* model;
  ModelFormat format;
  const char* prefix;  // reference/<prefix>_<image>_{input,prob}.npy
};

class ReferenceForward : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override { ::setenv("CUVIZ_MODEL_PATH", weights_dir().c_str(), 1); }
};

TEST_P(ReferenceForward, MatchesReferenceProbabilities) {
  const Case c = GetParam();
  const ModelFiles files = resolve_model(c.model, c.format);
  ASSERT_EQ(files.format, c.format);
  const Network net(load_model(files), Device::cpu);
  for (const char* image : {"chelsea", "coffee"}) {
    SCOPED_TRACE(image);
    const std::string ref = weights_dir() + "/reference/" + c.prefix + "_" + image;
    const OwnedTensor x = read_npy_tensor(ref + "_input.npy");
    const OwnedTensor want = read_npy_tensor(ref + "_prob.npy");
    Plan plan = net.plan(x.shape(), {"prob"});
    net.forward(plan, x);
    const Tensor got = net.activation(plan, "prob");
    ASSERT_EQ(got.shape(), want.shape());
    // 1e-5 absolute: the README's bound for a float32 forward pass (summation order differs
    // from the reference implementation; probabilities are <= 1).
    EXPECT_TRUE(all_close(got, want.view(), 1e-5));
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllModelFiles, ReferenceForward,
    ::testing::Values(Case{"googlenet", ModelFormat::caffe, "bvlc_googlenet"},
                      Case{"googlenet", ModelFormat::onnx, "bvlc_googlenet"},
                      Case{"squeezenet", ModelFormat::caffe, "squeezenet_v1.1"},
                      Case{"squeezenet", ModelFormat::onnx, "squeezenet_v1.1"}),
    [](const ::testing::TestParamInfo<Case>& info) {
      return std::string(info.param.model) + "_" + model_format_name(info.param.format);
    });

}  // namespace
}  // namespace cuviz
