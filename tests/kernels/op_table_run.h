// Runs an OpCase (tests/kernels/op_cases.h) through its op-table entry (nn/layer_ops.h) the way a
// plan does, without a Network: inputs, weights and aux tensors on one device, the output a view
// for view kinds, the compact stash on request, and an InputGrads that writes each d(input) into
// its own tensor. The double reference of the same case comes from the table's reference entries.
#pragma once

#include <cmath>
#include <vector>

#include "nn/layer_ops.h"
#include "tests/kernels/op_cases.h"

namespace cuviz::test {

// Seeded inputs of a case (host) and the seed dy of its output.
inline std::vector<OwnedTensor> case_inputs(const OpCase& c) {
  std::vector<OwnedTensor> xs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    xs.emplace_back(c.inputs[i]);
    fill_uniform<float>(xs.back(), 100 + i, -2.0, 2.0);
  }
  return xs;
}
inline OwnedTensor case_dy(Shape y) {
  OwnedTensor dy(y);
  fill_uniform<float>(dy, 7, -1.0, 1.0);
  return dy;
}
inline Shape case_output_shape(const OpCase& c) {
  check_layer_counts(c.layer, c.name);
  return output_shape(c.layer, c.inputs);
}

// Host copies of what one run computed.
struct OpRun {
  OwnedTensor y;
  std::vector<OwnedTensor> dx;  // per input
  std::vector<OwnedTensor> dw;  // per weight, for kinds with backward_weight
};

inline OwnedTensor on_device(const Tensor& host, Device d) {
  OwnedTensor t(host.shape(), d);
  copy(host, t);
  return t;
}
inline OwnedTensor to_host_copy(const Tensor& t) { return on_device(t, Device::cpu); }

// `stash`: the backward reads the compact stash (ReLU mask, max-pool winners) as a compact plan's does.
// `in_place`: a kind whose Memory is may_overwrite runs over its input (y = x, dx = dy), as a
// plan runs it when nothing else reads the input.
inline OpRun run_op(const OpCase& c, Device d, bool stash = false, bool in_place = false) {
  const LayerOp& op = layer_op(c.layer.kind);
  LayerDesc l;
  l.name = c.layer.name;
  l.kind = c.layer.kind;
  l.inputs = c.layer.inputs;
  l.output = c.layer.output;
  l.conv = c.layer.conv;
  l.pool = c.layer.pool;
  l.lrn = c.layer.lrn;
  for (const auto& w : c.layer.weights) l.weights.push_back(on_device(w, d));
  const Shape ys = case_output_shape(c);

  // Inputs. A view (or a layer run in place) shares its input's memory for the value and for
  // the gradient, as in a plan, so its y IS x and its dx[0] IS dy.
  std::vector<OwnedTensor> xs;
  std::vector<Tensor> act;
  std::vector<int> in;
  for (const auto& x : case_inputs(c)) {
    xs.push_back(on_device(x, d));
    act.push_back(xs.back());
    in.push_back(int(in.size()));
  }
  const bool shares_input = op.memory == Memory::view || op.memory == Memory::reshape ||
                    (in_place && op.memory == Memory::may_overwrite);
  OwnedTensor y_own;
  Tensor y;
  if (shares_input) {
    y = op.memory == Memory::reshape ? act[0].reshaped(ys) : act[0];
  } else {
    y_own = OwnedTensor(ys, d);
    fill(y_own, NAN);  // an element the op does not write stays NaN and fails every comparison
    y = y_own;
  }
  const std::vector<OwnedTensor> aux = op.make_aux ? op.make_aux(l, d) : std::vector<OwnedTensor>{};
  MaskTensor mask;
  WinnerTensor winners;
  OwnedTensor mask_mem, winners_mem;
  if (stash && op.keep == Keep::relu_mask) {
    mask_mem = OwnedTensor(relu_mask_shape(ys), d);
    mask = MaskTensor(reinterpret_cast<uint32_t*>(mask_mem.data()), relu_mask_shape(ys), d);
  }
  if (stash && op.keep == Keep::pool_winners && l.pool.mode == PoolMode::max) {
    winners_mem = OwnedTensor(ys, d);
    winners = WinnerTensor(reinterpret_cast<int32_t*>(winners_mem.data()), ys, d);
  }
  std::vector<int> offset;
  for (int i = 0, o = 0; i < int(c.inputs.size()); o += c.inputs[i].c, ++i) offset.push_back(o);
  const std::vector<char> placed(c.inputs.size(), 0);
  auto call = [&](const Tensor& dy) {
    return LayerCall{l, act, in, y, dy, aux, mask, winners, offset, placed, false, false};
  };
  CUVIZ_CHECK(op.forward(call(Tensor())) || shares_input, c.name, ": forward launched nothing");
  OpRun r;
  r.y = to_host_copy(y);

  // Backward.
  const OwnedTensor dy_host = case_dy(ys);
  std::vector<OwnedTensor> dx;
  for (const Shape& s : c.inputs) {
    dx.emplace_back(s, d);
    fill(dx.back(), NAN);
  }
  OwnedTensor dy_own;
  Tensor dy;
  if (shares_input) {
    dy = op.memory == Memory::reshape ? Tensor(dx[0]).reshaped(ys) : Tensor(dx[0]);
  } else {
    dy_own = OwnedTensor(ys, d);
    dy = dy_own;
  }
  copy(dy_host, dy);
  struct Direct final : InputGrads {
    std::vector<OwnedTensor>& dx;
    explicit Direct(std::vector<OwnedTensor>& d) : dx(d) {}
    void write(int slot, TensorFn w) override { w(dx[slot]); }
    void pass(int slot, const Tensor& g) override { copy(g, dx[slot]); }
  } grads(dx);
  op.backward_data(call(dy), grads);
  for (const auto& t : dx) r.dx.push_back(to_host_copy(t));
  if (op.backward_weight) {
    std::vector<OwnedTensor> dw;
    std::vector<Tensor> dw_views;
    for (const auto& w : l.weights) {
      dw.emplace_back(w.shape(), d);
      fill(dw.back(), NAN);
      dw_views.push_back(dw.back());
    }
    op.backward_weight(call(dy), dw_views);
    for (const auto& t : dw) r.dw.push_back(to_host_copy(t));
  }
  return r;
}

// The same case in double through the table's reference entries.
struct OpReference {
  std::vector<OwnedTensorD> x, w;  // inputs and weights (perturbed by the gradient check)
  OwnedTensorD dy;
  OwnedTensorD y;
  std::vector<OwnedTensorD> dx, dw;

  explicit OpReference(const OpCase& c) : dy(to_double(case_dy(case_output_shape(c)))) {
    for (const auto& t : case_inputs(c)) x.push_back(to_double(t));
    for (const auto& t : c.layer.weights) w.push_back(to_double(t));
    y = forward(c);
    for (const auto& t : x) dx.emplace_back(t.shape());
    if (layer_op(c.layer.kind).backward_weight)
      for (const auto& t : w) dw.emplace_back(t.shape());
    layer_op(c.layer.kind).reference_backward(c.layer, ptrs(x), ptrs(w), y, dy, ptrs(dx), ptrs(dw));
  }
  // y for the current x and w.
  OwnedTensorD forward(const OpCase& c) const {
    OwnedTensorD out(case_output_shape(c));
    reference_forward<double>(c.layer, ptrs(x), ptrs(w), out);
    return out;
  }
  static std::vector<const TensorD*> ptrs(const std::vector<OwnedTensorD>& ts) {
    std::vector<const TensorD*> p;
    for (const auto& t : ts) p.push_back(&t);
    return p;
  }
};

// `got` against `want` (another run, or the OpReference): the output, every d(input), every d(weight).
template <class Want>
void expect_run_close(const OpRun& got, const Want& want, double atol, double rtol) {
  EXPECT_TRUE(all_close(got.y, want.y, atol, rtol)) << "forward";
  ASSERT_EQ(got.dx.size(), want.dx.size());
  for (size_t i = 0; i < got.dx.size(); ++i)
    EXPECT_TRUE(all_close(got.dx[i], want.dx[i], atol, rtol)) << "d input " << i;
  ASSERT_EQ(got.dw.size(), want.dw.size());
  for (size_t i = 0; i < got.dw.size(); ++i)
    EXPECT_TRUE(all_close(got.dw[i], want.dw[i], atol, rtol)) << "d weight " << i;
}

}  // namespace cuviz::test
