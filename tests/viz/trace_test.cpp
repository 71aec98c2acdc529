// The gradient trace (viz/trace.h): every traced gradient against the double-precision reference
// interpreter (tests/nn/reference_net.h) on the small GoogLeNet-like net, the input gradient equal
// to the Attributor's (small net and GoogLeNet), the trunk, the diverging colour map, and the
// page: every image it references exists and decodes, one picture per traced value, no partial
// page on failure.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "../nn/reference_net.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "io/npy.h"
#include "loaders/loader_test_util.h"
#include "loaders/model.h"
#include "method_test_util.h"
#include "nn/network.h"
#include "test_util.h"
#include "viz/attribution.h"
#include "viz/image_source.h"
#include "viz/render.h"
#include "viz/trace.h"

namespace cuviz {
namespace {

OwnedTensor small_input(uint64_t seed) {
  OwnedTensor x(Shape{1, 3, 10, 10});
  test::fill_uniform(x, seed, -0.5, 0.5);
  return x;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (int64_t k = 0; k < t.numel(); ++k) m = std::max(m, std::abs(double(t.data()[k])));
  return m;
}

// The objective `fc:2` reaches every kind of the small net: linear, flatten, dropout, global
// average pool, in-place ReLU, residual add (a fan-out), affine, concat of four branches, convs,
// max pools, LRN. The trace's first gradient is the seed (a channel objective on a 1x1 map: 1 at
// channel 2), and from it the double reference interpreter's backward gives every other value's
// gradient independently of Network's planning (in-place ReLUs, concat slices, taps).
TEST(Trace, EveryGradientMatchesTheDoubleReference) {
  const Graph g = test::unit_net();
  const Network net(test::unit_net(), Device::cpu);  // the same seeded weights as g
  const OwnedTensor x = small_input(3);
  const TraceResult r = trace_backward(net, parse_objective("fc:2"), x);

  std::vector<std::string> values;
  for (const auto& s : r.steps) values.push_back(s.value);
  const std::vector<std::string> expected = {
      "fc", "flat", "gap", "gap:pre", "res", "res:pre", "inc/bn", "inc/output", "inc/pool_proj", "inc/pool_proj:pre",
      "inc/pool", "inc/5x5", "inc/5x5:pre", "inc/5x5_reduce", "inc/5x5_reduce:pre", "inc/3x3", "inc/3x3:pre",
      "inc/3x3_reduce", "inc/3x3_reduce:pre", "inc/1x1", "inc/1x1:pre", "norm1", "pool1", "conv1", "conv1:pre", "data"};
  EXPECT_EQ(values, expected);
  ASSERT_EQ(r.steps.front().grad.shape(), (Shape{1, 5, 1, 1}));
  for (int c = 0; c < 5; ++c) EXPECT_EQ(r.steps.front().grad.at(0, c, 0, 0), c == 2 ? 1.f : 0.f) << c;

  PlainNet<double> ref(g);
  BasicOwnedTensor<double> xd(x.shape()), seed(Shape{1, 5, 1, 1});
  for (int64_t k = 0; k < x.numel(); ++k) xd.data()[k] = x.data()[k];
  for (int c = 0; c < 5; ++c) seed.data()[c] = c == 2 ? 1.0 : 0.0;
  ref.run(xd);
  ref.backward({{"fc", &seed}}, "data");
  EXPECT_NEAR(r.objective, ref.blob("fc").data()[2], 1e-5);
  for (size_t i = 1; i < r.steps.size(); ++i) {
    const TraceStep& s = r.steps[i];
    const auto& want = ref.grad(s.value);
    const auto& act = ref.blob(s.value);
    ASSERT_EQ(want.shape(), s.grad.shape()) << s.value;
    double scale = 0, err = 0, mean = 0;
    for (int64_t k = 0; k < want.numel(); ++k) {
      scale = std::max(scale, std::abs(want.data()[k]));
      err = std::max(err, std::abs(want.data()[k] - double(s.grad.data()[k])));
      mean += act.data()[k];
    }
    EXPECT_GT(scale, 0.0) << s.value << ": no gradient reaches it";
    EXPECT_LE(err, 1e-5 * scale) << s.value;
    EXPECT_NEAR(s.act_mean, mean / double(want.numel()), 1e-5 * (1 + std::abs(s.act_mean))) << s.value;
    double norm = 0;
    for (int64_t k = 0; k < want.numel(); ++k) norm += want.data()[k] * want.data()[k];
    EXPECT_NEAR(s.grad_norm, std::sqrt(norm), 1e-5 * std::sqrt(norm)) << s.value;
  }
  // A ReLU's output has zeros, its input none here; its d(input) is d(output) masked.
  const auto at = [&](const std::string& v) -> const TraceStep& {
    for (const auto& s : r.steps)
      if (s.value == v) return s;
    throw Error(cat("no step ", v));
  };
  EXPECT_GT(at("conv1").act_zero_fraction, 0.1);
  EXPECT_EQ(at("conv1:pre").act_zero_fraction, 0.0);
  EXPECT_LT(at("conv1:pre").grad_nonzero_fraction, at("conv1").grad_nonzero_fraction);
  // The map is the sum over channels.
  const TraceStep& p = at("pool1");
  for (int y = 0; y < p.grad.h(); ++y)
    for (int xx = 0; xx < p.grad.w(); ++xx) {
      double m = 0;
      for (int c = 0; c < p.grad.c(); ++c) m += p.grad.at(0, c, y, xx);
      EXPECT_NEAR(p.grad_map.at(0, 0, y, xx), m, 1e-6);
    }

  // The trunk: every path from fc to the input passes through these; not through a branch or
  // through inc/bn (the residual add also reads inc/output directly).
  std::set<std::string> trunk;
  for (const auto& s : r.steps)
    if (s.trunk) trunk.insert(s.value);
  EXPECT_EQ(trunk, (std::set<std::string>{"fc", "flat", "gap", "gap:pre", "res", "res:pre", "inc/output", "norm1",
                                          "pool1", "conv1", "conv1:pre", "data"}));
}

// The input gradient is the Attributor's and a Renderer step's, value for value, an image term included.
TEST(Trace, InputGradientIsTheAttributors) {
  const Network net(test::unit_net(), Device::cpu);
  const OwnedTensor x = small_input(5);
  const Objective obj = parse_objective("inc/output:3 - 0.1*tv");
  const TraceResult r = trace_backward(net, obj, x);
  Attributor a(net, {obj}, x.shape());
  const OwnedTensor want = a.gradient(x);
  const Tensor& got = r.steps.back().grad;
  ASSERT_EQ(r.steps.back().value, "data");
  ASSERT_EQ(got.shape(), want.shape());
  int64_t differ = 0;
  for (int64_t k = 0; k < got.numel(); ++k) differ += got.data()[k] != want.data()[k];
  EXPECT_EQ(differ, 0) << "of " << got.numel();
  EXPECT_GT(max_abs(want), 0.0);
  EXPECT_EQ(r.objective, a.objectives().at(0));

  // And a Renderer step's (param input, no transforms, from this x): dP = dL/dx, L = -objective.
  const std::string path = cat(::testing::TempDir(), "/trace_input.npy");
  write_npy(path, x);
  RenderOptions o;
  o.size = x.h();
  o.param = ParamKind::input;
  o.transforms = TransformSpec::none();
  o.source = ImageSource::parse(path);
  Renderer ren(net, {obj}, o);
  ren.gradient(0);
  differ = 0;
  for (int64_t k = 0; k < got.numel(); ++k) differ += got.data()[k] != -ren.param_grad().data()[k];
  EXPECT_EQ(differ, 0) << "of " << got.numel();
}

TEST(Trace, InputGradientIsTheAttributorsOnGoogLeNet) {
  std::unique_ptr<Network> net;
  try {
    net = std::make_unique<Network>(load_model(std::string(CUVIZ_SHARED_DIR) + "/weights/bvlc_googlenet"), Device::cpu);
  } catch (const Error& e) {
    GTEST_SKIP() << "googlenet not found: " << e.what();
  }
  const OwnedTensor x = load_network_input(std::string(CUVIZ_SHARED_DIR) + "/images/chelsea.png", net->graph().meta, 1, 96);
  const Objective obj = parse_objective("inception_4c/output:10");
  const TraceResult r = trace_backward(*net, obj, x);
  Attributor a(*net, {obj}, x.shape());
  const OwnedTensor want = a.gradient(x);
  const Tensor& got = r.steps.back().grad;
  double err = 0;
  for (int64_t k = 0; k < got.numel(); ++k) err = std::max(err, std::abs(double(got.data()[k] - want.data()[k])));
  EXPECT_LE(err, 1e-6 * max_abs(want)) << "largest |gradient| " << max_abs(want);
  EXPECT_GT(max_abs(want), 0.0);
  EXPECT_EQ(r.steps.front().value, "inception_4c/output");
  EXPECT_EQ(r.steps.back().value, "data");
  // From inception_4c back to conv1: every layer of the stem and of 3a .. 4c has its row.
  std::set<std::string> kinds, values;
  for (const auto& s : r.steps) {
    kinds.insert(s.kind);
    values.insert(s.value);
    EXPECT_EQ(s.grad_map.h(), s.shape.h);
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"concat", "conv", "relu", "pool", "lrn", "input"}));
  for (const char* v : {"inception_4c/1x1:pre", "inception_4b/output", "pool3/3x3_s2", "inception_3a/pool",
                        "conv2/norm2", "conv1/7x7_s2", "conv1/7x7_s2:pre"})
    EXPECT_TRUE(values.count(v)) << v;
  EXPECT_FALSE(values.count("inception_4d/output"));
  EXPECT_FALSE(values.count("loss1/ave_pool"));  // the auxiliary classifier is not on the way
}

TEST(Trace, DivergingColourMap) {
  OwnedTensor m(Shape{1, 1, 1, 3});
  m.data()[0] = -2.f;
  m.data()[1] = 0.f;
  m.data()[2] = 2.f;
  const Image img = diverging_image(m, 2, 6);  // each cell 2x2
  ASSERT_EQ(img.width, 6);
  ASSERT_EQ(img.height, 2);
  EXPECT_EQ(img.at(0, 0, 0), 33);  // blue end
  EXPECT_EQ(img.at(1, 1, 2), 172);
  EXPECT_EQ(img.at(2, 0, 0), 247);  // white
  EXPECT_EQ(img.at(5, 1, 0), 178);  // red end
  EXPECT_EQ(img.at(5, 1, 1), 24);
  OwnedTensor zero(Shape{1, 1, 2, 2});
  fill(zero, 0.f);
  EXPECT_EQ(diverging_image(zero, 4, 4).at(3, 3, 1), 247);
}

TraceResult small_trace() {
  const Network net(test::unit_net(), Device::cpu);
  return trace_backward(net, parse_objective("inc/output:3"), small_input(7));
}

// Every src= of the page names a file that exists and decodes; one gradient picture per step.
TEST(Trace, PageReferencesOnlyImagesThatExist) {
  test::TempDir dir("trace_page");
  const TraceResult r = small_trace();
  const std::string out = dir.file("page");
  write_trace_page(out, r, TracePageInfo{"small_net", "inc/output:3", "noise(0.1)", 10, 0, "cpu"});
  const std::string html = read_file(out + "/index.html");
  const std::regex src("src=\"([^\"]+)\"");
  std::set<std::string> grads;
  int refs = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), src); it != std::sregex_iterator(); ++it) {
    const std::string f = (*it)[1];
    ++refs;
    EXPECT_EQ(f.find(".."), std::string::npos) << f;
    EXPECT_NE(f[0], '/') << f;
    const Image img = read_image(out + "/" + f);  // throws when missing or corrupt
    EXPECT_GE(std::max(img.width, img.height), 64) << f;
    if (f.rfind("grad/", 0) == 0) grads.insert(f);
  }
  EXPECT_EQ(grads.size(), r.steps.size());
  EXPECT_EQ(refs, int(r.steps.size()) + 1);  // + summary.png
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(out + "/grad")) files += e.is_regular_file();
  EXPECT_EQ(files, r.steps.size());
  const auto j = nlohmann::json::parse(read_file(out + "/trace.json"));
  ASSERT_EQ(j.at("rows").size(), r.steps.size());
  EXPECT_EQ(j.at("rows")[0].at("value"), "inc/output");
  EXPECT_EQ(j.at("objective_text"), "inc/output:3");

  // A second trace replaces the first; nothing else is left beside it.
  write_trace_page(out, r, TracePageInfo{"small_net", "inc/output:3", "again", 10, 0, "cpu"});
  EXPECT_NE(read_file(out + "/index.html").find("again"), std::string::npos);
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST(Trace, BadInputsAreClearErrorsAndWriteNothing) {
  const Network net(test::unit_net(), Device::cpu);
  try {
    trace_backward(net, parse_objective("inc/outptu:3"), small_input(1));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("inc/outptu"), std::string::npos) << e.what();
  }
  EXPECT_THROW(trace_backward(net, parse_objective("inc/output:99"), small_input(1)), Error);
  OwnedTensor two(Shape{2, 3, 10, 10});
  fill(two, 0.f);
  EXPECT_THROW(trace_backward(net, parse_objective("inc/output:3"), two), Error);

  test::TempDir dir("trace_bad");
  const TraceResult r = small_trace();
  // A directory that is not an earlier trace page is left alone.
  std::filesystem::create_directories(dir.path() / "mine");
  { std::ofstream(dir.file("mine/notes.txt")) << "keep"; }
  EXPECT_THROW(write_trace_page(dir.file("mine"), r, TracePageInfo{}), Error);
  EXPECT_EQ(read_file(dir.file("mine/notes.txt")), "keep");
  EXPECT_THROW(write_trace_page(dir.file("missing/page"), r, TracePageInfo{}), Error);
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1u);  // only "mine": no temporary directory left
}

}  // namespace
}  // namespace cuviz
