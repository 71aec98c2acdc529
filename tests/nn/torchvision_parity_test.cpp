// Parity of the built-in torchvision architectures (loaders/torchvision_models.h) with PyTorch:
// a safetensors file holding torchvision's exact state dict (names, shapes, int64
// num_batches_tracked, GoogLeNet's aux heads) is written from a weight formula both sides compute
// bit for bit; logits, per-channel means of named blobs and input gradients are compared with
// float64 PyTorch results made by tests/fixtures/make_torchvision_fixtures.py.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <unistd.h>

#include "loaders/model.h"
#include "io/npy.h"
#include "loaders/safetensors.h"
#include "loaders/torchvision_models.h"
#include "nn/network.h"
#include "test_util.h"

namespace cuviz {
namespace {

using namespace cuviz::test;

std::string fixture(const std::string& name) {
  return std::string(CUVIZ_SOURCE_DIR) + "/tests/fixtures/torchvision/" + name;
}

// --- the weight formula (make_torchvision_fixtures.py documents it; both must agree) ----------

uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

// u_i in [-1, 1): the top 24 bits of MurmurHash3's finaliser of i + fnv1a64(name) * golden.
void formula_uniform(const std::string& name, int64_t n, float* out) {
  const uint64_t base = fnv1a64(name) * 0x9E3779B97F4A7C15ull;
  for (int64_t i = 0; i < n; ++i) {
    uint64_t x = uint64_t(i) + base;
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDull;
    x ^= x >> 33;
    x *= 0xC4CEB9FE1A85EC53ull;
    x ^= x >> 33;
    out[i] = float((int64_t(x >> 40) - (int64_t(1) << 23)) / double(1 << 23));
  }
}

std::vector<float> formula_tensor(const std::string& name, const std::vector<int64_t>& dims) {
  int64_t n = 1, fan_in = 1;
  for (size_t d = 0; d < dims.size(); ++d) {
    n *= dims[d];
    if (d > 0) fan_in *= dims[d];
  }
  std::vector<float> v(static_cast<size_t>(n));
  formula_uniform(name, n, v.data());
  float scale = 0.f, offset = 0.f;
  if (name.ends_with("running_var")) {
    scale = 0.5f, offset = 1.f;
  } else if (name.ends_with("bn.weight")) {
    scale = 0.25f, offset = 1.f;
  } else if (name.ends_with("bias") || name.ends_with("running_mean")) {
    scale = 0.1f;
  } else if (name.ends_with("weight")) {
    scale = float(std::sqrt(6.0 / double(fan_in)));
  } else {
    ADD_FAILURE() << "no formula for tensor " << name;
  }
  for (auto& x : v) x = offset + scale * x;  // float32: one rounding per operation, like NumPy's
  return v;
}

OwnedTensor formula_input(Shape s) {
  OwnedTensor x(s);
  formula_uniform("input", s.numel(), x.data());
  for (int64_t i = 0; i < s.numel(); ++i) x.data()[i] *= 2.f;
  return x;
}

// Writes <arch>'s state dict (tests/fixtures/torchvision/<arch>_state_dict.json: torchvision's
// names, shapes and dtypes) with values from the formula, plus `extra` F32 tensors.
void write_formula_file(const std::string& path, const std::string& arch,
                        const std::map<std::string, std::string>& metadata,
                        const std::vector<std::pair<std::string, std::vector<int64_t>>>& extra = {}) {
  std::ifstream in(fixture(arch + "_state_dict.json"));
  const nlohmann::json rows = nlohmann::json::parse(in);
  std::vector<std::vector<float>> floats;
  floats.reserve(rows.size() + extra.size());
  const int64_t zero = 0;
  std::vector<SafetensorsEntry> entries;
  for (const auto& r : rows) {
    SafetensorsEntry e;
    e.name = r["name"].get<std::string>();
    e.dims = r["shape"].get<std::vector<int64_t>>();
    e.dtype = r["dtype"].get<std::string>();
    if (e.dtype == "I64") {
      e.data = &zero;  // num_batches_tracked: one int64
    } else {
      floats.push_back(formula_tensor(e.name, e.dims));
      e.data = floats.back().data();
    }
    entries.push_back(std::move(e));
  }
  for (const auto& [name, dims] : extra) {
    floats.push_back(formula_tensor(name, dims));
    entries.push_back({name, dims, floats.back().data()});
  }
  write_safetensors(path, entries, metadata);
}

// The formula files of each architecture, written once per test program, removed at exit.
class FormulaFiles {
 public:
  ~FormulaFiles() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) {
    if (dir_.empty()) {
      dir_ = std::filesystem::temp_directory_path() / cat("cuviz_tv_parity_", ::getpid());
      std::filesystem::create_directories(dir_);
    }
    return (dir_ / (name + ".safetensors")).string();
  }
  std::string state_dict(const std::string& arch) {
    const std::string p = path(arch);
    if (!std::filesystem::exists(p)) write_formula_file(p, arch, {{"format", "pt"}});
    return p;
  }

 private:
  std::filesystem::path dir_;
};

FormulaFiles& formula_files() {
  static FormulaFiles files;
  return files;
}

// --- comparisons -------------------------------------------------------------------------------

OwnedTensor fixture_tensor(const std::string& name) { return read_npy_tensor(fixture(name + ".npy")); }

double max_abs(const Tensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, double(std::abs(t.data()[i])));
  return m;
}

// x[:, :, ::step, ::step] of a dense CPU tensor.
OwnedTensor subsample(const Tensor& x, int step) {
  OwnedTensor out({x.n(), x.c(), (x.h() + step - 1) / step, (x.w() + step - 1) / step});
  for (int n = 0; n < x.n(); ++n)
    for (int c = 0; c < x.c(); ++c)
      for (int h = 0; h < out.h(); ++h)
        for (int w = 0; w < out.w(); ++w) out.at(n, c, h, w) = x.at(n, c, h * step, w * step);
  return out;
}

// Tolerance, relative to the largest reference magnitude of each compared tensor. cuviz runs in
// float32 (unit roundoff 6e-8) with SGEMM sums of up to 4608 (VGG conv) and 25088 (VGG
// classifier.0) terms, through 9 to 19 layers forward and back; the reference is float64, so the
// whole difference is cuviz's rounding, about sqrt(terms) * 6e-8 per layer, growing with depth:
// 1e-4. Observed: 6e-6 at most (GoogLeNet's inception5b channel means), 1e-6 on gradients.
constexpr double kRelTol = 1e-4;

// Every element within `rel` of the largest reference magnitude: float32 against a float64
// reference, where the error of a sum of many terms scales with the terms, not with the result.
::testing::AssertionResult close_to_fixture(const Tensor& got, const Tensor& want, double rel) {
  return all_close(got, want, rel * max_abs(want));
}

// For input gradients of large inputs: all but `fraction` of the elements within `rel` of the
// largest reference magnitude, and every element within `outlier_rel`. A max pool's backward sends
// a window's gradient to its maximum; where two window values are closer than the forward's
// float32 error, float32 and float64 may pick different elements and that path's gradient lands
// one pixel over. Such near-ties are rare but certain among VGG16's 1.5 M pooling windows at
// 224 x 224: PyTorch's own float32 gradient differs from its float64 one by up to 6.4e-2 of the
// maximum at 0.44 % of the pixels (cuviz: 4.6e-3 at 0.18 %), while the median error of both is
// 8e-8. A wrong weight layout, padding or pool rule changes most elements, not under 1 %.
::testing::AssertionResult mostly_close(const Tensor& got, const Tensor& want, double rel, double fraction,
                                        double outlier_rel) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << "shape " << got.shape().str() << " vs " << want.shape().str();
  const double scale = max_abs(want);
  int64_t beyond = 0;
  double worst = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double e = std::abs(double(got.data()[i]) - want.data()[i]) / scale;
    beyond += !(e <= rel);
    worst = std::max(worst, std::isfinite(e) ? e : INFINITY);
  }
  const bool ok = beyond <= fraction * double(got.numel()) && worst <= outlier_rel;
  return (ok ? ::testing::AssertionSuccess() : ::testing::AssertionFailure())
         << beyond << " of " << got.numel() << " elements beyond " << rel << " of the maximum " << scale
         << " (allowed " << fraction * 100 << " %), largest error " << worst << " of it (allowed " << outlier_rel
         << ")";
}

// Channel means over (n, h, w) of each blob in <case>_blob_means.txt against the fixture.
void check_blob_means(const Network& net, const Plan& plan, const std::string& name) {
  const OwnedTensor want = fixture_tensor(name + "_blob_means");
  std::ifstream list(fixture(name + "_blob_means.txt"));
  std::string blob;
  int count = 0;
  int64_t at = 0;
  while (list >> blob >> count) {
    const Tensor a = net.activation(plan, blob);
    ASSERT_EQ(a.c(), count) << blob;
    OwnedTensor got({1, count, 1, 1});
    const int64_t hw = int64_t(a.h()) * a.w();
    for (int c = 0; c < count; ++c) {
      double s = 0;
      for (int n = 0; n < a.n(); ++n)
        for (int64_t k = 0; k < hw; ++k) s += a.image(n)[c * hw + k];
      got.data()[c] = float(s / double(a.n() * hw));
    }
    const Tensor ref(want.data() + at, {1, count, 1, 1});
    EXPECT_TRUE(close_to_fixture(got, ref, kRelTol)) << "blob " << blob;
    at += count;
  }
  EXPECT_EQ(at, want.numel()) << "the list and the values of " << name << " disagree";
}

std::vector<std::string> blob_list(const std::string& name) {
  std::ifstream list(fixture(name + "_blob_means.txt"));
  std::vector<std::string> out;
  std::string blob;
  int count;
  while (list >> blob >> count) out.push_back(blob);
  return out;
}

// Forward + logits + blob means + gradient of sum(objective * logits) for one fixture case.
// Small inputs have few pooling windows and no near-tie in these fixtures (largest gradient error
// 1e-6 of the maximum), so every element is checked; `tie_fraction` > 0 admits near-ties (see
// mostly_close) for large ones.
void check_case(const std::string& arch, const std::string& name, Shape input, const std::string& logits_blob,
                int grad_step, double tie_fraction) {
  TorchvisionOptions o;
  o.input_size = input.h;
  Network net(load_torchvision(formula_files().state_dict(arch), arch, o), Device::cpu);
  std::vector<std::string> outputs = blob_list(name);
  outputs.push_back(logits_blob);
  Plan plan = net.plan(input, outputs, {.backward = true});
  const OwnedTensor x = formula_input(input);
  net.forward(plan, x);

  const Tensor logits = net.activation(plan, logits_blob);
  const OwnedTensor want_logits = fixture_tensor(name + "_logits");
  EXPECT_TRUE(close_to_fixture(logits, want_logits, kRelTol)) << "logits";
  check_blob_means(net, plan, name);

  const Tensor seed = net.activation_grad(plan, logits_blob);
  formula_uniform("objective", seed.numel(), seed.data());
  OwnedTensor dx(input);
  net.backward_to_input(plan, dx);
  const OwnedTensor got_dx = subsample(dx, grad_step);
  const OwnedTensor want_dx = fixture_tensor(name + "_grad_logits");
  if (tie_fraction == 0)
    EXPECT_TRUE(close_to_fixture(got_dx, want_dx, kRelTol)) << "input gradient";
  else
    EXPECT_TRUE(mostly_close(got_dx, want_dx, kRelTol, tie_fraction, 0.1)) << "input gradient";
}

TEST(TorchvisionParity, GoogLeNetLogitsBlobsAndInputGradient) {
  check_case("googlenet", "googlenet_64", {2, 3, 64, 64}, "fc", 1, 0);
}

TEST(TorchvisionParity, GoogLeNetChannelObjectiveOnTruncatedPlan) {
  TorchvisionOptions o;
  o.input_size = 64;
  Network net(load_torchvision(formula_files().state_dict("googlenet"), "googlenet", o), Device::cpu);
  const Shape input{2, 3, 64, 64};
  Plan plan = net.plan(input, {"inception4a"}, {.backward = true});
  for (const auto& l : plan.layers()) EXPECT_FALSE(l.starts_with("inception4b") || l == "fc") << l;
  net.forward(plan, formula_input(input));
  // d(mean over n, h, w of channel 300) / d(inception4a) = 1 / (N H W) on that channel.
  const Tensor seed = net.activation_grad(plan, "inception4a").channels(300, 1);
  const double share = 1.0 / double(seed.n() * seed.h() * seed.w());
  for (int n = 0; n < seed.n(); ++n)
    for (int64_t k = 0; k < int64_t(seed.h()) * seed.w(); ++k) seed.image(n)[k] = float(share);
  OwnedTensor dx(input);
  net.backward_to_input(plan, dx);
  EXPECT_TRUE(close_to_fixture(dx, fixture_tensor("googlenet_64_grad_channel"), kRelTol));
}

TEST(TorchvisionParity, Vgg16At32FoldsTheReplicatingAdaptivePool) {
  check_case("vgg16", "vgg16_32", {2, 3, 32, 32}, "classifier.6", 1, 0);
}

TEST(TorchvisionParity, Vgg19At32) {
  check_case("vgg19", "vgg19_32", {2, 3, 32, 32}, "classifier.6", 1, 0);
}

// AdaptiveAvgPool2d(7) on 7x7 features: the identity, as a 1x1 average pool named avgpool.
TEST(TorchvisionParity, Vgg16At224) {
  check_case("vgg16", "vgg16_224", {1, 3, 224, 224}, "classifier.6", 8, 0.01);
}

TEST(TorchvisionParity, GraphNamesFollowTorchvisionModules) {
  // Through model resolution: googlenet.safetensors names its architecture; default input 224.
  Network net(load_model(formula_files().state_dict("googlenet")), Device::cpu);
  const Graph& g = net.graph();
  EXPECT_EQ(g.name, "googlenet");
  EXPECT_EQ(g.input_shape, (Shape{1, 3, 224, 224}));
  EXPECT_FALSE(g.meta.bgr);
  EXPECT_EQ(g.meta.value_scale, 1.f);
  EXPECT_FLOAT_EQ(g.meta.mean[0], 0.485f);
  EXPECT_FLOAT_EQ(g.meta.std[2], 0.225f);
  // torchvision documents 6,624,904 parameters (no aux heads), counting gamma and beta of every
  // BatchNorm; folding replaces those 2 O values of each BasicConv2d by one bias of O values.
  // transform_input's 6 constants are not parameters.
  int64_t params = 0, folded_channels = 0;
  for (const auto& l : g.layers) {
    for (const auto& w : l.weights) params += w.numel();
    if (l.kind == LayerKind::conv) folded_channels += l.weights[0].n();
  }
  EXPECT_EQ(params - 6, 6624904 - folded_channels);
  for (const char* name : {"transform_input", "conv1", "conv1.bn", "maxpool1", "inception4a",
                           "inception4a.branch3.1", "inception4a.branch4.0", "avgpool", "fc"})
    EXPECT_NE(g.producer(name), nullptr) << name;
  Plan plan = net.plan({1, 3, 224, 224});
  EXPECT_EQ(net.describe(plan).back().output, (Shape{1, 1000, 1, 1}));
}

TEST(TorchvisionParity, TransformInputIsTheImageNetToHalfAffine) {
  // Without transform_input (here via the file's metadata), the network must give the same logits
  // on x * std / 0.5 + (mean - 0.5) / 0.5 as the default network on x.
  const std::string plain = formula_files().path("googlenet_plain");
  write_formula_file(plain, "googlenet", {{"transform_input", "False"}});
  TorchvisionOptions o;
  o.input_size = 64;
  Network with(load_torchvision(formula_files().state_dict("googlenet"), "googlenet", o), Device::cpu);
  Network without(load_torchvision(plain, "", o), Device::cpu);
  EXPECT_NE(with.graph().producer("transform_input"), nullptr);
  EXPECT_EQ(without.graph().producer("transform_input"), nullptr);
  EXPECT_EQ(without.graph().layers.front().inputs.front(), "input");

  const Shape input{2, 3, 64, 64};
  const OwnedTensor x = formula_input(input);
  OwnedTensor x_half(input);
  const double mean[3] = {0.485, 0.456, 0.406}, std_dev[3] = {0.229, 0.224, 0.225};
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int h = 0; h < 64; ++h)
        for (int w = 0; w < 64; ++w)
          x_half.at(n, c, h, w) = float(x.at(n, c, h, w) * std_dev[c] / 0.5 + (mean[c] - 0.5) / 0.5);
  Plan pw = with.plan(input), po = without.plan(input);
  with.forward(pw, x);
  without.forward(po, x_half);
  // Same network on inputs equal to within one float rounding of the affine map: kRelTol.
  EXPECT_TRUE(close_to_fixture(without.activation(po, "fc"), with.activation(pw, "fc"), kRelTol));
  EXPECT_TRUE(close_to_fixture(with.activation(pw, "fc"), fixture_tensor("googlenet_64_logits"), kRelTol));
}

TEST(TorchvisionParity, TensorsOutsideTheArchitectureAreAnError) {
  // A conv bias GoogLeNet's BasicConv2d does not have (e.g. a file from another variant).
  const std::string p = formula_files().path("googlenet_extra");
  write_formula_file(p, "googlenet", {}, {{"inception3a.branch1.conv.bias", {64}}});
  try {
    load_torchvision(p);
    ADD_FAILURE() << "no error for a tensor outside the architecture";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(p), std::string::npos) << m;
    EXPECT_NE(m.find("'inception3a.branch1.conv.bias' [64] is not part of torchvision's googlenet"),
              std::string::npos)
        << m;
  }
}

TEST(TorchvisionParity, VggInputSizeWithUnevenAdaptiveWindowsIsAnError) {
  // 288 -> 9x9 features: AdaptiveAvgPool2d(7) windows of 2 and 3 elements, neither a pool nor
  // smaller than 7x7.
  TorchvisionOptions o;
  o.input_size = 288;
  try {
    load_torchvision(formula_files().state_dict("vgg19"), "vgg19", o);
    ADD_FAILURE() << "no error for input size 288";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input size 288 gives [1, 512, 9, 9] features"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace cuviz
