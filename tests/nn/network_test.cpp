// nn/Network on small hand-built graphs: shapes, forward against an independent reference
// interpreter (tests/nn/reference_net.h), truncation, concat without copies, in-place ReLU
// naming, fan-out gradient accumulation, whole-network gradients against double-precision
// finite differences, weight gradients, describe(), and the errors.
#include "kernels/add.h"
#include "nn/network.h"

#include "reference_net.h"

namespace cuviz {

namespace {

using test::error_of;


OwnedTensor input(Shape s, uint64_t seed) {
  OwnedTensor x(s);
  test::fill_uniform(x, seed);
  return x;
}

// Fast CPU ops (im2col + SGEMM, blocked loops) against plain loops, both in float, on O(1)
// values through ~8 layers: only summation order differs, a few ulps per op.
constexpr double kForwardAtol = 1e-5, kForwardRtol = 1e-4;

}  // namespace

TEST(Network, ComputesEveryShape) {
  Network net(test::small_net(), Device::cpu);
  Plan p = net.plan(Shape{2, 3, 10, 10});
  struct {
    const char* name;
    Shape want;
  } cases[] = {{"conv1", {2, 6, 10, 10}},   {"pool1", {2, 6, 5, 5}},    {"inc/3x3", {2, 4, 5, 5}},
               {"inc/output", {2, 14, 5, 5}}, {"res", {2, 14, 5, 5}},   {"gap", {2, 14, 1, 1}},
               {"flat", {2, 14, 1, 1}},       {"prob", {2, 5, 1, 1}}};
  for (const auto& c : cases) EXPECT_EQ(net.activation(p, c.name).shape(), c.want) << c.name;
  EXPECT_EQ(p.layers().size(), net.graph().layers.size());
}

TEST(Network, ForwardMatchesTheReferenceInterpreterAtEveryBlob) {
  Network net(test::small_net(), Device::cpu);
  std::vector<std::string> blobs = {"conv1",      "pool1",   "norm1", "inc/1x1", "inc/3x3", "inc/5x5",
                                    "inc/pool_proj", "inc/output", "inc/bn", "res", "gap", "flat", "prob"};
  Plan p = net.plan(Shape{2, 3, 10, 10}, blobs);
  OwnedTensor x = input(p.input_shape(), 7);
  net.forward(p, x);
  PlainNet<float> ref(net.graph());
  ref.run(x);
  for (const auto& b : blobs) EXPECT_TRUE(test::all_close(net.activation(p, b), ref.blob(b), kForwardAtol, kForwardRtol)) << b;
}

// The mini inception block composed by hand from the reference ops, independently of both
// Network and PlainNet: four branches, then the concatenation written out channel by channel.
TEST(Network, InceptionBlockMatchesHandComposedReferenceOps) {
  Graph g;
  g.name = "mini_inception";
  g.input = "data";
  g.input_shape = Shape{1, 5, 6, 7};
  test::add_inception(g, "inc", "data", 5, 100);
  Network net(std::move(g), Device::cpu);
  Plan p = net.plan(Shape{2, 5, 6, 7}, {"inc/output"});
  OwnedTensor x = input(p.input_shape(), 8);
  net.forward(p, x);

  auto conv_relu = [&](const char* layer, const Tensor& in) {
    const LayerDesc& l = test::find_layer(net.graph(), std::string("inc/") + layer);
    const Tensor& w = l.weights[0];
    OwnedTensor y(conv2d_output_shape(l.conv, in.shape(), w.shape()));
    conv2d_forward_reference<float>(l.conv, in, w, l.weights[1], y);
    relu_forward_reference<float>(y, y);
    return y;
  };
  const Pool2dParams pool = net.graph().producer("inc/pool")->pool;
  OwnedTensor pooled(pool2d_output_shape(pool, x.shape()));
  pool2d_forward_reference<float>(pool, x, pooled);
  OwnedTensor b1 = conv_relu("1x1", x), r3 = conv_relu("3x3_reduce", x), r5 = conv_relu("5x5_reduce", x);
  OwnedTensor b2 = conv_relu("3x3", r3), b3 = conv_relu("5x5", r5), b4 = conv_relu("pool_proj", pooled);
  const Tensor out = net.activation(p, "inc/output");
  ASSERT_EQ(out.shape(), (Shape{2, 14, 6, 7}));
  int off = 0;
  for (const Tensor* b : {&b1.view(), &b2.view(), &b3.view(), &b4.view()}) {
    EXPECT_TRUE(test::all_close(out.channels(off, b->c()), *b, kForwardAtol, kForwardRtol)) << "channel " << off;
    off += b->c();
  }
}

TEST(Network, TruncatedPlanRunsOnlyTheLayersItsOutputsNeed) {
  Network net(test::small_net(), Device::cpu);
  Plan full = net.plan(Shape{1, 3, 10, 10});
  Plan part = net.plan(Shape{1, 3, 10, 10}, {"inc/3x3_reduce"});
  const std::vector<std::string> want = {"conv1", "relu1", "pool1", "norm1", "inc/3x3_reduce", "inc/relu_3x3_reduce"};
  EXPECT_EQ(part.layers(), want);
  EXPECT_LT(part.arena_bytes(), full.arena_bytes());
  OwnedTensor x = input(full.input_shape(), 9);
  net.forward(full, x);
  net.forward(part, x);
  // conv1 (with its ReLU fused), pool1, norm1, the reduce conv (ReLU fused): 4 ops.
  EXPECT_EQ(part.ops_run(), 4);
  EXPECT_GT(full.ops_run(), 10);
  EXPECT_TRUE(test::all_close(net.activation(part, "inc/3x3_reduce"), net.activation(full, "inc/3x3_reduce"), 0.0));
  const std::string e = error_of([&] { net.activation(part, "inc/output"); });
  EXPECT_NE(e.find("not computed by this plan"), std::string::npos) << e;
}

TEST(Network, ConcatBranchesAreViewsOfTheConcatOutput) {
  Network net(test::small_net(), Device::cpu);
  // Without the compact stash, whose ReLU masks would add ops to the count below.
  Plan p = net.plan(Shape{3, 3, 10, 10}, {"inc/output"}, PlanOptions{.backward = true, .stash = Stash::full});
  const Tensor out = net.activation(p, "inc/output");
  int off = 0;
  for (const char* b : {"inc/1x1", "inc/3x3", "inc/5x5", "inc/pool_proj"}) {
    const Tensor v = net.activation(p, b);
    EXPECT_EQ(v.data(), out.channels(off, v.c()).data()) << b;
    EXPECT_EQ(v.batch_stride(), out.batch_stride()) << b;
    const Tensor dv = net.activation_grad(p, b), dout = net.activation_grad(p, "inc/output");
    EXPECT_EQ(dv.data(), dout.channels(off, v.c()).data()) << b;
    off += v.c();
  }
  // Every op of this plan is a conv (ReLUs fused), a pool or the LRN: the concat copies nothing.
  OwnedTensor x = input(p.input_shape(), 10);
  net.forward(p, x);
  EXPECT_EQ(p.ops_run(), 1 + 1 + 1 + 6 + 1);
}

TEST(Network, InPlaceReluNamesPostActivationAndPreNamesTheConvOutput) {
  Network net(test::small_net(), Device::cpu);
  Plan keep = net.plan(Shape{1, 3, 10, 10}, {"conv1", "conv1:pre", "relu1"});
  OwnedTensor x = input(keep.input_shape(), 11);
  net.forward(keep, x);
  PlainNet<float> ref(net.graph());
  ref.run(x);
  const Tensor post = net.activation(keep, "conv1"), pre = net.activation(keep, "conv1:pre");
  EXPECT_NE(post.data(), pre.data());
  EXPECT_TRUE(test::all_close(post, ref.blob("conv1"), kForwardAtol, kForwardRtol));
  EXPECT_TRUE(test::all_close(pre, ref.layer("conv1"), kForwardAtol, kForwardRtol));
  EXPECT_EQ(net.activation(keep, "relu1").data(), post.data());  // a layer name: its output
  int negative = 0;
  for (int64_t k = 0; k < pre.numel(); ++k) negative += pre.data()[k] < 0;
  EXPECT_GT(negative, 0);  // the pre-activation really is a different tensor

  // Without asking for it, the ReLU overwrites the conv output, and the name says so.
  Plan lean = net.plan(Shape{1, 3, 10, 10}, {"conv1"});
  EXPECT_LT(lean.arena_bytes(), keep.arena_bytes());
  const std::string e = error_of([&] { net.activation(lean, "conv1:pre"); });
  EXPECT_NE(e.find("overwritten in place by layer 'relu1'"), std::string::npos) << e;
}

// d(norm1) is the sum of the four branch gradients: seed the concat output, then compare with
// the four conv/pool backward passes done by hand with the reference ops and summed.
TEST(Network, FanOutGradientIsTheSumOverReaders) {
  Network net(test::small_net(), Device::cpu);
  Plan p = net.plan(Shape{2, 3, 10, 10}, {"inc/output", "norm1"}, PlanOptions{.backward = true});
  OwnedTensor x = input(p.input_shape(), 12);
  net.forward(p, x);
  OwnedTensor seed(net.activation(p, "inc/output").shape());
  test::fill_uniform(seed, 13);
  copy(seed, net.activation_grad(p, "inc/output"));
  OwnedTensor dx(x.shape());
  net.backward_to_input(p, dx);

  PlainNet<float> ref(net.graph());
  ref.run(x);
  const Tensor norm1 = ref.blob("norm1");
  OwnedTensor want(norm1.shape()), part(norm1.shape());
  fill(want, 0.f);
  // Gradient of a conv + ReLU branch output w.r.t. its input, given the branch's output gradient.
  auto through = [&](const char* layer, const Tensor& dy, const Tensor& dx_out) {
    const std::string name = std::string("inc/") + layer;
    const LayerDesc& l = test::find_layer(net.graph(), name);
    OwnedTensor d(dy.shape());
    relu_backward_data_reference<float>(ref.blob(name), dy, d);
    conv2d_backward_data_reference<float>(l.conv, d, l.weights[0], dx_out);
  };
  auto add_to_want = [&] { add_forward_reference<float>(want, part, want); };
  int off = 0;
  const int widths[] = {4, 4, 3, 3};
  std::vector<Tensor> dys;
  for (int c : widths) {
    dys.push_back(seed.channels(off, c));
    off += c;
  }
  through("1x1", dys[0], part);
  add_to_want();
  OwnedTensor dr3(ref.blob("inc/3x3_reduce").shape()), dr5(ref.blob("inc/5x5_reduce").shape()),
      dpool(ref.blob("inc/pool").shape());
  through("3x3", dys[1], dr3);
  through("3x3_reduce", dr3, part);
  add_to_want();
  through("5x5", dys[2], dr5);
  through("5x5_reduce", dr5, part);
  add_to_want();
  through("pool_proj", dys[3], dpool);
  pool2d_backward_data_reference<float>(net.graph().producer("inc/pool")->pool, norm1, ref.blob("inc/pool"), dpool,
                                        part);
  add_to_want();
  // Same maths, different summation order (SGEMM vs loops): float rounding only.
  EXPECT_TRUE(test::all_close(net.activation_grad(p, "norm1"), want, 1e-5, 1e-4));
}

// Whole-network input gradient against central differences of the double-precision reference
// interpreter. Doing the differences in double (not through the float network) keeps the
// finite-difference error ~1e-9, so the tolerance only has to cover the float backward:
// relative rounding ~1e-6 per op over ~10 layers is far below 1e-3, while a missed fan-out
// contribution, a wrong slice or a mask on the wrong tensor is an O(1) error.
void check_input_gradient(Graph g, Shape in, const std::vector<std::pair<std::string, uint64_t>>& seeds,
                          uint64_t x_seed) {
  Network net(std::move(g), Device::cpu);
  PlainNet<double> ref(net.graph());
  std::vector<std::string> outs;
  for (const auto& s : seeds) outs.push_back(s.first);
  Plan p = net.plan(in, outs, PlanOptions{.backward = true});
  OwnedTensor x = input(p.input_shape(), x_seed);
  net.forward(p, x);
  std::vector<OwnedTensorD> ws;
  for (const auto& [name, seed] : seeds) {
    const Tensor d = net.activation_grad(p, name);
    OwnedTensor w(d.shape());
    test::fill_uniform(w, seed);
    add_forward(d, w, d);  // seeds are added: names may share gradient memory
    ws.push_back(test::to_double(w));
  }
  OwnedTensor dx(x.shape());
  net.backward_to_input(p, dx);

  OwnedTensorD xd = test::to_double(x);
  auto loss = [&] {
    ref.run(xd);
    double s = 0;
    for (size_t i = 0; i < seeds.size(); ++i) {
      OwnedTensorD dense(ref.blob(seeds[i].first).shape());
      const TensorD& v = ref.blob(seeds[i].first);
      for (int n = 0; n < v.n(); ++n)
        for (int c = 0; c < v.c(); ++c)
          for (int h = 0; h < v.h(); ++h)
            for (int w = 0; w < v.w(); ++w) dense.at(n, c, h, w) = v.at(n, c, h, w);
      s += test::weighted_sum(dense, ws[i]);
    }
    return s;
  };
  EXPECT_TRUE(test::gradient_check(xd, loss, test::to_double(dx), 0, 1e-6, 1e-5, 1e-3));
}

TEST(Network, InputGradientMatchesFiniteDifferencesFromTheOutput) {
  check_input_gradient(test::small_net(), Shape{2, 3, 10, 10}, {{"prob", 20}}, 21);
}

// Seeds at several blobs, two of which share memory (a branch is a slice of inc/output) and one
// (norm1) is read by four branches: every seed and every path must be counted exactly once.
TEST(Network, InputGradientMatchesFiniteDifferencesWithSeedsAtSeveralBlobs) {
  check_input_gradient(test::small_net(), Shape{2, 3, 10, 10},
                       {{"prob", 22}, {"inc/output", 23}, {"inc/3x3", 24}, {"norm1", 25}, {"conv1:pre", 26}}, 27);
}

// ONNX-style names (every op writes a new blob) and concat inputs that cannot live in their
// slice: r1 is read twice by the concat and once by the pool, so the concat copies it forward
// and adds its slices back in backward; the pool output is placed. The ReLU after the concat
// cannot overwrite it (a concat output) and gets its own buffer.
Graph fallback_net() {
  Graph g;
  g.name = "fallback_net";
  g.input = "x";
  g.input_shape = Shape{1, 3, 6, 6};
  g.layers.push_back(test::conv_layer("c1", "x", "c1_out", 3, 4, 3, 1, 60));
  g.layers.push_back(test::simple_layer(LayerKind::relu, "r1", {"c1_out"}, "r1_out"));
  g.layers.push_back(test::pool_layer("p1", "r1_out", "p1_out", Pool2dParams::make(PoolMode::average, 3, 1, 1)));
  g.layers.push_back(test::simple_layer(LayerKind::concat, "cat", {"r1_out", "r1_out", "p1_out"}, "cat_out"));
  g.layers.push_back(test::simple_layer(LayerKind::relu, "r2", {"cat_out"}, "r2_out"));
  g.layers.push_back(test::conv_layer("c2", "r2_out", "c2_out", 12, 2, 1, 0, 61));
  return g;
}

TEST(Network, ConcatInputsReadElsewhereAreCopiedAndTheirGradientsSummed) {
  Network net(fallback_net(), Device::cpu);
  Plan p = net.plan(Shape{2, 3, 6, 6}, {"c2_out", "cat_out"});
  const Tensor cat = net.activation(p, "cat_out");
  EXPECT_NE(net.activation(p, "r1_out").data(), cat.data());
  EXPECT_EQ(net.activation(p, "p1_out").data(), cat.channels(8, 4).data());
  OwnedTensor x = input(p.input_shape(), 62);
  net.forward(p, x);
  PlainNet<float> ref(net.graph());
  ref.run(x);
  for (const char* b : {"cat_out", "r2_out", "c2_out"})
    EXPECT_TRUE(test::all_close(net.activation(p, b), ref.blob(b), kForwardAtol, kForwardRtol)) << b;
  check_input_gradient(fallback_net(), Shape{2, 3, 6, 6}, {{"c2_out", 63}, {"r1_out", 64}, {"cat_out", 65}}, 66);
}

TEST(Network, SeedsAfterForwardAreRespectedAndBackwardNeedsFreshGradients) {
  Network net(test::small_net(), Device::cpu);
  Plan p = net.plan(Shape{1, 3, 10, 10}, {"inc/output"}, PlanOptions{.backward = true});
  OwnedTensor x = input(p.input_shape(), 30), dx1(x.shape()), dx2(x.shape());
  const Tensor seed = net.activation_grad(p, "inc/output");  // held across iterations, like a render loop
  for (OwnedTensor* dx : {&dx1, &dx2}) {
    net.forward(p, x);
    fill(seed, 0.5f);
    net.backward_to_input(p, *dx);
  }
  EXPECT_TRUE(test::all_close(dx1, dx2, 0.0));  // the same computation twice: bit-identical
  double norm = 0;
  for (int64_t k = 0; k < dx1.numel(); ++k) norm += std::abs(dx1.data()[k]);
  EXPECT_GT(norm, 0.0);
  const std::string e = error_of([&] { net.backward_to_input(p, dx1); });
  EXPECT_NE(e.find("still in place"), std::string::npos) << e;
  net.zero_grads(p);
  fill(seed, 0.5f);
  net.backward_to_input(p, dx1);
  EXPECT_TRUE(test::all_close(dx1, dx2, 0.0));
}

// Weight gradients of a training plan against central differences of the double reference
// in those weights (same reasoning and tolerance as the input gradient).
TEST(Network, WeightGradientsMatchFiniteDifferences) {
  Network net(test::small_net(), Device::cpu);
  PlainNet<double> ref(net.graph());
  Plan p = net.plan(Shape{2, 3, 10, 10}, {"prob"}, PlanOptions{.weight_grads = true});
  OwnedTensor x = input(p.input_shape(), 40);
  net.forward(p, x);
  const Tensor d = net.activation_grad(p, "prob");
  OwnedTensor w(d.shape());
  test::fill_uniform(w, 41);
  copy(w, d);
  net.backward(p);
  OwnedTensorD xd = test::to_double(x), wd = test::to_double(w);
  auto loss = [&] {
    ref.run(xd);
    return test::weighted_sum(ref.blob("prob"), wd);
  };
  const auto& layers = net.graph().layers;
  for (const char* name : {"conv1", "inc/5x5", "inc/pool_proj", "fc"}) {
    int li = 0;
    while (layers[li].name != name) ++li;
    for (int i = 0; i < 2; ++i)
      EXPECT_TRUE(test::gradient_check(ref.weight(li, i), loss, test::to_double(net.weight_grad(p, name, i)), 0,
                                       1e-6, 1e-5, 1e-3))
          << name << " weight " << i;
  }
  EXPECT_THROW(net.weight_grad(p, "prob", 0), Error);  // no trainable weights
}

TEST(Network, DescribeCountsParametersAndMacs) {
  Network net(test::small_net(), Device::cpu);
  Plan p = net.plan(Shape{1, 3, 10, 10});
  const auto info = net.describe(p);
  ASSERT_EQ(info.size(), net.graph().layers.size());
  int64_t params = 0, macs = 0;
  for (const auto& i : info) params += i.params, macs += i.macs;
  EXPECT_EQ(info[0].name, "conv1");
  EXPECT_EQ(info[0].type, "conv");
  EXPECT_EQ(info[0].params, 6 * 3 * 3 * 3 + 6);
  EXPECT_EQ(info[0].macs, 6 * 10 * 10 * 3 * 3 * 3);
  // Hand count: conv1 16200, 1x1 6*4*25=600, 3x3_reduce 450, 3x3 3*9*4*25=2700, 5x5_reduce 300,
  // 5x5 2*25*3*25=3750, pool_proj 450, fc 70.
  EXPECT_EQ(macs, 16200 + 600 + 450 + 2700 + 300 + 3750 + 450 + 70);
  // Weights + biases: conv1 168, 1x1 28, 3x3_reduce 21, 3x3 112, 5x5_reduce 14, 5x5 153,
  // pool_proj 21, affine 28, fc 75.
  EXPECT_EQ(params, 168 + 28 + 21 + 112 + 14 + 153 + 21 + 28 + 75);
}

TEST(Network, UnknownNamesListCloseMatches) {
  Network net(test::small_net(), Device::cpu);
  std::string e = error_of([&] { net.plan(Shape{1, 3, 10, 10}, {"inc/outptu"}); });
  EXPECT_NE(e.find("unknown layer or blob 'inc/outptu'; did you mean inc/output"), std::string::npos) << e;
  EXPECT_NE(e.find("available blobs: data, conv1, pool1"), std::string::npos) << e;
  Plan p = net.plan(Shape{1, 3, 10, 10});
  e = error_of([&] { net.activation(p, "incc/3x3"); });
  EXPECT_NE(e.find("did you mean inc/3x3"), std::string::npos) << e;
  e = error_of([&] { net.weight("fc8", 0); });
  EXPECT_NE(e.find("unknown layer 'fc8'; did you mean fc?"), std::string::npos) << e;
  // Nothing close: the list follows after a separator.
  e = error_of([&] { net.plan(Shape{1, 3, 10, 10}, {"zzzzzzzzzzzz"}); });
  EXPECT_NE(e.find("unknown layer or blob 'zzzzzzzzzzzz'; available blobs: data, conv1"), std::string::npos) << e;
}

TEST(Network, ShapeMismatchesNameTheLayerAndShapes) {
  Network net(test::small_net(), Device::cpu);
  // 12x12 input: the global pool still gives 14 features, so the network works at any size...
  EXPECT_NO_THROW(net.plan(Shape{1, 3, 12, 12}));
  // ...but not with the wrong number of channels.
  std::string e = error_of([&] { net.plan(Shape{1, 4, 10, 10}); });
  EXPECT_NE(e.find("takes 3 input channels"), std::string::npos) << e;

  Graph g = test::small_net();
  for (auto& l : g.layers)
    if (l.name == "fc") l.weights[0] = test::weights(Shape{5, 13, 1, 1}, 1, 13);
  Network bad(std::move(g), Device::cpu);
  e = error_of([&] { bad.plan(Shape{1, 3, 10, 10}); });
  EXPECT_NE(e.find("layer 'fc' (linear) with input [1, 14, 1, 1]"), std::string::npos) << e;
  EXPECT_NE(e.find("[5, 13, 1, 1]"), std::string::npos) << e;

  Graph h = test::small_net();
  h.layers.push_back(test::simple_layer(LayerKind::add, "bad_add", {"conv1", "pool1"}, "bad_add"));
  Network bad_add(std::move(h), Device::cpu);
  e = error_of([&] { bad_add.plan(Shape{1, 3, 10, 10}, {"bad_add"}); });
  EXPECT_NE(e.find("layer 'bad_add' (add) with input [1, 6, 10, 10], [1, 6, 5, 5]"), std::string::npos) << e;

  OwnedTensor wrong(Shape{1, 3, 11, 10});
  Plan p = net.plan(Shape{1, 3, 10, 10});
  EXPECT_THROW(net.forward(p, wrong), Error);
}

TEST(Network, MalformedGraphsAreRejectedNamingTheLayer) {
  Graph g = test::small_net();
  g.layers[2].inputs = {"nope"};
  std::string e = error_of([&] { Network(std::move(g), Device::cpu); });
  EXPECT_NE(e.find("layer 'pool1' (pool) reads blob 'nope'"), std::string::npos) << e;
  Graph h = test::small_net();
  h.layers[3].name = "pool1";
  e = error_of([&] { Network(std::move(h), Device::cpu); });
  EXPECT_NE(e.find("two layers are named 'pool1'"), std::string::npos) << e;
}

TEST(Network, PlansBelongToTheirNetworkAndBackwardNeedsAFlag) {
  Network a(test::small_net(), Device::cpu), b(test::small_net(), Device::cpu);
  Plan p = a.plan(Shape{1, 3, 10, 10});
  OwnedTensor x = input(p.input_shape(), 50);
  EXPECT_THROW(b.forward(p, x), Error);
  a.forward(p, x);
  const std::string e = error_of([&] { a.activation_grad(p, "prob"); });
  EXPECT_NE(e.find("without PlanOptions::backward"), std::string::npos) << e;
}

TEST(Network, CudaDeviceWithoutCudaIsAClearError) {
  if (cuda_available()) GTEST_SKIP() << "a CUDA device is available (covered by network_cuda_test)";
  const std::string e = error_of([&] { Network(test::small_net(), Device::cuda); });
  EXPECT_NE(e.find("device cuda requested but no CUDA device can be used"), std::string::npos) << e;
}

}  // namespace cuviz
