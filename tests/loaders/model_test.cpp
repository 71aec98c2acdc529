// Model resolution: names through the search path, explicit files and directories, the format
// choice, metadata, and the "not found" error that lists every place searched.
#include "loaders/model.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "loader_test_util.h"

namespace cuviz {
namespace {

using namespace cuviz::test;

// Points the search path at the shared weights (as CTest does) for the duration of a test.
class ModelTest : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv("CUVIZ_MODEL_PATH", weights_dir().c_str(), 1); }
};

TEST_F(ModelTest, NamesResolveThroughTheSearchPath) {
  const ModelFiles g = resolve_model("googlenet");
  EXPECT_EQ(g.name, "googlenet");
  EXPECT_EQ(g.format, ModelFormat::caffe);  // the original release is preferred
  EXPECT_EQ(g.prototxt, googlenet_dir() + "/deploy.prototxt");
  EXPECT_EQ(g.caffemodel, googlenet_dir() + "/bvlc_googlenet.caffemodel");
  EXPECT_EQ(g.meta.input_size, 224);
  EXPECT_TRUE(g.meta.bgr);
  EXPECT_EQ(g.meta.value_scale, 255.f);
  EXPECT_EQ(g.meta.mean[0], 104.f);
  EXPECT_EQ(g.meta.mean[2], 123.f);
  EXPECT_EQ(g.meta.labels, weights_dir() + "/labels/imagenet_synset_words.txt");

  const ModelFiles s = resolve_model("SqueezeNet", ModelFormat::onnx);
  EXPECT_EQ(s.format, ModelFormat::onnx);
  EXPECT_EQ(s.onnx, squeezenet_dir() + "/squeezenet_v1.1.onnx");
  EXPECT_EQ(s.meta.input_size, 227);
  EXPECT_EQ(resolve_model("squeezenet_v1.1").name, "squeezenet");
}

TEST_F(ModelTest, ExplicitFilesAndDirectories) {
  const ModelFiles d = resolve_model(squeezenet_dir());
  EXPECT_EQ(d.format, ModelFormat::caffe);
  EXPECT_EQ(d.name, "squeezenet");  // recognised by its directory name
  EXPECT_EQ(d.meta.input_size, 227);
  EXPECT_EQ(d.caffemodel, squeezenet_dir() + "/squeezenet_v1.1.caffemodel");

  const ModelFiles o = resolve_model(squeezenet_dir(), ModelFormat::onnx);
  EXPECT_EQ(o.onnx, squeezenet_dir() + "/squeezenet_v1.1.onnx");

  const ModelFiles c = resolve_model(googlenet_dir() + "/bvlc_googlenet.caffemodel");
  EXPECT_EQ(c.prototxt, googlenet_dir() + "/deploy.prototxt");  // found beside the weights

  const ModelFiles x = resolve_model(googlenet_dir() + "/bvlc_googlenet.onnx");
  EXPECT_EQ(x.format, ModelFormat::onnx);
  EXPECT_TRUE(throws_with([] { resolve_model(googlenet_dir() + "/bvlc_googlenet.onnx", ModelFormat::caffe); },
                          {"ONNX file", "--format caffe"}));
}

TEST_F(ModelTest, LoadModelAttachesMetadata) {
  const Graph g = load_model("squeezenet", ModelFormat::onnx);
  EXPECT_EQ(g.name, "squeezenet");
  EXPECT_EQ(g.meta.input_size, 227);
  EXPECT_EQ(g.layers.size(), 67u);
}

TEST_F(ModelTest, NotFoundListsEveryPlaceSearchedAndTheFetchCommand) {
  TempDir empty("model");
  ::setenv("CUVIZ_MODEL_PATH", (empty.path().string() + "::/nonexistent/models").c_str(), 1);
  EXPECT_TRUE(throws_with([] { resolve_model("vgg16"); },
                          {"vgg16", empty.path().string() + "/vgg16/VGG_ILSVRC_16_layers_deploy.prototxt",
                           "/nonexistent/models/vgg16/", "./weights/vgg16/", "weights/fetch.sh vgg16"}));
  EXPECT_TRUE(throws_with([] { resolve_model("googlenet", ModelFormat::onnx); },
                          {"bvlc_googlenet/bvlc_googlenet.onnx", "weights/fetch.sh googlenet"}));
}

TEST_F(ModelTest, UnknownNamesAndFormatsAreErrors) {
  EXPECT_TRUE(throws_with([] { resolve_model("resnet50"); }, {"'resnet50'", "googlenet, squeezenet, vgg16, vgg19"}));
  EXPECT_TRUE(throws_with([] { parse_model_format("tensorflow"); }, {"'tensorflow'", "caffe, onnx or auto"}));
  EXPECT_EQ(parse_model_format("ONNX"), ModelFormat::onnx);
  EXPECT_EQ(parse_model_format("auto"), ModelFormat::automatic);
}

TEST_F(ModelTest, SearchPathSplitsTheEnvironmentVariable) {
  ::setenv("CUVIZ_MODEL_PATH", "/a:/b::/c", 1);
  const auto dirs = model_search_path();
  ASSERT_GE(dirs.size(), 4u);
  EXPECT_EQ(dirs[0], "/a");
  EXPECT_EQ(dirs[1], "/b");
  EXPECT_EQ(dirs[2], "/c");
  EXPECT_EQ(dirs[3], "./weights");
}

}  // namespace
}  // namespace cuviz
