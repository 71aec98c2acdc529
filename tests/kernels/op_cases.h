// Every layer kind declared ONCE as a test case (ggml's test-backend-ops style): a one-layer
// LayerDesc (kind, parameters, seeded weights), the shapes of its inputs and the tolerances of
// the float op against the double reference. tests/kernels/op_table_test.cpp runs value and
// gradient checks over every case, tests/kernels/op_table_cuda_test.cpp CPU against CUDA, and
// both fail for a LayerKind that has no case here.
#pragma once

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "nn/graph.h"
#include "test_util.h"

namespace cuviz::test {

struct OpCase {
  std::string name;           // what the case exercises, for failure messages
  LayerDesc layer;            // inputs "x0", "x1", ..., output "y"
  std::vector<Shape> inputs;  // one shape per input
  // Float op against the double reference (forward values and gradients): |got - want| <= atol + rtol |want|.
  double atol = 1e-5, rtol = 1e-5;
};

namespace op_case_detail {

// Uniform weights in +-sqrt(3 / fan_in), so that unit inputs give O(1) outputs.
inline OwnedTensor weight(Shape s, uint64_t seed, int64_t fan_in) {
  OwnedTensor t(s);
  const double a = std::sqrt(3.0 / double(fan_in));
  fill_uniform(t, seed, -a, a);
  return t;
}

inline OpCase make(std::string name, LayerKind kind, std::vector<Shape> inputs) {
  OpCase c;
  c.name = std::move(name);
  c.layer.name = c.name;
  c.layer.kind = kind;
  for (size_t i = 0; i < inputs.size(); ++i) c.layer.inputs.push_back(cat("x", i));
  c.layer.output = "y";
  c.inputs = std::move(inputs);
  return c;
}

}  // namespace op_case_detail

// Batches of 2 with odd sizes, so no op can hide behind one image or a multiple of a vector width.
inline std::vector<OpCase> op_cases() {
  using op_case_detail::make;
  using op_case_detail::weight;
  std::vector<OpCase> cases;

  {  // grouped, strided, padded conv with a bias (the conv weight gradient too)
    OpCase c = make("conv 3x3 stride 2 pad 1 groups 2", LayerKind::conv, {Shape{2, 4, 9, 7}});
    c.layer.conv = Conv2dParams::make(2, 1, 1, 2);
    c.layer.weights.push_back(weight(Shape{6, 2, 3, 3}, 11, 18));
    c.layer.weights.push_back(weight(Shape{1, 6, 1, 1}, 12, 4));
    cases.push_back(std::move(c));
  }
  cases.push_back(make("relu", LayerKind::relu, {Shape{2, 3, 5, 7}}));
  {  // GoogLeNet's pools: overlapping windows, Caffe's ceil rounding (a partial last window)
    OpCase c = make("max pool 3x3 stride 2 ceil", LayerKind::pool, {Shape{2, 3, 8, 9}});
    c.layer.pool = Pool2dParams::make(PoolMode::max, 3, 2, 0, true);
    cases.push_back(std::move(c));
  }
  {
    OpCase c = make("lrn size 3", LayerKind::lrn, {Shape{2, 5, 4, 3}});
    c.layer.lrn = LrnParams{3, 0.5f, 0.75f, 1.f};  // a large alpha so the normalisation matters
    cases.push_back(std::move(c));
  }
  cases.push_back(
      make("concat of three", LayerKind::concat, {Shape{2, 2, 3, 4}, Shape{2, 3, 3, 4}, Shape{2, 1, 3, 4}}));
  {
    OpCase c = make("linear 60 -> 7 with bias", LayerKind::linear, {Shape{2, 3, 4, 5}});
    c.layer.weights.push_back(weight(Shape{7, 60, 1, 1}, 21, 60));
    c.layer.weights.push_back(weight(Shape{1, 7, 1, 1}, 22, 4));
    cases.push_back(std::move(c));
  }
  cases.push_back(make("softmax over channels", LayerKind::softmax, {Shape{2, 6, 2, 3}}));
  cases.push_back(make("dropout (identity)", LayerKind::dropout, {Shape{2, 3, 4, 5}}));
  cases.push_back(make("flatten", LayerKind::flatten, {Shape{2, 3, 4, 5}}));
  {
    OpCase c = make("affine per channel", LayerKind::affine, {Shape{2, 4, 3, 5}});
    c.layer.weights.push_back(weight(Shape{1, 4, 1, 1}, 31, 1));
    c.layer.weights.push_back(weight(Shape{1, 4, 1, 1}, 32, 1));
    cases.push_back(std::move(c));
  }
  cases.push_back(make("add", LayerKind::add, {Shape{2, 3, 4, 5}, Shape{2, 3, 4, 5}}));
  cases.push_back(make("sigmoid", LayerKind::sigmoid, {Shape{2, 3, 5, 7}}));
  return cases;
}

}  // namespace cuviz::test
