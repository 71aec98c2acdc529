// The op table (nn/layer_ops.h): per layer kind, its shape rule, forward, backward, what the
// backward keeps, its memory rule, MACs and the plain reference. Each kind is one namespace of
// small functions followed by its table entry at the end of the file.
#include "nn/layer_ops.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

#include "kernels/add.h"
#include "kernels/batchnorm.h"
#include "kernels/concat.h"
#include "kernels/conv2d.h"
#include "kernels/dropout.h"
#include "kernels/linear.h"
#include "kernels/lrn.h"
#include "kernels/pool2d.h"
#include "kernels/relu.h"
#include "kernels/sigmoid.h"
#include "kernels/softmax.h"

namespace cuviz {

namespace {

Tensor bias_of(const LayerDesc& l) { return l.weights.size() > 1 ? Tensor(l.weights[1]) : Tensor(); }
template <class T>
BasicTensor<T> bias_of(RefTensors<T> w) {
  return w.size() > 1 ? *w[1] : BasicTensor<T>();
}
Tensor dbias_of(std::span<const Tensor> dw) { return dw.size() > 1 ? dw[1] : Tensor(); }

// "bias [1, 7, 1, 1] does not match weights [6, 3, 3, 3] (expected [1, 6, 1, 1])" (conv, linear).
void check_bias(const LayerDesc& l) {
  const Shape w = l.weights[0].shape(), want{1, w.n, 1, 1};
  if (l.weights.size() > 1)
    CUVIZ_CHECK(l.weights[1].shape() == want, "bias ", l.weights[1].shape().str(), " does not match weights ",
                w.str(), " (expected ", want.str(), ")");
}

// Element-wise reference loops over (n, c, h, w), so strided views work.
template <class T, class F>
void each(const BasicTensor<T>& t, F&& f) {
  for (int n = 0; n < t.n(); ++n)
    for (int c = 0; c < t.c(); ++c)
      for (int h = 0; h < t.h(); ++h)
        for (int w = 0; w < t.w(); ++w) f(n, c, h, w);
}
template <class T>
void copy_reference(const BasicTensor<T>& src, const BasicTensor<T>& dst) {
  each(src, [&](int n, int c, int h, int w) { dst.at(n, c, h, w) = src.at(n, c, h, w); });
}
// Element k of an image in (c, h, w) order, whatever the batch stride (flatten's reshape).
template <class T>
void copy_dense_reference(const BasicTensor<T>& src, const BasicTensor<T>& dst) {
  for (int n = 0; n < src.n(); ++n)
    for (int64_t k = 0; k < src.shape().image_size(); ++k) dst.image(n)[k] = src.image(n)[k];
}

Shape same_shape(const LayerDesc&, std::span<const Shape> in) { return in[0]; }
// Views: the gradient memory of the output is the input's, so there is nothing to do.
void no_backward(const LayerCall&, InputGrads&) {}

// ---- conv: weights w {O, I/groups, kh, kw}, optional bias {1, O, 1, 1} -------------------------
namespace op_conv {
Shape output_shape(const LayerDesc& l, std::span<const Shape> in) {
  const Shape w = l.weights[0].shape();
  const int g = l.conv.groups;
  CUVIZ_CHECK(g >= 1 && w.n % g == 0, w.n, " output channels are not divisible by groups = ", g);
  CUVIZ_CHECK(int64_t(w.c) * g == in[0].c, "weights ", w.str(), " with groups = ", g, " expect ",
              int64_t(w.c) * g, " input channels, but the input is ", in[0].str());
  check_bias(l);
  return conv2d_output_shape(l.conv, in[0], w);
}
bool forward(const LayerCall& c) {
  Conv2dParams p = c.layer.conv;
  p.fuse_relu = c.fuse_relu;
  conv2d_forward(p, c.x(), c.layer.weights[0], bias_of(c.layer), c.y);
  return true;
}
// The ReLU a forward may have fused is its own layer in the backward.
Conv2dParams unfused(const LayerCall& c) {
  Conv2dParams p = c.layer.conv;
  p.fuse_relu = false;
  return p;
}
void backward_data(const LayerCall& c, InputGrads& g) {
  const Conv2dParams p = unfused(c);
  g.write(0, [&](const Tensor& d) { conv2d_backward_data(p, c.dy, c.layer.weights[0], d); });
}
void backward_weight(const LayerCall& c, std::span<const Tensor> dw) {
  conv2d_backward_weight(unfused(c), c.x(), c.dy, dw[0], dbias_of(dw));
}
int64_t macs(const LayerDesc& l, Shape out) {
  const Shape w = l.weights[0].shape();  // each output element: in_channels / groups * kh * kw
  return out.image_size() * w.c * w.h * w.w;
}
template <class T>
void reference_forward(const LayerDesc& l, RefTensors<T> in, RefTensors<T> w, const BasicTensor<T>& y) {
  conv2d_forward_reference<T>(l.conv, *in[0], *w[0], bias_of(w), y);
}
void reference_backward(const LayerDesc& l, RefTensors<double> in, RefTensors<double> w, const TensorD&,
                        const TensorD& dy, RefTensors<double> dx, RefTensors<double> dw) {
  conv2d_backward_data_reference<double>(l.conv, dy, *w[0], *dx[0]);
  if (!dw.empty()) conv2d_backward_weight_reference<double>(l.conv, *in[0], dy, *dw[0], bias_of(dw));
}
}  // namespace op_conv

// ---- relu: y = max(x, 0) ----------------------------------------------------------------------
namespace op_relu {
bool forward(const LayerCall& c) {
  if (c.fused_into_conv && !c.mask.defined()) return false;
  if (!c.fused_into_conv) relu_forward(c.x(), c.y);
  if (c.mask.defined()) relu_mask_forward(c.y, c.mask);  // the stash: where y > 0
  return true;
}
void backward_data(const LayerCall& c, InputGrads& g) {
  g.write(0, [&](const Tensor& d) {
    if (c.mask.defined())
      relu_backward_data_masked(c.mask, c.dy, d, false);
    else
      relu_backward_data(c.y, c.dy, d);  // variants (Lucid's redirect, guided) are backward rules
  });
}
template <class T>
void reference_forward(const LayerDesc&, RefTensors<T> in, RefTensors<T>, const BasicTensor<T>& y) {
  relu_forward_reference<T>(*in[0], y);
}
void reference_backward(const LayerDesc&, RefTensors<double>, RefTensors<double>, const TensorD& y,
                        const TensorD& dy, RefTensors<double> dx, RefTensors<double>) {
  relu_backward_data_reference<double>(y, dy, *dx[0]);
}
}  // namespace op_relu

// ---- pool: max / average / global ---------------------------------------------------------------
namespace op_pool {
Shape output_shape(const LayerDesc& l, std::span<const Shape> in) { return pool2d_output_shape(l.pool, in[0]); }
bool forward(const LayerCall& c) {
  if (c.winners.defined())
    pool2d_forward_winners(c.layer.pool, c.x(), c.y, c.winners);
  else
    pool2d_forward(c.layer.pool, c.x(), c.y);
  return true;
}
void backward_data(const LayerCall& c, InputGrads& g) {
  g.write(0, [&](const Tensor& d) {
    if (c.winners.defined())
      pool2d_backward_data_winners(c.layer.pool, c.winners, c.dy, d);
    else
      pool2d_backward_data(c.layer.pool, c.x(), c.y, c.dy, d);  // average pooling reads neither x nor y
  });
}
template <class T>
void reference_forward(const LayerDesc& l, RefTensors<T> in, RefTensors<T>, const BasicTensor<T>& y) {
  pool2d_forward_reference<T>(l.pool, *in[0], y);
}
void reference_backward(const LayerDesc& l, RefTensors<double> in, RefTensors<double>, const TensorD& y,
                        const TensorD& dy, RefTensors<double> dx, RefTensors<double>) {
  pool2d_backward_data_reference<double>(l.pool, *in[0], y, dy, *dx[0]);
}
}  // namespace op_pool

// ---- lrn: across channels ---------------------------------------------------------------------
namespace op_lrn {
bool forward(const LayerCall& c) {
  lrn_forward(c.layer.lrn, c.x(), c.y);
  return true;
}
void backward_data(const LayerCall& c, InputGrads& g) {
  g.write(0, [&](const Tensor& d) { lrn_backward_data(c.layer.lrn, c.x(), c.y, c.dy, d); });
}
template <class T>
void reference_forward(const LayerDesc& l, RefTensors<T> in, RefTensors<T>, const BasicTensor<T>& y) {
  lrn_forward_reference<T>(l.lrn, *in[0], y);
}
void reference_backward(const LayerDesc& l, RefTensors<double> in, RefTensors<double>, const TensorD& y,
                        const TensorD& dy, RefTensors<double> dx, RefTensors<double>) {
  lrn_backward_data_reference<double>(l.lrn, *in[0], y, dy, *dx[0]);
}
}  // namespace op_lrn

// ---- concat: along channels -------------------------------------------------------------------
namespace op_concat {
Shape output_shape(const LayerDesc&, std::span<const Shape> in) { return concat_output_shape(in); }
bool forward(const LayerCall& c) {
  if (std::all_of(c.placed.begin(), c.placed.end(), [](char p) { return p != 0; })) return false;
  std::vector<Tensor> xs;
  for (size_t i = 0; i < c.in.size(); ++i) xs.push_back(c.x(i));
  concat_forward(xs, c.y);  // skips the inputs that already are their slice
  return true;
}
// d(input i) is dy's channel slice of input i; a placed input's gradient already is that slice.
void backward_data(const LayerCall& c, InputGrads& g) {
  for (size_t i = 0; i < c.in.size(); ++i)
    if (!c.placed[i]) g.pass(int(i), c.dy.channels(c.concat_offset[i], c.x(i).c()));
}
template <class T>
void reference_forward(const LayerDesc&, RefTensors<T> in, RefTensors<T>, const BasicTensor<T>& y) {
  int off = 0;
  for (auto* t : in) {
    copy_reference(*t, y.channels(off, t->c()));
    off += t->c();
  }
}
void reference_backward(const LayerDesc&, RefTensors<double>, RefTensors<double>, const TensorD&, const TensorD& dy,
                        RefTensors<double> dx, RefTensors<double>) {
  int off = 0;
  for (auto* t : dx) {
    copy_reference(dy.channels(off, t->c()), *t);
    off += t->c();
  }
}
}  // namespace op_concat

// ---- linear: weights w {O, K, 1, 1}, optional bias {1, O, 1, 1}; the input flattened -----------
namespace op_linear {
Shape output_shape(const LayerDesc& l, std::span<const Shape> in) {
  const Shape w = l.weights[0].shape();
  CUVIZ_CHECK(w.h == 1 && w.w == 1 && w.c == in[0].image_size(), "weights ", w.str(), " expect ", w.c,
              " input features, but the input ", in[0].str(), " has ", in[0].image_size());
  check_bias(l);
  return Shape{in[0].n, w.n, 1, 1};
}
bool forward(const LayerCall& c) {
  linear_forward(c.x(), c.layer.weights[0], bias_of(c.layer), c.y);
  return true;
}
void backward_data(const LayerCall& c, InputGrads& g) {
  g.write(0, [&](const Tensor& d) { linear_backward_data(c.dy, c.layer.weights[0], d); });
}
void backward_weight(const LayerCall& c, std::span<const Tensor> dw) {
  linear_backward_weight(c.x(), c.dy, dw[0], dbias_of(dw));
}
int64_t macs(const LayerDesc& l, Shape) { return int64_t(l.weights[0].n()) * l.weights[0].c(); }
template <class T>
void reference_forward(const LayerDesc&, RefTensors<T> in, RefTensors<T> w, const BasicTensor<T>& y) {
  linear_forward_reference<T>(*in[0], *w[0], bias_of(w), y);
}
void reference_backward(const LayerDesc&, RefTensors<double> in, RefTensors<double> w, const TensorD&,
                        const TensorD& dy, RefTensors<double> dx, RefTensors<double> dw) {
  linear_backward_data_reference<double>(dy, *w[0], *dx[0]);
  if (!dw.empty()) linear_backward_weight_reference<double>(*in[0], dy, *dw[0], bias_of(dw));
}
}  // namespace op_linear

// ---- softmax: over channels -------------------------------------------------------------------
namespace op_softmax {
bool forward(const LayerCall& c) {
  softmax_forward(c.x(), c.y);
  return true;
}
void backward_data(const LayerCall& c, InputGrads& g) {
  g.write(0, [&](const Tensor& d) { softmax_backward_data(c.y, c.dy, d); });
}
template <class T>
void reference_forward(const LayerDesc&, RefTensors<T> in, RefTensors<T>, const BasicTensor<T>& y) {
  softmax_forward_reference<T>(*in[0], y);
}
void reference_backward(const LayerDesc&, RefTensors<double>, RefTensors<double>, const TensorD& y,
                        const TensorD& dy, RefTensors<double> dx, RefTensors<double>) {
  softmax_backward_data_reference<double>(y, dy, *dx[0]);
}
}  // namespace op_softmax

// ---- dropout (identity at inference) and flatten ({n, c, h, w} -> {n, c*h*w, 1, 1}): views ------
namespace op_view {
bool forward(const LayerCall&) { return false; }  // the plan made y a view of x
template <class T>
void dropout_reference(const LayerDesc&, RefTensors<T> in, RefTensors<T>, const BasicTensor<T>& y) {
  copy_reference(*in[0], y);
}
void dropout_reference_backward(const LayerDesc&, RefTensors<double>, RefTensors<double>, const TensorD&,
                                const TensorD& dy, RefTensors<double> dx, RefTensors<double>) {
  copy_reference(dy, *dx[0]);
}
Shape flatten_output_shape(const LayerDesc&, std::span<const Shape> in) { return flatten_shape(in[0]); }
template <class T>
void flatten_reference(const LayerDesc&, RefTensors<T> in, RefTensors<T>, const BasicTensor<T>& y) {
  copy_dense_reference(*in[0], y);
}
void flatten_reference_backward(const LayerDesc&, RefTensors<double>, RefTensors<double>, const TensorD&,
                                const TensorD& dy, RefTensors<double> dx, RefTensors<double>) {
  copy_dense_reference(dy, *dx[0]);
}
}  // namespace op_view

// ---- affine: per-channel y = a_c x + b_c; weights a {1, C, 1, 1}, b {1, C, 1, 1} ----------------
namespace op_affine {
Shape output_shape(const LayerDesc& l, std::span<const Shape> in) {
  const Shape want{1, in[0].c, 1, 1};
  for (const auto& t : l.weights)
    CUVIZ_CHECK(t.shape() == want, "per-channel weights ", t.shape().str(), " do not match the input ",
                in[0].str(), " (expected ", want.str(), ")");
  return in[0];
}
// y = a x + b runs as a batch norm with mean 0, variance 1 and eps 0 (make_aux), whose a_c and b_c
// are then exactly scale and shift.
std::vector<OwnedTensor> make_aux(const LayerDesc& l, Device device) {
  std::vector<OwnedTensor> aux;
  for (float value : {0.f, 1.f}) {
    OwnedTensor host(l.weights[0].shape());
    fill(host, value);
    OwnedTensor d(host.shape(), device);
    copy(host, d);
    aux.push_back(std::move(d));
  }
  return aux;
}
BatchNormWeights batchnorm_of(const LayerCall& c) {
  return BatchNormWeights{c.layer.weights[0], c.layer.weights[1], c.aux[0], c.aux[1], 0.f};
}
bool forward(const LayerCall& c) {
  batchnorm_forward(batchnorm_of(c), c.x(), c.y);
  return true;
}
void backward_data(const LayerCall& c, InputGrads& g) {
  const BatchNormWeights bn = batchnorm_of(c);
  g.write(0, [&](const Tensor& d) { batchnorm_backward_data(bn, c.dy, d); });
}
template <class T>
void reference_forward(const LayerDesc&, RefTensors<T> in, RefTensors<T> w, const BasicTensor<T>& y) {
  const BasicTensor<T>& x = *in[0];
  each(x, [&](int n, int c, int h, int ww) {
    y.at(n, c, h, ww) = w[0]->data()[c] * x.at(n, c, h, ww) + w[1]->data()[c];
  });
}
void reference_backward(const LayerDesc&, RefTensors<double>, RefTensors<double> w, const TensorD&, const TensorD& dy,
                        RefTensors<double> dx, RefTensors<double>) {
  each(dy, [&](int n, int c, int h, int ww) { dx[0]->at(n, c, h, ww) = w[0]->data()[c] * dy.at(n, c, h, ww); });
}
}  // namespace op_affine

// ---- add: element-wise sum of two inputs of one shape --------------------------------------------
namespace op_add {
Shape output_shape(const LayerDesc&, std::span<const Shape> in) {
  CUVIZ_CHECK(in[0] == in[1], "inputs ", in[0].str(), " and ", in[1].str(), " differ in shape");
  return in[0];
}
bool forward(const LayerCall& c) {
  add_forward(c.x(0), c.x(1), c.y);
  return true;
}
void backward_data(const LayerCall& c, InputGrads& g) {
  g.pass(0, c.dy);  // d(a) = d(b) = dy
  g.pass(1, c.dy);
}
template <class T>
void reference_forward(const LayerDesc&, RefTensors<T> in, RefTensors<T>, const BasicTensor<T>& y) {
  add_forward_reference<T>(*in[0], *in[1], y);
}
void reference_backward(const LayerDesc&, RefTensors<double>, RefTensors<double>, const TensorD&, const TensorD& dy,
                        RefTensors<double> dx, RefTensors<double>) {
  copy_reference(dy, *dx[0]);
  copy_reference(dy, *dx[1]);
}
}  // namespace op_add

// ---- sigmoid: y = 1 / (1 + e^-x); its backward reads y ----------------------------------------
namespace op_sigmoid {
bool forward(const LayerCall& c) {
  sigmoid_forward(c.x(), c.y);
  return true;
}
void backward_data(const LayerCall& c, InputGrads& g) {
  g.write(0, [&](const Tensor& d) { sigmoid_backward_data(c.y, c.dy, d); });
}
template <class T>
void reference_forward(const LayerDesc&, RefTensors<T> in, RefTensors<T>, const BasicTensor<T>& y) {
  sigmoid_forward_reference<T>(*in[0], y);
}
void reference_backward(const LayerDesc&, RefTensors<double>, RefTensors<double>, const TensorD& y,
                        const TensorD& dy, RefTensors<double> dx, RefTensors<double>) {
  sigmoid_backward_data_reference<double>(y, dy, *dx[0]);
}
}  // namespace op_sigmoid

constexpr size_t kAny = SIZE_MAX;

// The table, in LayerKind order. Fields left out are nullptr: no weight gradient, no aux tensors,
// no MACs counted.
constexpr LayerOp kOps[] = {
    {.kind = LayerKind::conv, .name = "conv", .in_min = 1, .in_max = 1, .w_min = 1, .w_max = 2,
     .output_shape = op_conv::output_shape, .forward = op_conv::forward, .backward_data = op_conv::backward_data,
     .backward_weight = op_conv::backward_weight, .keep = Keep::nothing, .memory = Memory::own,
     .macs = op_conv::macs, .reference_forward_f = op_conv::reference_forward<float>,
     .reference_forward_d = op_conv::reference_forward<double>, .reference_backward = op_conv::reference_backward},
    {.kind = LayerKind::relu, .name = "relu", .in_min = 1, .in_max = 1, .w_min = 0, .w_max = 0,
     .output_shape = same_shape, .forward = op_relu::forward, .backward_data = op_relu::backward_data,
     .keep = Keep::relu_mask, .memory = Memory::may_overwrite,
     .reference_forward_f = op_relu::reference_forward<float>,
     .reference_forward_d = op_relu::reference_forward<double>, .reference_backward = op_relu::reference_backward},
    {.kind = LayerKind::pool, .name = "pool", .in_min = 1, .in_max = 1, .w_min = 0, .w_max = 0,
     .output_shape = op_pool::output_shape, .forward = op_pool::forward, .backward_data = op_pool::backward_data,
     .keep = Keep::pool_winners, .memory = Memory::own,
     .reference_forward_f = op_pool::reference_forward<float>,
     .reference_forward_d = op_pool::reference_forward<double>, .reference_backward = op_pool::reference_backward},
    {.kind = LayerKind::lrn, .name = "lrn", .in_min = 1, .in_max = 1, .w_min = 0, .w_max = 0,
     .output_shape = same_shape, .forward = op_lrn::forward, .backward_data = op_lrn::backward_data,
     .keep = Keep::input_and_output, .memory = Memory::own,
     .reference_forward_f = op_lrn::reference_forward<float>,
     .reference_forward_d = op_lrn::reference_forward<double>, .reference_backward = op_lrn::reference_backward},
    {.kind = LayerKind::concat, .name = "concat", .in_min = 2, .in_max = kAny, .w_min = 0, .w_max = 0,
     .output_shape = op_concat::output_shape, .forward = op_concat::forward,
     .backward_data = op_concat::backward_data, .keep = Keep::nothing, .memory = Memory::own,
     .reference_forward_f = op_concat::reference_forward<float>,
     .reference_forward_d = op_concat::reference_forward<double>,
     .reference_backward = op_concat::reference_backward},
    {.kind = LayerKind::linear, .name = "linear", .in_min = 1, .in_max = 1, .w_min = 1, .w_max = 2,
     .output_shape = op_linear::output_shape, .forward = op_linear::forward,
     .backward_data = op_linear::backward_data, .backward_weight = op_linear::backward_weight,
     .keep = Keep::nothing, .memory = Memory::own, .macs = op_linear::macs,
     .reference_forward_f = op_linear::reference_forward<float>,
     .reference_forward_d = op_linear::reference_forward<double>,
     .reference_backward = op_linear::reference_backward},
    {.kind = LayerKind::softmax, .name = "softmax", .in_min = 1, .in_max = 1, .w_min = 0, .w_max = 0,
     .output_shape = same_shape, .forward = op_softmax::forward, .backward_data = op_softmax::backward_data,
     .keep = Keep::output, .memory = Memory::own,
     .reference_forward_f = op_softmax::reference_forward<float>,
     .reference_forward_d = op_softmax::reference_forward<double>,
     .reference_backward = op_softmax::reference_backward},
    {.kind = LayerKind::dropout, .name = "dropout", .in_min = 1, .in_max = 1, .w_min = 0, .w_max = 0,
     .output_shape = same_shape, .forward = op_view::forward, .backward_data = no_backward,
     .keep = Keep::nothing, .memory = Memory::view,
     .reference_forward_f = op_view::dropout_reference<float>,
     .reference_forward_d = op_view::dropout_reference<double>,
     .reference_backward = op_view::dropout_reference_backward},
    {.kind = LayerKind::flatten, .name = "flatten", .in_min = 1, .in_max = 1, .w_min = 0, .w_max = 0,
     .output_shape = op_view::flatten_output_shape, .forward = op_view::forward, .backward_data = no_backward,
     .keep = Keep::nothing, .memory = Memory::reshape,
     .reference_forward_f = op_view::flatten_reference<float>,
     .reference_forward_d = op_view::flatten_reference<double>,
     .reference_backward = op_view::flatten_reference_backward},
    {.kind = LayerKind::affine, .name = "affine", .in_min = 1, .in_max = 1, .w_min = 2, .w_max = 2,
     .output_shape = op_affine::output_shape, .forward = op_affine::forward,
     .backward_data = op_affine::backward_data, .keep = Keep::nothing, .memory = Memory::own,
     .make_aux = op_affine::make_aux, .reference_forward_f = op_affine::reference_forward<float>,
     .reference_forward_d = op_affine::reference_forward<double>,
     .reference_backward = op_affine::reference_backward},
    {.kind = LayerKind::add, .name = "add", .in_min = 2, .in_max = 2, .w_min = 0, .w_max = 0,
     .output_shape = op_add::output_shape, .forward = op_add::forward, .backward_data = op_add::backward_data,
     .keep = Keep::nothing, .memory = Memory::own,
     .reference_forward_f = op_add::reference_forward<float>,
     .reference_forward_d = op_add::reference_forward<double>, .reference_backward = op_add::reference_backward},
    {.kind = LayerKind::sigmoid, .name = "sigmoid", .in_min = 1, .in_max = 1, .w_min = 0, .w_max = 0,
     .output_shape = same_shape, .forward = op_sigmoid::forward, .backward_data = op_sigmoid::backward_data,
     .keep = Keep::output, .memory = Memory::own,
     .reference_forward_f = op_sigmoid::reference_forward<float>,
     .reference_forward_d = op_sigmoid::reference_forward<double>,
     .reference_backward = op_sigmoid::reference_backward},
};

// One entry per kind, each at its kind's index: a kind added to the enum without an entry, or an
// entry out of order, fails to compile.
static_assert(std::size(kOps) == std::size(kLayerKinds), "nn/layer_ops.cpp: one table entry per LayerKind");
constexpr bool in_enum_order() {
  for (size_t i = 0; i < std::size(kOps); ++i)
    if (kOps[i].kind != kLayerKinds[i] || size_t(kLayerKinds[i]) != i) return false;
  return true;
}
static_assert(in_enum_order(), "nn/layer_ops.cpp: table entries must follow the LayerKind order");

}  // namespace

const LayerOp& layer_op(LayerKind k) {
  CUVIZ_CHECK(size_t(k) < std::size(kOps), "unknown layer kind ", int(k));
  return kOps[size_t(k)];
}

void check_layer_counts(const LayerDesc& l, const std::string& who) {
  const LayerOp& op = layer_op(l.kind);
  auto expected = [](size_t lo, size_t hi) {
    return lo == hi ? cat(lo) : hi == kAny ? cat("at least ", lo) : cat(lo, " to ", hi);
  };
  CUVIZ_CHECK(l.inputs.size() >= op.in_min && l.inputs.size() <= op.in_max, who, " has ", l.inputs.size(),
              " inputs, expected ", expected(op.in_min, op.in_max));
  CUVIZ_CHECK(l.weights.size() >= op.w_min && l.weights.size() <= op.w_max, who, " has ", l.weights.size(),
              " weight tensors, expected ", expected(op.w_min, op.w_max));
}

Shape output_shape(const LayerDesc& l, std::span<const Shape> in) { return layer_op(l.kind).output_shape(l, in); }

}  // namespace cuviz
