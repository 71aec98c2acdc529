// The op-table driver (ggml's test-backend-ops style): every LayerKind has a case in
// tests/kernels/op_cases.h, and every case runs through its nn/layer_ops.h entry on the CPU
// against the entry's double reference (forward, data and weight gradients, with and without the
// compact stash), the reference backward against central differences, and the entry's count
// checks. The per-op tests (conv2d_test.cpp, ...) test each op in more depth.
#include <set>

#include "tests/kernels/op_table_run.h"
#include "tests/kernels/op_test_util.h"

namespace cuviz {

using test::OpCase;

TEST(OpTable, EveryLayerKindHasAnEntryAndACase) {
  const std::vector<OpCase> cases = test::op_cases();
  for (LayerKind k : kLayerKinds) {
    const LayerOp& op = layer_op(k);
    EXPECT_EQ(op.kind, k);
    EXPECT_STREQ(op.name, layer_kind_name(k));
    int n = 0;
    for (const auto& c : cases) n += c.layer.kind == k;
    EXPECT_GE(n, 1) << "layer kind '" << op.name << "' has no case in tests/kernels/op_cases.h";
  }
  std::set<std::string> names;
  for (const auto& c : cases) EXPECT_TRUE(names.insert(c.name).second) << "two cases are named '" << c.name << "'";
}

TEST(OpTable, ForwardAndBackwardMatchTheDoubleReference) {
  for (const OpCase& c : test::op_cases()) {
    SCOPED_TRACE(c.name);
    const test::OpReference ref(c);
    test::expect_run_close(test::run_op(c, Device::cpu), ref, c.atol, c.rtol);
    if (layer_op(c.layer.kind).memory == Memory::may_overwrite) {
      SCOPED_TRACE("in place");
      test::expect_run_close(test::run_op(c, Device::cpu, false, true), ref, c.atol, c.rtol);
    }
  }
}

// A compact plan's backward reads the stash (ReLU bits, max-pool winners) instead of x and y: the
// same gradient, bit for bit.
TEST(OpTable, StashedBackwardEqualsThePlainOne) {
  int stashed = 0;
  for (const OpCase& c : test::op_cases()) {
    const Keep keep = layer_op(c.layer.kind).keep;
    if (keep != Keep::relu_mask && keep != Keep::pool_winners) continue;
    SCOPED_TRACE(c.name);
    ++stashed;
    test::expect_run_close(test::run_op(c, Device::cpu, true), test::run_op(c, Device::cpu), 0.0, 0.0);
  }
  EXPECT_GE(stashed, 2) << "the ReLU and max-pool cases exercise the stash";
}

// The reference backward of every case against central differences of its reference forward, for
// every input and every trained weight (loss = sum(w * y) with w = the case's dy).
TEST(OpTable, ReferenceBackwardMatchesCentralDifferences) {
  for (const OpCase& c : test::op_cases()) {
    SCOPED_TRACE(c.name);
    test::OpReference ref(c);
    const auto loss = [&] { return test::weighted_sum(ref.forward(c), ref.dy); };
    for (size_t i = 0; i < ref.x.size(); ++i)
      EXPECT_TRUE(test::gradient_check(ref.x[i], loss, ref.dx[i])) << "input " << i;
    for (size_t i = 0; i < ref.dw.size(); ++i)
      EXPECT_TRUE(test::gradient_check(ref.w[i], loss, ref.dw[i])) << "weight " << i;
  }
}

// One input too few or too many (where the kind has a maximum) and one weight too many: one
// cuviz::Error naming the layer.
TEST(OpTable, WrongCountsNameTheLayer) {
  for (const OpCase& c : test::op_cases()) {
    SCOPED_TRACE(c.name);
    const LayerOp& op = layer_op(c.layer.kind);
    LayerDesc l;
    l.name = c.name;
    l.kind = c.layer.kind;
    l.inputs.assign(op.in_min - 1, "x");
    test::expect_error([&] { check_layer_counts(l, "layer '" + c.name + "'"); }, "layer '" + c.name + "' has");
    l.inputs.assign(op.in_min, "x");
    for (size_t i = 0; i <= op.w_max; ++i) l.weights.emplace_back(Shape{1, 1, 1, 1});
    test::expect_error([&] { check_layer_counts(l, "layer '" + c.name + "'"); }, "weight tensors, expected");
  }
}

}  // namespace cuviz
