// Sums that OpenMP threads share must not depend on which thread finishes first. Four places did:
// the conv weight gradient dealt its items to per-thread partials on demand (schedule(dynamic)),
// and the regulariser values, NMF's error and k-means' inertia used OpenMP reductions, which add
// the threads' partials in the order the threads arrive. A bitwise test of the weight gradient
// failed 3 runs in 5 at 4 threads (found with the ThreadSanitizer build, docs/reliability.md
// "Determinism"). These tests run at 4 threads whatever the machine: on 2 cores the threads are
// preempted, so the order they take work in varies from run to run.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/conv2d.h"
#include "test_util.h"
#include "viz/factorize.h"
#include "viz/random.h"
#include "viz/regularizers.h"

namespace cuviz {
namespace {

// Runs f with n OpenMP threads and restores the previous count.
template <class F>
auto at_threads(int n, F&& f) {
  const int before = omp_get_max_threads();
  omp_set_num_threads(n);
  auto r = f();
  omp_set_num_threads(before);
  return r;
}

template <class T>
bool same_bits(const BasicTensor<T>& a, const BasicTensor<T>& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), size_t(a.numel()) * sizeof(T)) == 0;
}

TEST(ThreadDeterminism, ConvWeightGradientIsTheSameRunAfterRun) {
  const Conv2dParams p = Conv2dParams::make(1, 1);
  OwnedTensor x(Shape{4, 8, 24, 24}), dy(Shape{4, 16, 24, 24});
  test::fill_uniform<float>(x, 1);
  test::fill_uniform<float>(dy, 2);
  const auto run = [&] {
    OwnedTensor dw(Shape{16, 8, 3, 3}), db(Shape{1, 16, 1, 1});
    conv2d_backward_weight(p, x, dy, dw, db);
    return std::make_pair(std::move(dw), std::move(db));
  };
  const auto first = at_threads(4, run);
  ASSERT_TRUE(first.second.defined());  // the bias gradient is computed too
  for (int r = 0; r < 100; ++r) {  // before the fix, 2 runs in 3 of this test caught a change
    const auto again = at_threads(4, run);
    ASSERT_TRUE(same_bits<float>(first.first, again.first)) << "run " << r << ": dW changed";
    ASSERT_TRUE(same_bits<float>(first.second, again.second)) << "run " << r << ": db changed";
  }
}

TEST(ThreadDeterminism, RegularizerValuesAndGradientsAreTheSameAtAnyThreadCount) {
  // 160 x 160: a plane over 16384 pixels, where the rows are split between threads.
  OwnedTensorD image(Shape{2, 3, 160, 160});
  test::fill_uniform<double>(image, 3, -1, 1);
  for (const RegKind kind : {RegKind::l1, RegKind::l2, RegKind::tv, RegKind::blur, RegKind::alpha}) {
    const auto run = [&] {
      OwnedTensorD values(Shape{2, 1, 1, 1}), grad(image.shape());
      std::fill(grad.data(), grad.data() + grad.numel(), 0.0);  // the gradient is added to it
      regularizer_forward_backward_cpu<double>(kind, 0.1, image, values, 1.0, grad, 2.0);
      return std::make_pair(std::move(values), std::move(grad));
    };
    const auto one = at_threads(1, run);
    for (const int threads : {2, 3, 4})
      for (int r = 0; r < 3; ++r) {
        const auto many = at_threads(threads, run);
        ASSERT_TRUE(same_bits<double>(one.first, many.first)) << reg_kind_name(kind) << " value at " << threads << " threads";
        ASSERT_TRUE(same_bits<double>(one.second, many.second)) << reg_kind_name(kind) << " gradient at " << threads << " threads";
      }
  }
}

Matrix random_nonnegative(int rows, int cols, uint64_t seed) {
  Matrix m(rows, cols);
  for (size_t i = 0; i < m.data.size(); ++i) m.data[i] = float(random_bits(seed, 0, i) >> 40) / float(1 << 24);
  return m;
}

TEST(ThreadDeterminism, NmfErrorsAndKmeansInertiaAreTheSameAtAnyThreadCount) {
  const Matrix x = random_nonnegative(900, 48, 4);
  NmfOptions no;
  no.k = 5;
  no.max_iter = 15;
  no.tol = 0;
  KmeansOptions ko;
  ko.k = 6;
  ko.max_iter = 15;
  const NmfResult n1 = at_threads(1, [&] { return nmf(x, no); });
  const KmeansResult k1 = at_threads(1, [&] { return kmeans(x, ko); });
  for (const int threads : {2, 4})
    for (int r = 0; r < 3; ++r) {
      const NmfResult n = at_threads(threads, [&] { return nmf(x, no); });
      EXPECT_EQ(n.errors, n1.errors) << "NMF errors at " << threads << " threads";
      EXPECT_EQ(n.W.data, n1.W.data);
      const KmeansResult k = at_threads(threads, [&] { return kmeans(x, ko); });
      EXPECT_EQ(k.objectives, k1.objectives) << "k-means inertia at " << threads << " threads";
      EXPECT_EQ(k.labels, k1.labels);
    }
}

}  // namespace
}  // namespace cuviz
