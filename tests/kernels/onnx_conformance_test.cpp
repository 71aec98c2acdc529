// ONNX node conformance: runs cuviz's CPU ops on the official ONNX backend-test vectors that
// Debian ships in libonnx-testdata (one gtest per vector) and requires max |ours - ONNX| <= the
// op's tolerance below. The node's attributes are mapped onto our op's parameters; a vector
// whose attributes the mapping does not read fails rather than passing by accident.
//
// VECTORS IN SCOPE (kInScope) and how each maps onto cuviz:
//   test_basic_conv_*, test_conv_*      conv2d_forward; auto_pad SAME_* -> explicit pads (auto_pad_axis)
//   test_convtranspose*                 conv2d_backward_data: ConvTranspose(x, W) is the data gradient
//                                       of the conv that maps the output to x (dy = x, w = W);
//                                       output_shape / output_padding / SAME_* -> pads and dx shape
//                                       (conv_transpose_axis), 1-D as H = 1
//   test_maxpool_2d_*, test_averagepool_2d_*
//                                       pool2d_forward; ceil_mode, dilations, count_include_pad, auto_pad
//   test_maxpool_1d_default, test_averagepool_1d_default
//                                       pool2d_forward on {N, C, 1, L} with a 1 x k window
//   test_globalaveragepool*, test_globalmaxpool*
//                                       pool2d_forward with global = true
//   test_lrn, test_lrn_default          lrn_forward (ONNX bias = our k)
//   test_gemm_*                         linear_forward (y = x w^T + b) plus documented host steps:
//                                       transA / transB = 0 -> transpose on the host; alpha != 1 ->
//                                       x scaled by alpha; C varying along N only -> b = beta C;
//                                       C varying along M (matrix, column) -> y += beta C after
//   test_softmax_*, test_logsoftmax_*   softmax_forward / log_softmax_forward over the channel axis
//                                       of {outer, axis_len, inner, 1} (opset >= 13), or of the
//                                       2-D coercion {outer, rest, 1, 1} (opset < 13)
//   test_concat_*                       concat_forward over the channels of {outer, axis_len, inner, 1}
//   test_relu                           relu_forward on the flat data
//   test_sigmoid, test_sigmoid_example  sigmoid_forward on the flat data
//   test_batchnorm_epsilon, test_batchnorm_example
//                                       batchnorm_forward (inference) on {N, C, prod(spatial), 1}
//
// VECTORS OUT OF SCOPE (kOutOfScope, each with its reason): 3-D pooling, uint8 max pooling,
// max pooling with an Indices output, training-mode batch norm, ConvInteger / QLinearConv,
// 3-D ConvTranspose. Function-expanded vectors (test_*_expanded) are graphs of primitive ops, not
// nodes of ours. The test EveryVectorOfOurOpsIsClassified keeps both lists complete.
//
// TOLERANCES (max abs error, per op, kTolerances): 0 where the op only selects or copies
// (ReLU, max pooling, concat) or where the vector's arithmetic is exact (conv and transposed
// conv on integers); otherwise a float32 rounding bound for the vector's sizes, stated next to
// each entry.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/concat.h"
#include "kernels/conv2d.h"
#include "kernels/linear.h"
#include "kernels/lrn.h"
#include "kernels/pool2d.h"
#include "kernels/relu.h"
#include "kernels/sigmoid.h"
#include "kernels/softmax.h"
#include "onnx_testdata.h"
#include "test_util.h"

namespace cuviz {
namespace {

using onnx_testdata::Array;
using onnx_testdata::Attributes;
using onnx_testdata::NodeCase;

const char* const kInScope[] = {
    // Conv
    "test_basic_conv_with_padding", "test_basic_conv_without_padding", "test_conv_with_autopad_same",
    "test_conv_with_strides_and_asymmetric_padding", "test_conv_with_strides_no_padding",
    "test_conv_with_strides_padding",
    // ConvTranspose (= conv2d_backward_data)
    "test_convtranspose", "test_convtranspose_1d", "test_convtranspose_autopad_same", "test_convtranspose_dilations",
    "test_convtranspose_kernel_shape", "test_convtranspose_output_shape", "test_convtranspose_pad",
    "test_convtranspose_pads", "test_convtranspose_with_kernel",
    // MaxPool
    "test_maxpool_1d_default", "test_maxpool_2d_ceil", "test_maxpool_2d_default", "test_maxpool_2d_dilations",
    "test_maxpool_2d_pads", "test_maxpool_2d_precomputed_pads", "test_maxpool_2d_precomputed_same_upper",
    "test_maxpool_2d_precomputed_strides", "test_maxpool_2d_same_lower", "test_maxpool_2d_same_upper",
    "test_maxpool_2d_strides",
    // AveragePool
    "test_averagepool_1d_default", "test_averagepool_2d_ceil", "test_averagepool_2d_default",
    "test_averagepool_2d_pads", "test_averagepool_2d_pads_count_include_pad", "test_averagepool_2d_precomputed_pads",
    "test_averagepool_2d_precomputed_pads_count_include_pad", "test_averagepool_2d_precomputed_same_upper",
    "test_averagepool_2d_precomputed_strides", "test_averagepool_2d_same_lower", "test_averagepool_2d_same_upper",
    "test_averagepool_2d_strides",
    // GlobalAveragePool, GlobalMaxPool
    "test_globalaveragepool", "test_globalaveragepool_precomputed", "test_globalmaxpool",
    "test_globalmaxpool_precomputed",
    // LRN
    "test_lrn", "test_lrn_default",
    // Gemm
    "test_gemm_all_attributes", "test_gemm_alpha", "test_gemm_beta", "test_gemm_default_matrix_bias",
    "test_gemm_default_no_bias", "test_gemm_default_scalar_bias", "test_gemm_default_single_elem_vector_bias",
    "test_gemm_default_vector_bias", "test_gemm_default_zero_bias", "test_gemm_transposeA", "test_gemm_transposeB",
    // Softmax, LogSoftmax
    "test_softmax_axis_0", "test_softmax_axis_1", "test_softmax_axis_2", "test_softmax_default_axis",
    "test_softmax_example", "test_softmax_large_number", "test_softmax_negative_axis", "test_logsoftmax_axis_0",
    "test_logsoftmax_axis_1", "test_logsoftmax_axis_2", "test_logsoftmax_default_axis", "test_logsoftmax_example_1",
    "test_logsoftmax_large_number", "test_logsoftmax_negative_axis",
    // Concat
    "test_concat_1d_axis_0", "test_concat_1d_axis_negative_1", "test_concat_2d_axis_0", "test_concat_2d_axis_1",
    "test_concat_2d_axis_negative_1", "test_concat_2d_axis_negative_2", "test_concat_3d_axis_0",
    "test_concat_3d_axis_1", "test_concat_3d_axis_2", "test_concat_3d_axis_negative_1",
    "test_concat_3d_axis_negative_2", "test_concat_3d_axis_negative_3",
    // Relu, BatchNormalization
    "test_relu", "test_batchnorm_epsilon", "test_batchnorm_example",
    // Sigmoid
    "test_sigmoid", "test_sigmoid_example",
};

struct OutOfScope {
  const char* name;
  const char* reason;
};
const OutOfScope kOutOfScope[] = {
    {"test_averagepool_3d_default", "3-D pooling: cuviz pools 2-D NCHW only"},
    {"test_maxpool_3d_default", "3-D pooling: cuviz pools 2-D NCHW only"},
    {"test_maxpool_2d_uint8", "uint8 data: cuviz computes in float32 only"},
    {"test_maxpool_with_argmax_2d_precomputed_pads",
     "second output Indices: pool2d stores no indices (its backward recomputes the arg-max)"},
    {"test_maxpool_with_argmax_2d_precomputed_strides",
     "second output Indices (column-major storage_order): pool2d stores no indices"},
    {"test_batchnorm_epsilon_training_mode", "training mode (batch statistics, running-mean outputs): inference only"},
    {"test_batchnorm_example_training_mode", "training mode (batch statistics, running-mean outputs): inference only"},
    {"test_basic_convinteger", "ConvInteger (uint8/int8 with zero points) is not a cuviz op"},
    {"test_convinteger_with_padding", "ConvInteger (uint8/int8 with zero points) is not a cuviz op"},
    {"test_convinteger_without_padding", "ConvInteger (uint8/int8 with zero points) is not a cuviz op"},
    {"test_qlinearconv", "QLinearConv (quantized) is not a cuviz op"},
    {"test_convtranspose_3d", "3-D transposed convolution: cuviz convolves 2-D NCHW only"},
};

// Op types whose single-node vectors must all appear in one of the two lists above.
const std::set<std::string> kOurOpTypes = {
    "Conv",    "ConvInteger", "QLinearConv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool",
    "GlobalMaxPool", "LRN", "Gemm", "Softmax", "LogSoftmax", "Concat", "Relu", "BatchNormalization",
    "Sigmoid"};

// u = 2^-24 is float32's unit roundoff; a sum of n terms in float32 errs by at most about
// n u sum|terms| (any order), a few operations by a few u relative to the result.
struct Tolerance {
  double atol;
  const char* why;
};
const std::map<std::string, Tolerance> kTolerances = {
    {"Relu", {0.0, "max(x, 0) is exact"}},
    {"MaxPool", {0.0, "selects one input element"}},
    {"GlobalMaxPool", {0.0, "selects one input element"}},
    {"Concat", {0.0, "copies"}},
    {"ConvTranspose", {0.0, "x, W integers with partial sums < 2^24 (checked): exact in any order"}},
    {"Conv", {0.0, "x, W, B integers with partial sums < 2^24 (checked): exact in any order"}},
    {"AveragePool", {1e-5, "mean of n <= 25 values: randn |x| < 4, sum errs by <= (n - 1) u max|x| = 6e-6; "
                           "integer inputs <= 25 sum exactly and round once"}},
    {"GlobalAveragePool", {1e-5, "mean of n <= 25 values |x| < 10, as AveragePool"}},
    {"LRN", {5e-6, "|y| < 4 after ~6 roundings of relative u (3 squares summed, pow, product): 6 u 4 = 1.4e-6"}},
    {"Gemm", {1e-5, "K <= 10 products of values in [0, 1): (K - 1) u K = 5.4e-6, plus rounding of alpha, beta C"}},
    {"Sigmoid", {1e-6, "outputs in (0, 1): exp, a sum and a division round to ~3 u = 1.8e-7"}},
    {"Softmax", {1e-6, "outputs in [0, 1]: exp, a sum of <= 5 terms and a division round to ~5 u = 3e-7"}},
    {"LogSoftmax", {2e-6, "|y| < 4 after ~5 roundings relative to |y| ((x - max), log of a sum, difference): 1.2e-6"}},
    {"BatchNormalization", {1e-5, "a x + b' (folded) vs s (x - m) / sqrt(v + eps) + bias: ~5 u (|a x| + |b'|) "
                                  "with |y| < 13"}},
};

// True when a (transposed) convolution of x with w plus b is computed exactly in float32
// whatever the summation order: every value is an integer and max|x| sum|w| + max|b| < 2^24
// bounds every partial sum.
bool exact_integer_conv(const NodeCase& c) {
  auto sum_abs = [](const Array& a, bool max_only) {
    double s = 0;
    for (float v : a.data) s = max_only ? std::max(s, double(std::abs(v))) : s + std::abs(v);
    return s;
  };
  for (const auto& in : c.inputs)
    for (float v : in.data)
      if (v != std::nearbyint(v)) return false;
  const double b = c.inputs.size() > 2 ? sum_abs(c.inputs[2], true) : 0.0;
  return sum_abs(c.inputs[0], true) * sum_abs(c.inputs[1], false) + b < double(1 << 24);
}

// ---- one runner per op type: map the node onto our op, return its outputs ----------------

std::vector<Array> run_conv(const NodeCase& c, const Attributes& at) {
  CUVIZ_CHECK(c.inputs.size() >= 2, "Conv: needs x and W");
  Array x = c.inputs[0], w = c.inputs[1];
  CUVIZ_CHECK(exact_integer_conv(c), "Conv: tolerance 0 assumes exact integer arithmetic; ", c.name,
              " has other inputs");
  const std::vector<int64_t> kernel(w.dims.begin() + 2, w.dims.end());
  const auto win = onnx_testdata::window_2d(at, x.dims, kernel);
  Conv2dParams p;
  p.stride_h = win.stride_h;
  p.stride_w = win.stride_w;
  p.dilation_h = win.dilation_h;
  p.dilation_w = win.dilation_w;
  p.pad_top = win.pad_h.begin;
  p.pad_bottom = win.pad_h.end;
  p.pad_left = win.pad_w.begin;
  p.pad_right = win.pad_w.end;
  p.groups = int(at.get_int("group", 1));
  const Shape xs = onnx_testdata::nchw(x.dims), ws = onnx_testdata::nchw(w.dims);
  const Shape ys = conv2d_output_shape(p, xs, ws);
  Array y = onnx_testdata::zeros(x.dims.size() == 3 ? std::vector<int64_t>{ys.n, ys.c, ys.w}
                                                    : std::vector<int64_t>{ys.n, ys.c, ys.h, ys.w});
  Array b = c.inputs.size() > 2 ? c.inputs[2] : Array{};
  const Tensor bias = b.data.empty() ? Tensor() : b.view(Shape{1, ys.c, 1, 1});
  conv2d_forward(p, x.view(xs), w.view(ws), bias, y.view(ys));
  return {y};
}

// ConvTranspose(x, W) is the backward-data of the convolution whose output x would be:
// conv2d_backward_data with dy = x, w = W ({C_in, C_out / group, kh, kw}, our {O, I / groups}).
std::vector<Array> run_conv_transpose(const NodeCase& c, const Attributes& at) {
  CUVIZ_CHECK(c.inputs.size() == 2, "ConvTranspose: a bias B is not mapped (no vector has one)");
  CUVIZ_CHECK(exact_integer_conv(c), "ConvTranspose: tolerance 0 assumes exact integer arithmetic; ", c.name,
              " has other inputs");
  Array x = c.inputs[0], w = c.inputs[1];
  const size_t rank = x.dims.size() - 2;
  CUVIZ_CHECK(rank == 1 || rank == 2, "ConvTranspose: ", rank, "-D (2-D NCHW and 1-D only)");
  const auto kernel = at.get_ints("kernel_shape", std::vector<int64_t>(w.dims.begin() + 2, w.dims.end()));
  const auto strides = at.get_ints("strides", std::vector<int64_t>(rank, 1));
  const auto dilations = at.get_ints("dilations", std::vector<int64_t>(rank, 1));
  const auto pads = at.get_ints("pads", std::vector<int64_t>(2 * rank, 0));
  const auto out_pad = at.get_ints("output_padding", std::vector<int64_t>(rank, 0));
  const auto out_shape = at.get_ints("output_shape", std::vector<int64_t>(rank, 0));
  const auto auto_pad = at.get_string("auto_pad", "NOTSET");
  std::vector<onnx_testdata::TransposeAxis> axes;
  for (size_t i = 0; i < rank; ++i)
    axes.push_back(onnx_testdata::conv_transpose_axis(auto_pad, int(x.dims[2 + i]), int(kernel[i]), int(strides[i]),
                                                      int(dilations[i]), int(out_pad[i]),
                                                      {int(pads[i]), int(pads[rank + i])}, int(out_shape[i])));
  if (rank == 1) axes.insert(axes.begin(), onnx_testdata::TransposeAxis{1, {}});
  Conv2dParams p;
  p.stride_h = rank == 2 ? int(strides[0]) : 1;
  p.stride_w = int(strides[rank - 1]);
  p.dilation_h = rank == 2 ? int(dilations[0]) : 1;
  p.dilation_w = int(dilations[rank - 1]);
  p.pad_top = axes[0].pads.begin;
  p.pad_bottom = axes[0].pads.end;
  p.pad_left = axes[1].pads.begin;
  p.pad_right = axes[1].pads.end;
  p.groups = int(at.get_int("group", 1));
  const Shape xs = onnx_testdata::nchw(x.dims), ws = onnx_testdata::nchw(w.dims);
  const Shape ys{xs.n, ws.c * p.groups, axes[0].out, axes[1].out};
  Array y = onnx_testdata::zeros(rank == 1 ? std::vector<int64_t>{ys.n, ys.c, ys.w}
                                           : std::vector<int64_t>{ys.n, ys.c, ys.h, ys.w});
  conv2d_backward_data(p, x.view(xs), w.view(ws), y.view(ys));
  return {y};
}

std::vector<Array> run_pool(const NodeCase& c, const Attributes& at, PoolMode mode) {
  CUVIZ_CHECK(c.node.output_size() == 1, "pool: a second output (Indices) is not provided by pool2d");
  Array x = c.inputs.at(0);
  const auto win = onnx_testdata::window_2d(at, x.dims, {});
  Pool2dParams p;
  p.mode = mode;
  p.kernel_h = win.kernel_h;
  p.kernel_w = win.kernel_w;
  p.stride_h = win.stride_h;
  p.stride_w = win.stride_w;
  p.dilation_h = win.dilation_h;
  p.dilation_w = win.dilation_w;
  p.pad_top = win.pad_h.begin;
  p.pad_bottom = win.pad_h.end;
  p.pad_left = win.pad_w.begin;
  p.pad_right = win.pad_w.end;
  p.ceil_mode = at.get_int("ceil_mode", 0) != 0;
  if (mode == PoolMode::average) p.count_include_pad = at.get_int("count_include_pad", 0) != 0;
  if (mode == PoolMode::max)
    CUVIZ_CHECK(at.get_int("storage_order", 0) == 0, "MaxPool: storage_order only matters for Indices");
  const Shape xs = onnx_testdata::nchw(x.dims);
  const Shape ys = pool2d_output_shape(p, xs);
  Array y = onnx_testdata::zeros(x.dims.size() == 3 ? std::vector<int64_t>{ys.n, ys.c, ys.w}
                                                    : std::vector<int64_t>{ys.n, ys.c, ys.h, ys.w});
  pool2d_forward(p, x.view(xs), y.view(ys));
  return {y};
}

std::vector<Array> run_global_pool(const NodeCase& c, PoolMode mode) {
  Array x = c.inputs.at(0);
  CUVIZ_CHECK(x.dims.size() == 4, "global pool: 2-D NCHW only, got ", x.dims_str());
  Pool2dParams p;
  p.mode = mode;
  p.global = true;
  const Shape xs = onnx_testdata::nchw(x.dims);
  const Shape ys = pool2d_output_shape(p, xs);
  Array y = onnx_testdata::zeros({ys.n, ys.c, ys.h, ys.w});
  pool2d_forward(p, x.view(xs), y.view(ys));
  return {y};
}

std::vector<Array> run_lrn(const NodeCase& c, const Attributes& at) {
  Array x = c.inputs.at(0);
  LrnParams p;
  p.size = int(at.get_int("size", 0));
  p.alpha = at.get_float("alpha", 1e-4f);
  p.beta = at.get_float("beta", 0.75f);
  p.k = at.get_float("bias", 1.f);
  const Shape xs = onnx_testdata::nchw(x.dims);
  Array y = onnx_testdata::zeros(x.dims);
  lrn_forward(p, x.view(xs), y.view(xs));
  return {y};
}

// Row-major transpose of an r x k matrix.
std::vector<float> transposed(const std::vector<float>& m, int64_t r, int64_t k) {
  std::vector<float> t(m.size());
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < k; ++j) t[size_t(j * r + i)] = m[size_t(i * k + j)];
  return t;
}

// Gemm: Y = alpha op(A) op(B) + beta C with linear_forward computing x w^T + b, where
// x = alpha op(A) (M x K) and w = op(B)^T (N x K). The host steps are a transpose, a scaling
// and, for a C that varies along M, an addition after the op.
std::vector<Array> run_gemm(const NodeCase& c, const Attributes& at) {
  const Array& a = c.inputs.at(0);
  const Array& bm = c.inputs.at(1);
  CUVIZ_CHECK(a.dims.size() == 2 && bm.dims.size() == 2, "Gemm: A and B must be matrices");
  const float alpha = at.get_float("alpha", 1.f), beta = at.get_float("beta", 1.f);
  const bool trans_a = at.get_int("transA", 0) != 0, trans_b = at.get_int("transB", 0) != 0;
  const int64_t m = trans_a ? a.dims[1] : a.dims[0], k = trans_a ? a.dims[0] : a.dims[1];
  const int64_t n = trans_b ? bm.dims[0] : bm.dims[1];
  CUVIZ_CHECK((trans_b ? bm.dims[1] : bm.dims[0]) == k, "Gemm: inner dimensions differ");

  Array x{{m, k}, trans_a ? transposed(a.data, k, m) : a.data};
  if (alpha != 1.f)
    for (float& v : x.data) v *= alpha;
  Array w{{n, k}, trans_b ? bm.data : transposed(bm.data, k, n)};

  // C broadcasts to M x N (unidirectionally): its last dim is N or 1, its first M or 1.
  Array bias;
  const Array* cm = c.inputs.size() > 2 ? &c.inputs[2] : nullptr;
  int64_t c_rows = 1, c_cols = 1;
  if (cm) {
    CUVIZ_CHECK(cm->dims.size() <= 2, "Gemm: C of rank ", cm->dims.size());
    if (!cm->dims.empty()) c_cols = cm->dims.back();
    if (cm->dims.size() == 2) c_rows = cm->dims[0];
    CUVIZ_CHECK((c_cols == n || c_cols == 1) && (c_rows == m || c_rows == 1), "Gemm: C ", cm->dims_str(),
                " does not broadcast to ", m, " x ", n);
  }
  const bool c_in_bias = cm && c_rows == 1;  // varies along N at most: it is our per-output bias
  if (c_in_bias) {
    bias = onnx_testdata::zeros({n});
    for (int64_t j = 0; j < n; ++j) bias.data[size_t(j)] = beta * cm->data[size_t(c_cols == 1 ? 0 : j)];
  }
  Array y = onnx_testdata::zeros({m, n});
  const Tensor bt = c_in_bias ? bias.view(Shape{1, int(n), 1, 1}) : Tensor();
  linear_forward(x.view(Shape{int(m), int(k), 1, 1}), w.view(Shape{int(n), int(k), 1, 1}), bt,
                 y.view(Shape{int(m), int(n), 1, 1}));
  if (cm && !c_in_bias)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        y.data[size_t(i * n + j)] += beta * cm->data[size_t((c_rows == 1 ? 0 : i) * c_cols + (c_cols == 1 ? 0 : j))];
  return {y};
}

// Softmax / LogSoftmax. Opset >= 13: normalise along `axis` alone (default -1). Before 13:
// the input is coerced to 2-D {prod(dims < axis), prod(dims >= axis)} (default axis 1) and
// normalised along the second dimension.
std::vector<Array> run_softmax(const NodeCase& c, const Attributes& at, bool log) {
  Array x = c.inputs.at(0);
  const int rank = int(x.dims.size());
  int axis = int(at.get_int("axis", c.opset >= 13 ? -1 : 1));
  if (axis < 0) axis += rank;
  Shape s;
  if (c.opset >= 13) {
    s = onnx_testdata::axis_view(x.dims, axis);
  } else {
    const Shape v = onnx_testdata::axis_view(x.dims, axis);
    s = Shape{v.n, v.c * v.h, 1, 1};
  }
  Array y = onnx_testdata::zeros(x.dims);
  if (log)
    log_softmax_forward(x.view(s), y.view(s));
  else
    softmax_forward(x.view(s), y.view(s));
  return {y};
}

std::vector<Array> run_concat(const NodeCase& c, const Attributes& at) {
  CUVIZ_CHECK(!c.inputs.empty(), "Concat: no inputs");
  const int rank = int(c.inputs[0].dims.size());
  int axis = int(at.get_int("axis", 0));
  if (axis < 0) axis += rank;
  std::vector<Array> xs = c.inputs;
  std::vector<Tensor> views;
  std::vector<Shape> shapes;
  std::vector<int64_t> out_dims = xs[0].dims;
  out_dims[size_t(axis)] = 0;
  for (auto& x : xs) {
    CUVIZ_CHECK(int(x.dims.size()) == rank, "Concat: inputs of different rank");
    out_dims[size_t(axis)] += x.dims[size_t(axis)];
    shapes.push_back(onnx_testdata::axis_view(x.dims, axis));
    views.push_back(x.view(shapes.back()));
  }
  const Shape ys = concat_output_shape(shapes);
  Array y = onnx_testdata::zeros(out_dims);
  CUVIZ_CHECK(ys == onnx_testdata::axis_view(out_dims, axis), "Concat: output shape ", ys.str());
  concat_forward(views, y.view(ys));
  return {y};
}

// An element-wise op (relu_forward, sigmoid_forward) on the flat data.
std::vector<Array> run_elementwise(const NodeCase& c, void (*op)(const Tensor&, const Tensor&)) {
  Array x = c.inputs.at(0);
  const Shape s{1, 1, 1, int(x.data.size())};
  Array y = onnx_testdata::zeros(x.dims);
  op(x.view(s), y.view(s));
  return {y};
}

std::vector<Array> run_batchnorm(const NodeCase& c, const Attributes& at) {
  CUVIZ_CHECK(at.get_int("training_mode", 0) == 0 && c.node.output_size() == 1,
              "BatchNormalization: training mode is out of scope (inference only)");
  at.get_float("momentum", 0.9f);  // updates running statistics in training only: no effect here
  CUVIZ_CHECK(c.inputs.size() == 5, "BatchNormalization: needs x, scale, B, mean, var");
  std::vector<Array> in = c.inputs;
  const auto& d = in[0].dims;
  const int channels = int(d.at(1));
  int64_t spatial = 1;
  for (size_t i = 2; i < d.size(); ++i) spatial *= d[i];
  const Shape xs{int(d[0]), channels, int(spatial), 1}, cs{1, channels, 1, 1};
  BatchNormWeights bn{in[1].view(cs), in[2].view(cs), in[3].view(cs), in[4].view(cs),
                      at.get_float("epsilon", 1e-5f)};
  Array y = onnx_testdata::zeros(d);
  batchnorm_forward(bn, in[0].view(xs), y.view(xs));
  return {y};
}

std::vector<Array> run_node(const NodeCase& c, const Attributes& at) {
  const std::string& op = c.node.op_type();
  if (op == "Conv") return run_conv(c, at);
  if (op == "ConvTranspose") return run_conv_transpose(c, at);
  if (op == "MaxPool") return run_pool(c, at, PoolMode::max);
  if (op == "AveragePool") return run_pool(c, at, PoolMode::average);
  if (op == "GlobalMaxPool") return run_global_pool(c, PoolMode::max);
  if (op == "GlobalAveragePool") return run_global_pool(c, PoolMode::average);
  if (op == "LRN") return run_lrn(c, at);
  if (op == "Gemm") return run_gemm(c, at);
  if (op == "Softmax") return run_softmax(c, at, false);
  if (op == "LogSoftmax") return run_softmax(c, at, true);
  if (op == "Concat") return run_concat(c, at);
  if (op == "Relu") return run_elementwise(c, relu_forward);
  if (op == "Sigmoid") return run_elementwise(c, sigmoid_forward);
  if (op == "BatchNormalization") return run_batchnorm(c, at);
  throw Error(cat("onnx conformance: no mapping for op type ", op, " (", c.name, ")"));
}

// The message every test gives when the vectors are not installed.
std::string missing_testdata() {
  return cat("ONNX test vectors not found in ", onnx_testdata::node_dir().string(),
             ": run scripts/install-deps.sh (it installs libonnx-testdata), or point "
             "$CUVIZ_ONNX_TESTDATA at a copy of onnx/backend/test/data/node");
}

class NodeVector : public ::testing::TestWithParam<const char*> {};

TEST_P(NodeVector, MatchesOnnxReference) {
  const auto dir = onnx_testdata::node_dir() / GetParam();
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << missing_testdata() << " (no " << dir.string() << ")";
  const NodeCase c = onnx_testdata::load_node_case(dir);
  const auto tol = kTolerances.find(c.node.op_type());
  ASSERT_NE(tol, kTolerances.end()) << "no tolerance for " << c.node.op_type();
  Attributes at(c.node);
  const std::vector<Array> got = run_node(c, at);
  EXPECT_EQ(at.unread(), "") << "attributes of " << c.node.op_type() << " the mapping ignored";
  ASSERT_EQ(got.size(), c.outputs.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].dims, c.outputs[i].dims)
        << "output " << i << ": ours " << got[i].dims_str() << ", ONNX " << c.outputs[i].dims_str();
    const Shape flat{1, 1, 1, int(got[i].data.size())};
    Array g = got[i], want = c.outputs[i];
    const auto close = test::all_close(g.view(flat), want.view(flat), tol->second.atol);
    EXPECT_TRUE(close) << c.node.op_type() << " output " << i << ", tolerance " << tol->second.atol << ": "
                       << tol->second.why;
    RecordProperty(cat("output_", i), close.message());  // the max abs error, in --gtest_output=xml

  }
}

// "test_conv_with_strides_padding" -> "conv_with_strides_padding".
std::string vector_name(const ::testing::TestParamInfo<const char*>& info) {
  return std::string(info.param).substr(5);
}

INSTANTIATE_TEST_SUITE_P(OnnxConformance, NodeVector, ::testing::ValuesIn(kInScope), vector_name);

// Every single-node vector of an op type cuviz implements is either run or listed as out of
// scope with a reason, and both lists name vectors that exist.
TEST(OnnxConformance, EveryVectorOfOurOpsIsClassified) {
  const auto root = onnx_testdata::node_dir();
  ASSERT_TRUE(std::filesystem::is_directory(root)) << missing_testdata();
  std::set<std::string> listed(std::begin(kInScope), std::end(kInScope));
  for (const auto& o : kOutOfScope) EXPECT_TRUE(listed.insert(o.name).second) << o.name << " listed twice";
  EXPECT_EQ(listed.size(), std::size(kInScope) + std::size(kOutOfScope)) << "a vector is listed twice";
  std::set<std::string> found;
  for (const auto& e : std::filesystem::directory_iterator(root)) {
    if (!std::filesystem::exists(e.path() / "model.onnx")) continue;
    const std::string op = onnx_testdata::single_op_type(e.path());
    if (!kOurOpTypes.count(op)) continue;
    const std::string name = e.path().filename().string();
    found.insert(name);
    EXPECT_TRUE(listed.count(name)) << name << " (" << op << ") is neither run nor listed as out of scope";
  }
  for (const auto& name : listed) EXPECT_TRUE(found.count(name)) << name << " is listed but not in " << root.string();
}

}  // namespace
}  // namespace cuviz
