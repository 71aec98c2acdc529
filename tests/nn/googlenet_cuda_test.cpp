// Whole-network GPU checks on the real BVLC GoogLeNet (shared/weights/bvlc_googlenet): the logits
// of two preprocessed photographs and the input gradient of a channel objective, GPU vs CPU, and
// the same forward and gradient with the cuDNN/cuBLAS oracle backend vs the native kernels.
// Errors are normalised: ||got - want|| / ||want|| over all elements, after a NaN/Inf check.
#include <cstring>

#include "kernels/backend.h"
#include "kernels/cudnn_oracle.h"
#include "loaders/model.h"
#include "io/npy.h"
#include "nn/network.h"
#include "test_util.h"

namespace cuviz {

namespace {

// FP32 on both sides, different summation orders (CPU: Winograd / im2col + blocked GEMM; GPU:
// tiled GEMM with FMA, or cuDNN's algorithms): each op rounds its sums of up to K = 4608 terms to
// about sqrt(K) * 6e-8 ~ 4e-6 relative, and ~60 layers compound that to ~1e-5 in the normalised
// error of the logits. The bound, 1e-4, leaves a factor of ~10. For the gradient the same
// holds, plus the rare ReLU or max-pool arg-max that flips on a pre-activation within rounding of
// zero (or of a tie); each flip moves one element's share of the gradient, small against the
// norm of 150k elements.
constexpr double kRelTol = 1e-4;

const char* kLogits = "loss3/classifier";
const char* kChannelBlob = "inception_4c/output";
constexpr int kChannel = 97;

std::string weights_dir() { return std::string(CUVIZ_SHARED_DIR) + "/weights"; }

Graph googlenet() { return load_model(weights_dir() + "/bvlc_googlenet"); }

// The two reference photographs, preprocessed as the model was trained, as one batch {2, 3, 224, 224}.
OwnedTensor photographs() {
  const OwnedTensor a = read_npy_tensor(weights_dir() + "/reference/bvlc_googlenet_coffee_input.npy");
  const OwnedTensor b = read_npy_tensor(weights_dir() + "/reference/bvlc_googlenet_chelsea_input.npy");
  OwnedTensor x(Shape{2, a.c(), a.h(), a.w()});
  copy(a, x.batch(0, 1));
  copy(b, x.batch(1, 1));
  return x;
}

OwnedTensor to_host(const Tensor& t) {
  OwnedTensor h(t.shape());
  copy(t, h);
  return h;
}

// ||got - want|| / ||want||, or a failure when either holds a NaN/Inf or the shapes differ.
::testing::AssertionResult relative_error_below(const Tensor& got_any, const Tensor& want_any, double tol) {
  const OwnedTensor got = to_host(got_any), want = to_host(want_any);
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << "shapes " << got.shape().str() << " vs " << want.shape().str();
  double diff = 0, norm = 0;
  for (int i = 0; i < got.n(); ++i)
    for (int64_t k = 0; k < got.shape().image_size(); ++k) {
      const double g = got.image(i)[k], w = want.image(i)[k];
      if (!std::isfinite(g) || !std::isfinite(w))
        return ::testing::AssertionFailure() << "non-finite value at image " << i << ", element " << k;
      diff += (g - w) * (g - w);
      norm += w * w;
    }
  const double rel = std::sqrt(diff / norm);
  std::printf("  normalised error %.3e (tolerance %.0e) over %lld elements\n", rel, tol,
              static_cast<long long>(got.numel()));
  if (norm > 0 && rel <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "normalised error " << rel << " > " << tol << " (||want||^2 = " << norm
                                       << ")";
}

// Logits of the photographs on `net`.
OwnedTensor logits(const Network& net, const Tensor& x) {
  Plan plan = net.plan(x.shape(), {kLogits});
  net.forward(plan, x);
  OwnedTensor out(net.activation(plan, kLogits).shape());
  net.read_activation(plan, kLogits, out);
  return out;
}

// d(objective)/d(input) for objective = mean over positions of channel kChannel of kChannelBlob,
// per image: the seed 1/(H*W) in that channel, zero elsewhere, then backward to the input.
OwnedTensor channel_gradient(const Network& net, const Tensor& x, Stash stash = Stash::automatic,
                             bool relu_override = false) {
  Plan plan = net.plan(x.shape(), {kChannelBlob}, PlanOptions{.backward = true, .stash = stash});
  plan.set_relu_gradient_override(relu_override);
  net.forward(plan, x);
  const Tensor grad = net.activation_grad(plan, kChannelBlob);
  OwnedTensor seed(Shape{grad.n(), 1, grad.h(), grad.w()});
  fill(seed, 1.f / float(grad.h() * grad.w()));
  copy(seed, grad.channels(kChannel, 1));  // the gradients were zeroed by forward
  OwnedTensor dx(x.shape());
  net.backward_to_input(plan, dx);
  return dx;
}

}  // namespace

TEST(GoogLeNetCuda, LogitsMatchTheCpu) {
  CUVIZ_REQUIRE_GPU();
  const Network cpu(googlenet(), Device::cpu), gpu(googlenet(), Device::cuda);
  const OwnedTensor x = photographs();
  EXPECT_TRUE(relative_error_below(logits(gpu, x), logits(cpu, x), kRelTol));
}

TEST(GoogLeNetCuda, ChannelObjectiveInputGradientMatchesTheCpu) {
  CUVIZ_REQUIRE_GPU();
  const Network cpu(googlenet(), Device::cpu), gpu(googlenet(), Device::cuda);
  const OwnedTensor x = photographs();
  EXPECT_TRUE(relative_error_below(channel_gradient(gpu, x), channel_gradient(cpu, x), kRelTol));
}

// On a GPU backward plans keep a compact stash by default (ReLU bit masks, max-pool winners,
// activations sharing memory by liveness): the input gradient is bitwise the one of a plan that
// keeps every activation, with the plain and with the redirected (override) ReLU gradient.
TEST(GoogLeNetCuda, CompactStashGradientIsBitwiseTheFullOne) {
  CUVIZ_REQUIRE_GPU();
  const Network gpu(googlenet(), Device::cuda);
  const OwnedTensor x = photographs();
  for (bool relu_override : {false, true}) {
    const OwnedTensor full = channel_gradient(gpu, x, Stash::full, relu_override);
    const OwnedTensor compact = channel_gradient(gpu, x, Stash::compact, relu_override);
    const OwnedTensor automatic = channel_gradient(gpu, x, Stash::automatic, relu_override);
    EXPECT_EQ(std::memcmp(full.data(), compact.data(), size_t(full.numel()) * sizeof(float)), 0)
        << "override " << relu_override;
    EXPECT_EQ(std::memcmp(full.data(), automatic.data(), size_t(full.numel()) * sizeof(float)), 0)
        << "override " << relu_override;
  }
  const Shape in = x.shape();
  EXPECT_LT(gpu.plan(in, {kChannelBlob}, PlanOptions{.backward = true}).arena_bytes(),
            gpu.plan(in, {kChannelBlob}, PlanOptions{.backward = true, .stash = Stash::full}).arena_bytes());
}

// The oracle backend computes the same network: every conv (and LRN, softmax, the classifier, the
// stride-1 pools) through cuDNN/cuBLAS, the ceil-mode pools natively. Same tolerance and reasons.
TEST(GoogLeNetCuda, CudnnBackendMatchesNative) {
  CUVIZ_REQUIRE_GPU();
  if (!cudnn_oracle_available()) GTEST_SKIP() << "cuDNN not available: nothing to compare with";
  Network native(googlenet(), Device::cuda), oracle(googlenet(), Device::cuda);
  oracle.set_backend(Backend::cudnn);
  const OwnedTensor x = photographs();
  EXPECT_TRUE(relative_error_below(logits(oracle, x), logits(native, x), kRelTol));
  EXPECT_TRUE(relative_error_below(channel_gradient(oracle, x), channel_gradient(native, x), kRelTol));

  Plan plan = oracle.plan(x.shape(), {kLogits});
  oracle.forward(plan, x);
  int64_t convs = 0;
  for (const auto& l : oracle.describe(plan)) convs += l.type == "conv";
  EXPECT_GT(convs, 50);
  EXPECT_GE(plan.oracle_ops_run(), convs) << "not every conv ran on cuDNN";
  EXPECT_LT(plan.oracle_ops_run(), plan.ops_run()) << "ReLUs, concats and ceil-mode pools stay native";
}

}  // namespace cuviz
