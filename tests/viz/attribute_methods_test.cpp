// The attribution methods (viz/attribute_methods.h): each definition on a tiny network against a
// direct computation (gradient x input, the noise tunnel's statistics, occlusion's averages, the
// quadratures, Grad-CAM's weights, the rules' sign), and every deterministic method on real
// GoogLeNet against Captum 0.6 (tests/fixtures/make_attribution_fixtures.py: cosine similarity
// >= 0.99 on two photos and two targets each; integrated gradients and occlusion, which cost 50
// gradients and 169 forwards a map, on the first target of each photo, with IG's completeness
// error against Captum's convergence delta).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "../nn/backward_rule_util.h"
#include "../nn/reference_net.h"
#include "io/image.h"
#include "loaders/model.h"
#include "nn/network.h"
#include "method_test_util.h"
#include "test_util.h"
#include "viz/attribute_methods.h"
#include "viz/attribution.h"
#include "viz/image_source.h"
#include "viz/lrp.h"
#include "lrp_nets.h"
#include "viz/method_ops.h"

namespace cuviz {
namespace {

// ---- definitions on a tiny network --------------------------------------------------------------

struct Tiny {
  Network net{test::unit_net(), Device::cpu};
  OwnedTensor x{Shape{2, 3, 16, 16}};
  std::vector<int> targets{2, 1};
  Tiny() { test::fill_uniform(x, 31, -1.0, 1.0); }
};

OwnedTensor plain_gradient(const Network& net, const Tensor& x, const std::vector<int>& targets) {
  std::vector<Objective> objs;
  for (int t : targets) objs.push_back(target_objective(net.graph(), t, false));
  Attributor a(net, objs, x.shape());
  return a.gradient(x);
}

TEST(AttributeMethods, GradientIsTheAttributorsGradientAndTimesInputIsItsProduct) {
  Tiny t;
  const OwnedTensor g = plain_gradient(t.net, t.x, t.targets);
  AttributionSettings s;
  s.batch = 1;  // batching must not change anything
  const AttributionMap a = attribute_gradient(t.net, t.x, t.targets, s);
  const AttributionMap b = attribute_gradient_x_input(t.net, t.x, t.targets, s);
  ASSERT_EQ(a.raw.shape(), t.x.shape());
  for (int64_t e = 0; e < g.numel(); ++e) {
    EXPECT_FLOAT_EQ(a.raw.data()[e], g.data()[e]);
    EXPECT_FLOAT_EQ(b.raw.data()[e], g.data()[e] * t.x.data()[e]);
  }
  const std::vector<double> scores = target_scores(t.net, t.x, t.targets, false);
  EXPECT_EQ(a.score, scores);
  EXPECT_NE(scores[0], scores[1]);
}

// The rules see d(score)/d(blob) with the score's sign: on the three-unit net (tests/nn/
// backward_rule_test.cpp's hand-computed answers, out = fc2(relu(fc1(x)))) guided backprop gives
// [2, 2, 0] and the deconvnet [2, 3, -1] at x = [1, 2, 3]; the plain gradient [1, 2, -1]. With the
// render loss's sign (dy negated) guided backprop would give [-1, 0, -1] instead.
TEST(AttributeMethods, RuleMethodsSeeTheScoresGradientWithItsSign) {
  Network net(test::three_unit_net(), Device::cpu);
  OwnedTensor x(Shape{1, 3, 1, 1});
  x.data()[0] = 1;
  x.data()[1] = 2;
  x.data()[2] = 3;
  const AttributionSettings s;
  auto values = [](const AttributionMap& r) { return std::vector<float>(r.raw.data(), r.raw.data() + 3); };
  EXPECT_EQ(values(attribute_gradient(net, x, {0}, s)), (std::vector<float>{1, 2, -1}));
  EXPECT_EQ(values(attribute_guided_backprop(net, x, {0}, s)), (std::vector<float>{2, 2, 0}));
  EXPECT_EQ(values(attribute_deconvnet(net, x, {0}, s)), (std::vector<float>{2, 3, -1}));
}

TEST(AttributeMethods, NoiseTunnelStatisticsAtZeroNoiseAreTheGradientsMoments) {
  Tiny t;
  const OwnedTensor g = plain_gradient(t.net, t.x, t.targets);
  AttributionSettings s;
  s.samples = 3;
  s.noise = 0;
  const AttributionMap sg = attribute_smoothgrad(t.net, t.x, t.targets, s);
  const AttributionMap sq = attribute_smoothgrad_sq(t.net, t.x, t.targets, s);
  const AttributionMap vg = attribute_vargrad(t.net, t.x, t.targets, s);
  for (int64_t e = 0; e < g.numel(); ++e) {
    EXPECT_NEAR(sg.raw.data()[e], g.data()[e], 1e-6 * (1 + std::abs(g.data()[e])));
    EXPECT_NEAR(sq.raw.data()[e], g.data()[e] * g.data()[e], 1e-6 * (1 + g.data()[e] * g.data()[e]));
    EXPECT_NEAR(vg.raw.data()[e], 0.f, 1e-6 * (1 + g.data()[e] * g.data()[e]));
  }
}

TEST(AttributeMethods, NoiseTunnelWithNoiseAveragesTheGradientsAtTheNoisyCopies) {
  // With noise, smoothgrad_sq - smoothgrad^2 = vargrad element by element (same seed, same copies),
  // vargrad >= 0, and smoothgrad differs from the plain gradient.
  Tiny t;
  AttributionSettings s;
  s.samples = 4;
  s.noise = 0.2;
  s.seed = 7;
  const AttributionMap sg = attribute_smoothgrad(t.net, t.x, t.targets, s);
  const AttributionMap sq = attribute_smoothgrad_sq(t.net, t.x, t.targets, s);
  const AttributionMap vg = attribute_vargrad(t.net, t.x, t.targets, s);
  const OwnedTensor g = plain_gradient(t.net, t.x, t.targets);
  double diff = 0;
  for (int64_t e = 0; e < g.numel(); ++e) {
    const double m = sg.raw.data()[e];
    EXPECT_NEAR(vg.raw.data()[e], sq.raw.data()[e] - m * m, 1e-5 * (1 + sq.raw.data()[e]));
    EXPECT_GE(vg.raw.data()[e], -1e-6f);
    diff += std::abs(m - g.data()[e]);
  }
  EXPECT_GT(diff, 1e-3);
  s.samples = 0;
  EXPECT_THROW(attribute_smoothgrad(t.net, t.x, t.targets, s), Error);
}

TEST(AttributeMethods, QuadraturesAreCaptums) {
  std::vector<double> a, w;
  quadrature("gausslegendre", 5, a, w);
  // Gauss-Legendre with n points integrates t^k on [0, 1] exactly up to k = 2n - 1.
  for (int k = 0; k <= 9; ++k) {
    double q = 0;
    for (size_t i = 0; i < a.size(); ++i) q += w[i] * std::pow(a[i], k);
    EXPECT_NEAR(q, 1.0 / (k + 1), 1e-13) << "t^" << k;
  }
  // numpy.polynomial.legendre.leggauss(2): nodes -+1/sqrt(3), weights 1 -> alphas (1 -+ 1/sqrt 3)/2, weights 1/2.
  quadrature("gausslegendre", 2, a, w);
  EXPECT_NEAR(std::min(a[0], a[1]), 0.5 * (1 - 1 / std::sqrt(3.0)), 1e-15);
  EXPECT_NEAR(w[0], 0.5, 1e-15);
  quadrature("riemann_trapezoid", 5, a, w);
  EXPECT_EQ(a, (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
  EXPECT_EQ(w, (std::vector<double>{0.1, 0.2, 0.2, 0.2, 0.1}));  // Captum's: 1/n, halved at the ends
  quadrature("riemann_left", 4, a, w);
  EXPECT_EQ(a, (std::vector<double>{0, 0.25, 0.5, 0.75}));
  quadrature("riemann_middle", 2, a, w);
  EXPECT_EQ(a, (std::vector<double>{0.25, 0.75}));
  quadrature("riemann_right", 2, a, w);
  EXPECT_EQ(a, (std::vector<double>{0.5, 1}));
  EXPECT_THROW(quadrature("simpson", 5, a, w), Error);
  EXPECT_THROW(quadrature("riemann_left", 1, a, w), Error);
}

TEST(AttributeMethods, OcclusionAveragesTheScoreDropsOfThePatchesCoveringAPixel) {
  Tiny t;
  AttributionSettings s;
  s.patch = 6;
  s.stride = 4;  // windows at 0, 4, 8, 12 (the last clipped to 12..15)
  s.batch = 5;
  const AttributionMap r = attribute_occlusion(t.net, t.x, t.targets, s);
  // Pixel (y, x) = (5, 13) is covered by windows rows {0: 0-5, 1: 4-9} x cols {2: 8-13, 3: 12-15}.
  for (int i = 0; i < 2; ++i) {
    const std::vector<double> s0 = target_scores(t.net, t.x.batch(i, 1), {t.targets[size_t(i)]}, false);
    double sum = 0;
    for (int wy : {0, 4})
      for (int wx : {8, 12}) {
        OwnedTensor o(Shape{1, 3, 16, 16});
        copy(t.x.batch(i, 1), o);
        for (int c = 0; c < 3; ++c)
          for (int y = wy; y < std::min(wy + 6, 16); ++y)
            for (int x = wx; x < std::min(wx + 6, 16); ++x) o.at(0, c, y, x) = 0.f;
        sum += s0[0] - target_scores(t.net, o, {t.targets[size_t(i)]}, false)[0];
      }
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(r.raw.at(i, c, 5, 13), sum / 4, 1e-5) << "image " << i;
  }
  s.patch = 17;
  EXPECT_THROW(attribute_occlusion(t.net, t.x, t.targets, s), Error);
}

TEST(AttributeMethods, BaselinesAreTheZeroInputABlackImageAndABlur) {
  Tiny t;
  const OwnedTensor z = ig_baseline(t.net, t.x, "zero");
  const OwnedTensor b = ig_baseline(t.net, t.x, "black");
  const OwnedTensor u = ig_baseline(t.net, t.x, "blur");
  const Preprocess pre = Preprocess::from_meta(t.net.graph().meta);
  OwnedTensor img(b.shape());
  input_to_image(pre, b, img);  // the black image: every value 0
  for (int64_t e = 0; e < z.numel(); ++e) {
    EXPECT_EQ(z.data()[e], 0.f);
    EXPECT_NEAR(img.data()[e], 0.f, 1e-6);
  }
  double var_x = 0, var_u = 0;  // a blur lowers the variance of the neighbour differences
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x + 1 < 16; ++x) {
        var_x += std::pow(t.x.at(0, c, y, x + 1) - t.x.at(0, c, y, x), 2);
        var_u += std::pow(u.at(0, c, y, x + 1) - u.at(0, c, y, x), 2);
      }
  EXPECT_LT(var_u, 0.1 * var_x);
  EXPECT_THROW(ig_baseline(t.net, t.x, "grey"), Error);
}

TEST(AttributeMethods, IntegratedGradientsCompletenessErrorShrinksWithTheSteps) {
  // The tiny net is piecewise linear along the path (ReLU and max-pool kinks), so the quadratures
  // converge like a Riemann sum: the completeness error sum(IG) - (S(x) - S(x')) at 512 midpoint
  // steps is below 0.1% of S(x) - S(x') and below the error at 8 steps.
  Tiny t;
  AttributionSettings s;
  s.ig_method = "riemann_middle";
  s.steps = 8;
  const AttributionMap coarse = attribute_integrated_gradients(t.net, t.x, t.targets, s);
  s.steps = 512;
  s.batch = 64;
  const AttributionMap fine = attribute_integrated_gradients(t.net, t.x, t.targets, s);
  for (int i = 0; i < 2; ++i) {
    const double delta = fine.score[size_t(i)] - fine.baseline_score[size_t(i)];
    std::printf("  image %d: S(x) - S(x') = %.6g, error at 8 steps %.3g, at 512 steps %.3g\n", i, delta,
                coarse.completeness_error[size_t(i)], fine.completeness_error[size_t(i)]);
    EXPECT_GT(std::abs(delta), 1e-2);
    EXPECT_LT(std::abs(fine.completeness_error[size_t(i)]), 1e-3 * std::abs(delta)) << "image " << i;
    EXPECT_LT(std::abs(fine.completeness_error[size_t(i)]), std::abs(coarse.completeness_error[size_t(i)]));
  }
}

TEST(AttributeMethods, GradCamIsTheReluOfTheGradientWeightedChannels) {
  Tiny t;
  AttributionSettings s;
  s.layer = "inc/output";
  const AttributionMap r = attribute_grad_cam(t.net, t.x, t.targets, s);
  std::vector<Objective> objs;
  for (int k : t.targets) objs.push_back(target_objective(t.net.graph(), k, false));
  Attributor a(t.net, objs, t.x.shape(), AttributorOptions{.layers = {"inc/output"}});
  a.gradient(t.x);
  const OwnedTensor act = a.activation("inc/output"), g = a.layer_gradient("inc/output");
  ASSERT_EQ(r.raw.shape(), (Shape{2, 1, act.h(), act.w()}));
  ASSERT_GT(act.h() * act.w(), 1);
  int positive = 0;
  for (int i = 0; i < 2; ++i)
    for (int y = 0; y < act.h(); ++y)
      for (int x = 0; x < act.w(); ++x) {
        double cam = 0;
        for (int c = 0; c < act.c(); ++c) {
          double alpha = 0;
          for (int yy = 0; yy < act.h(); ++yy)
            for (int xx = 0; xx < act.w(); ++xx) alpha += g.at(i, c, yy, xx);
          cam += alpha / (act.h() * act.w()) * act.at(i, c, y, x);
        }
        EXPECT_NEAR(r.raw.at(i, 0, y, x), std::max(cam, 0.0), 1e-5 * (1 + std::abs(cam)));
        positive += cam > 0;
      }
  EXPECT_GT(positive, 0);
  // The layer's gradient is the tap's: compare with finite differences being out of scope here;
  // GoogLeNet against Captum checks it (GoogLeNetAgreesWithCaptum).
  s.layer = "nope";
  EXPECT_THROW(attribute_grad_cam(t.net, t.x, t.targets, s), Error);
  s.layer = "gap";
  EXPECT_THROW(attribute_grad_cam(t.net, t.x, t.targets, s), Error);
}

TEST(AttributeMethods, TheTableHasEveryMethodOnce) {
  const std::vector<std::string> want = {"gradient",        "gradient_x_input", "smoothgrad", "smoothgrad_sq",
                                         "vargrad",         "integrated_gradients", "guided_backprop",
                                         "deconvnet",       "grad_cam",         "guided_grad_cam", "occlusion",
                                         "lrp"};
  for (const std::string& n : want) EXPECT_NE(find_attribution_method(n), nullptr) << n;
  EXPECT_EQ(find_attribution_method("saliency"), nullptr);
  EXPECT_GE(attribution_methods().size(), want.size());
}

// The table's lrp entry is viz/lrp.h's lrp() with the composite `--rule` names, and its score the
// target's logit; an unknown composite is an error naming the known ones.
TEST(AttributeMethods, LrpEntryIsTheLrpLibraryWithTheRulesComposite) {
  Network net(test::conservation_net(true), Device::cpu);
  OwnedTensor x(Shape{2, 3, 10, 10});
  test::fill_uniform(x, 7, -1.0, 1.0);
  const std::vector<int> targets{3, 1};
  const AttributionMethod* m = find_attribution_method("lrp");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(attribution_rules(), lrp_composites());
  for (const char* composite : {"epsilon_plus", "epsilon_gamma_box"}) {
    AttributionSettings s;
    s.rule = composite;
    const AttributionMap a = m->run(net, x, targets, s, {});
    LrpOptions o;
    o.composite = composite;
    const OwnedTensor want = lrp(net, x, targets, o);
    ASSERT_EQ(a.raw.shape(), want.shape());
    double diff = 0, norm = 0;
    for (int64_t e = 0; e < want.numel(); ++e) {
      diff = std::max(diff, double(std::fabs(a.raw.data()[e] - want.data()[e])));
      norm = std::max(norm, double(std::fabs(want.data()[e])));
    }
    EXPECT_GT(norm, 0) << composite;
    EXPECT_EQ(diff, 0) << composite;
    EXPECT_EQ(a.score, target_scores(net, x, targets, false)) << composite;
  }
  AttributionSettings bad;
  bad.rule = "epsilon_omega";
  EXPECT_THROW(m->run(net, x, targets, bad, {}), Error);
}

// ---- GoogLeNet against Captum ------------------------------------------------------------------

// A float16 C-order .npy (the fixtures' format) as floats, with its dims.
std::vector<float> read_npy_f16(const std::string& path, std::vector<int64_t>& dims) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(cat("cannot read ", path));
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CUVIZ_CHECK(all.size() > 10 && all.compare(0, 6, "\x93NUMPY") == 0, path, ": not an .npy");
  const size_t hlen = size_t(uint8_t(all[8])) | (size_t(uint8_t(all[9])) << 8);
  const std::string header = all.substr(10, hlen);
  CUVIZ_CHECK(header.find("'<f2'") != std::string::npos, path, ": not float16");
  dims.clear();
  const size_t open = header.find('(', header.find("shape")), close = header.find(')', open);
  std::stringstream ss(header.substr(open + 1, close - open - 1));
  std::string item;
  while (std::getline(ss, item, ','))
    if (item.find_first_not_of(' ') != std::string::npos) dims.push_back(std::stoll(item));
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  const char* p = all.data() + 10 + hlen;
  CUVIZ_CHECK(int64_t(all.size() - 10 - hlen) == 2 * n, path, ": truncated");
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    uint16_t h;
    std::memcpy(&h, p + 2 * k, 2);
    const int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
    out[size_t(k)] = float(sign ? -v : v);
  }
  return out;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    ab += double(a[k]) * b[k];
    aa += double(a[k]) * a[k];
    bb += double(b[k]) * b[k];
  }
  return ab / std::sqrt(aa * bb);
}

// Channel(s) of raw image i at every `sub`-th row and column, as the fixture stores it.
std::vector<float> subsampled(const Tensor& raw, int i, int channels, int sub) {
  std::vector<float> v;
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < raw.h(); y += sub)
      for (int x = 0; x < raw.w(); x += sub) v.push_back(raw.at(i, c, y, x));
  return v;
}

const std::string kFixtures = std::string(CUVIZ_SOURCE_DIR) + "/tests/fixtures/attribution/";

TEST(AttributeMethods, GoogLeNetAgreesWithCaptum) {
  std::unique_ptr<Network> net;
  try {
    net = std::make_unique<Network>(load_model("googlenet"), Device::cpu);
  } catch (const Error& e) {
    GTEST_SKIP() << "googlenet not found: " << e.what();
  }
  std::ifstream mf(kFixtures + "manifest.json");
  ASSERT_TRUE(mf) << "missing " << kFixtures << "manifest.json (tests/fixtures/make_attribution_fixtures.py)";
  const nlohmann::json m = nlohmann::json::parse(mf);
  const int sub = m["subsample"];
  const int size = m["size"];
  for (const auto& [image, entry] : m["images"].items()) {
    const std::string photo = std::string(CUVIZ_SHARED_DIR) + "/images/" + image + ".png";
    const OwnedTensor x1 = load_network_input(photo, net->graph().meta, 1, size);
    // The same input as torch's: sum and sum of squares (float64) to 1e-6.
    double sum = 0, sq = 0;
    for (int64_t e = 0; e < x1.numel(); ++e) {
      sum += x1.data()[e];
      sq += double(x1.data()[e]) * x1.data()[e];
    }
    EXPECT_NEAR(sum, double(entry["input_sum"]), 1e-6 * double(entry["input_sum_sq"])) << image;
    EXPECT_NEAR(sq, double(entry["input_sum_sq"]), 1e-6 * double(entry["input_sum_sq"])) << image;
    const std::vector<int> targets = entry["targets"].get<std::vector<int>>();
    OwnedTensor x(Shape{2, 3, size, size});
    copy(x1, x.batch(0, 1));
    copy(x1, x.batch(1, 1));
    AttributionSettings s;
    s.ig_method = entry["ig_method"];
    s.baseline = entry["ig_baseline"];
    s.steps = m["ig_steps"];
    s.patch = m["occlusion"]["patch"];
    s.stride = m["occlusion"]["stride"];
    auto expect_close = [&](const std::string& method, const AttributionMap& r, int channels, int step,
                            const std::string& file_suffix, double want) {
      for (int j = 0; j < r.raw.n(); ++j) {
        std::vector<int64_t> dims;
        const std::string file = kFixtures + image + "_" + std::to_string(targets[size_t(j)]) + "_" + file_suffix + ".npy";
        const std::vector<float> ref = read_npy_f16(file, dims);
        const std::vector<float> ours = subsampled(r.raw, j, channels, step);
        ASSERT_EQ(ours.size(), ref.size()) << file;
        const double cs = cosine(ours, ref);
        std::printf("  %-9s target %4d  %-22s cosine %.7f  (1 - cosine %.1e)\n", image.c_str(), targets[size_t(j)],
                    file_suffix.c_str(), cs, 1 - cs);
        EXPECT_GE(cs, want) << method << " " << image << " target " << targets[size_t(j)];
      }
    };
    expect_close("gradient", attribute_gradient(*net, x, targets, s), 3, sub, "gradient", 0.99);
    expect_close("gradient_x_input", attribute_gradient_x_input(*net, x, targets, s), 3, sub, "gradient_x_input", 0.99);
    // The costly ones (50 gradients, 169 forwards) on the first target only, to keep the test short.
    const AttributionMap ig = attribute_integrated_gradients(*net, x.batch(0, 1), {targets[0]}, s);
    expect_close("integrated_gradients", ig, 3, sub, "integrated_gradients", 0.99);
    // IG's completeness: the error sum(IG) - (S(x) - S(x')) is Captum's convergence delta (same
    // quadrature), and with 50 Gauss-Legendre steps from the zero baseline under 5% of S(x) - S(x').
    const double delta = ig.score[0] - ig.baseline_score[0], err = ig.completeness_error[0];
    std::printf("  %-9s target %4d  IG (%s, %s) completeness error %.4g (Captum's delta %.4g) of S(x) - S(x') = %.4g "
                "(%.2f%%)\n",
                image.c_str(), targets[0], s.ig_method.c_str(), s.baseline.c_str(), err, double(entry["ig_delta"][0]),
                delta, 100 * std::abs(err / delta));
    EXPECT_NEAR(err, double(entry["ig_delta"][0]), 1e-2 * std::abs(delta));
    if (s.ig_method == "gausslegendre") EXPECT_LT(std::abs(err), 0.05 * std::abs(delta));
    expect_close("guided_backprop", attribute_guided_backprop(*net, x, targets, s), 3, sub, "guided_backprop", 0.99);
    expect_close("deconvnet", attribute_deconvnet(*net, x, targets, s), 3, sub, "deconvnet", 0.99);
    for (const std::string layer : m["grad_cam_layers"]) {
      s.layer = layer;
      expect_close("grad_cam", attribute_grad_cam(*net, x, targets, s), 1, 1,
                   "grad_cam_" + layer.substr(0, layer.find('/')), 0.99);
    }
    expect_close("occlusion", attribute_occlusion(*net, x.batch(0, 1), {targets[0]}, s), 1, sub, "occlusion", 0.99);
  }
}

}  // namespace
}  // namespace cuviz
