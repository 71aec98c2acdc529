// linear: the SGEMM path against the plain-loop reference (dense and strided batches, with and
// without bias), finite-difference gradient checks of the double reference, and bad inputs.
#include "kernels/linear.h"

#include <cmath>

#include "test_util.h"

namespace cuviz {
namespace {

// Fast vs reference, both in float: a K-term dot product of values in [-1, 1] summed in different
// orders differs by rounding, ~sqrt(K) * 2^-24 * K / 3 typically; 1e-5 * K bounds it with margin and
// is still orders of magnitude below the error of a wrong index or a missing term (~0.1 and more).
double dot_atol(int64_t k) { return 1e-5 * double(k) + 1e-6; }

struct Case {
  const char* name;
  int n, c, h, w, o;
  bool bias;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class LinearCases : public ::testing::TestWithParam<Case> {};

TEST_P(LinearCases, FastMatchesReference) {
  const Case& t = GetParam();
  OwnedTensor x(Shape{t.n, t.c, t.h, t.w}), w(Shape{t.o, t.c * t.h * t.w, 1, 1}), b(Shape{1, t.o, 1, 1});
  test::fill_uniform(x, 1);
  test::fill_uniform(w, 2);
  test::fill_uniform(b, 3);
  const Tensor bias = t.bias ? b.view() : Tensor();
  const int64_t k = x.shape().image_size();
  OwnedTensor y(Shape{t.n, t.o, 1, 1}), ry(y.shape());
  fill(y, NAN);
  linear_forward(x, w, bias, y);
  linear_forward_reference<float>(x, w, bias, ry);
  EXPECT_TRUE(test::all_close(y, ry, dot_atol(k))) << t.name;

  OwnedTensor dy(y.shape()), dx(x.shape()), rdx(x.shape()), dw(w.shape()), rdw(w.shape()), db(b.shape()),
      rdb(b.shape());
  test::fill_uniform(dy, 4);
  fill(dx, NAN);
  fill(dw, NAN);
  linear_backward_data(dy, w, dx);
  linear_backward_data_reference<float>(dy, w, rdx);
  EXPECT_TRUE(test::all_close(dx, rdx, dot_atol(t.o))) << t.name;
  linear_backward_weight(x, dy, dw, t.bias ? db.view() : Tensor());
  linear_backward_weight_reference<float>(x, dy, rdw, t.bias ? rdb.view() : Tensor());
  EXPECT_TRUE(test::all_close(dw, rdw, dot_atol(t.n))) << t.name;
  if (t.bias) EXPECT_TRUE(test::all_close(db, rdb, dot_atol(t.n))) << t.name;
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearCases,
                         ::testing::Values(Case{"single", 1, 7, 1, 1, 5, true}, Case{"batch", 4, 33, 1, 1, 17, true},
                                           Case{"flattened_chw", 3, 5, 3, 4, 9, false},
                                           Case{"wide", 2, 1024, 1, 1, 100, true},
                                           Case{"odd_batch", 5, 3, 7, 7, 11, true},
                                           // GoogLeNet's classifier, 3 M MACs: above sgemm_parallel's
                                           // threshold, so split in column blocks (1000 = 512 + 488).
                                           Case{"classifier_split", 3, 1024, 1, 1, 1000, true}),
                         [](const auto& info) { return std::string(info.param.name); });

// x, y, dy and dx as channel slices of bigger tensors: the batch stride becomes the GEMM's leading
// dimension, and entries outside the slices must stay untouched.
TEST(Linear, StridedBatchViews) {
  OwnedTensor big_x(Shape{3, 20, 1, 1}), w(Shape{6, 12, 1, 1}), b(Shape{1, 6, 1, 1}), big_y(Shape{3, 10, 1, 1});
  test::fill_uniform(big_x, 11);
  test::fill_uniform(w, 12);
  test::fill_uniform(b, 13);
  fill(big_y, 7.f);
  const Tensor x = big_x.channels(5, 12), y = big_y.channels(2, 6);
  OwnedTensor dense_x(x.shape()), ry(y.shape()), got(y.shape());
  copy(x, dense_x);
  linear_forward(x, w, b, y);
  linear_forward_reference<float>(dense_x, w, b, ry);
  copy(y, got);
  EXPECT_TRUE(test::all_close(got, ry, dot_atol(12)));
  for (int n = 0; n < 3; ++n)
    for (int c : {0, 1, 8, 9}) EXPECT_EQ(big_y.at(n, c, 0, 0), 7.f);

  OwnedTensor big_dx(Shape{3, 20, 1, 1}), dense_dy(y.shape()), rdx(x.shape()), got_dx(x.shape()), dw(w.shape()),
      rdw(w.shape()), db(b.shape()), rdb(b.shape());
  fill(big_dx, 7.f);
  const Tensor dy = y, dx = big_dx.channels(5, 12);
  copy(dy, dense_dy);
  linear_backward_data(dy, w, dx);
  linear_backward_data_reference<float>(dense_dy, w, rdx);
  copy(dx, got_dx);
  EXPECT_TRUE(test::all_close(got_dx, rdx, dot_atol(6)));
  for (int n = 0; n < 3; ++n)
    for (int c : {0, 4, 17, 19}) EXPECT_EQ(big_dx.at(n, c, 0, 0), 7.f);
  linear_backward_weight(x, dy, dw, db);
  linear_backward_weight_reference<float>(dense_x, dense_dy, rdw, rdb);
  EXPECT_TRUE(test::all_close(dw, rdw, dot_atol(3)));
  EXPECT_TRUE(test::all_close(db, rdb, dot_atol(3)));
}

// L = sum s * y is linear in x, w and b: central differences are exact up to rounding
// (~1e-16 * |L| / eps ~ 1e-9), far inside atol 1e-7 + rtol 1e-6.
TEST(Linear, GradientCheck) {
  OwnedTensorD x(Shape{3, 2, 3, 2}), w(Shape{5, 12, 1, 1}), b(Shape{1, 5, 1, 1}), y(Shape{3, 5, 1, 1}),
      seed(y.shape()), dx(x.shape()), dw(w.shape()), db(b.shape());
  test::fill_uniform(x, 21);
  test::fill_uniform(w, 22);
  test::fill_uniform(b, 23);
  test::fill_uniform(seed, 24);
  auto loss = [&] {
    linear_forward_reference<double>(x, w, b, y);
    return test::weighted_sum(y, seed);
  };
  linear_backward_data_reference<double>(seed, w, dx);
  linear_backward_weight_reference<double>(x, seed, dw, db);
  EXPECT_TRUE(test::gradient_check(x, loss, dx, 0, 1e-6, 1e-7, 1e-6)) << "dx";
  EXPECT_TRUE(test::gradient_check(w, loss, dw, 0, 1e-6, 1e-7, 1e-6)) << "dw";
  EXPECT_TRUE(test::gradient_check(b, loss, db, 0, 1e-6, 1e-7, 1e-6)) << "db";
}

TEST(Linear, RejectsBadInputs) {
  OwnedTensor x(Shape{2, 3, 2, 2}), w(Shape{4, 12, 1, 1}), b(Shape{1, 4, 1, 1}), y(Shape{2, 4, 1, 1});
  EXPECT_NO_THROW(linear_forward(x, w, b, y));
  OwnedTensor w_bad(Shape{4, 11, 1, 1}), w_4d(Shape{4, 3, 2, 2}), b_bad(Shape{1, 5, 1, 1}), y_bad(Shape{2, 5, 1, 1}),
      y_batch(Shape{3, 4, 1, 1}), empty(Shape{0, 12, 1, 1});
  EXPECT_THROW(linear_forward(x, w_bad, b, y), Error);
  EXPECT_THROW(linear_forward(x, w_4d, b, y), Error);
  EXPECT_THROW(linear_forward(x, w, b_bad, y), Error);
  EXPECT_THROW(linear_forward(x, w, b, y_bad), Error);
  EXPECT_THROW(linear_forward(x, w, b, y_batch), Error);
  EXPECT_THROW(linear_forward(empty, w, b, y), Error);
  EXPECT_THROW(linear_backward_data(y_bad, w, x), Error);
  EXPECT_THROW(linear_backward_weight(x, y, w_bad, b), Error);
  EXPECT_THROW(linear_backward_weight(x, y, w, b_bad), Error);
  try {
    linear_forward(x, w_bad, b, y);
    ADD_FAILURE() << "no exception";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("linear_forward"), std::string::npos) << m;
    EXPECT_NE(m.find("[4, 11, 1, 1]"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3, 2, 2]"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace cuviz
