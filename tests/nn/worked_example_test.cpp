// The worked example of docs/backprop.md, section 5, reproduced to the last bit: the test reads
// the doc's blocks between <!-- worked-example-begin --> and <!-- worked-example-end --> (so the
// doc cannot go stale), takes x, w and b from them, computes every other number with cuviz's ops
// and again with a Network (gradient taps and weight gradients), and compares exactly (every
// number of the example is a short binary fraction).
//
// An independent reference, PyTorch (run once by hand; it prints the doc's numbers):
//   x = torch.tensor([[1,2,0,-1],[0,1,3,-5],[-2,1,0,2],[1,0,-1,1.]]).reshape(1,1,4,4).requires_grad_()
//   w = torch.tensor([[1,-1],[2,0.]]).reshape(1,1,2,2).requires_grad_(); b = torch.tensor([0.5]).requires_grad_()
//   z = F.conv2d(x, w, b); r = torch.relu(z); m = F.max_pool2d(r, 2, 1); J = m.mean(); J.backward()
//   (retain_grad() on z, r, m for their gradients)
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "io/atomic_file.h"
#include "kernels/conv2d.h"
#include "kernels/pool2d.h"
#include "kernels/relu.h"
#include "nn/network.h"

namespace cuviz {
namespace {

using Matrix = std::vector<std::vector<double>>;

// The named numbers of the doc's example: inside the markers and inside ```text fences, a line
// `NAME =` starts a matrix whose rows are the following lines of numbers; `NAME = NUMBER` is a
// scalar (a 1x1 matrix).
std::map<std::string, Matrix> read_example(const std::string& doc) {
  const size_t begin = doc.find("<!-- worked-example-begin -->"), end = doc.find("<!-- worked-example-end -->");
  EXPECT_NE(begin, std::string::npos);
  EXPECT_NE(end, std::string::npos);
  std::istringstream in(doc.substr(begin, end - begin));
  std::map<std::string, Matrix> out;
  std::string line, current;
  bool fenced = false;
  while (std::getline(in, line)) {
    if (line.rfind("```", 0) == 0) {
      fenced = !fenced;
      current.clear();
      continue;
    }
    if (!fenced) continue;
    const size_t eq = line.find(" =");
    if (eq != std::string::npos) {
      const std::string name = line.substr(0, eq);
      EXPECT_FALSE(out.count(name)) << "twice: " << name;
      std::istringstream rest(line.substr(eq + 2));
      double v;
      if (rest >> v) {
        out[name] = {{v}};
        current.clear();
      } else {
        out[name] = {};
        current = name;
      }
      continue;
    }
    std::istringstream row(line);
    std::vector<double> values;
    double v;
    while (row >> v) values.push_back(v);
    EXPECT_TRUE(row.eof()) << "not a row of numbers: '" << line << "'";
    EXPECT_FALSE(current.empty()) << "a row outside a matrix: '" << line << "'";
    if (!current.empty() && !values.empty()) out[current].push_back(values);
  }
  return out;
}

OwnedTensor tensor_of(const Matrix& m) {
  OwnedTensor t(Shape{1, 1, int(m.size()), int(m.at(0).size())});
  for (size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(m[i].size(), m[0].size());
    for (size_t j = 0; j < m[i].size(); ++j) t.at(0, 0, int(i), int(j)) = float(m[i][j]);
  }
  return t;
}

// Every entry equal (not close: the example's numbers are exact in float).
void expect_equal(const std::string& name, const Tensor& got, const Matrix& want) {
  ASSERT_EQ(got.h(), int(want.size())) << name;
  ASSERT_EQ(got.w(), int(want.at(0).size())) << name;
  for (int i = 0; i < got.h(); ++i)
    for (int j = 0; j < got.w(); ++j)
      EXPECT_EQ(double(got.at(0, 0, i, j)), want[size_t(i)][size_t(j)]) << name << "[" << i << "," << j << "]";
}

class WorkedExample : public ::testing::Test {
 protected:
  void SetUp() override {
    doc_ = read_example(read_file(std::string(CUVIZ_SOURCE_DIR) + "/docs/backprop.md"));
    std::set<std::string> names;
    for (const auto& [k, v] : doc_) names.insert(k);
    ASSERT_EQ(names, (std::set<std::string>{"x", "w", "b", "z", "r", "m", "J", "dm", "dr", "dz", "dx", "dw", "db"}));
  }
  std::map<std::string, Matrix> doc_;
  const Conv2dParams conv_ = Conv2dParams::make(1, 0);
  const Pool2dParams pool_ = Pool2dParams::make(PoolMode::max, 2, 1);
  static Pool2dParams mean_params() {
    Pool2dParams p = Pool2dParams::make(PoolMode::average, 1, 1);
    p.global = true;  // the mean of the whole map
    return p;
  }
};

// Op by op, as the doc tells it.
TEST_F(WorkedExample, CuvizOpsGiveEveryNumberOfTheDoc) {
  const OwnedTensor x = tensor_of(doc_["x"]), w = tensor_of(doc_["w"]), b = tensor_of(doc_["b"]);
  OwnedTensor z(Shape{1, 1, 3, 3}), r(z.shape()), m(Shape{1, 1, 2, 2}), J(Shape{1, 1, 1, 1});
  conv2d_forward(conv_, x, w, b, z);
  relu_forward(z, r);
  pool2d_forward(pool_, r, m);
  pool2d_forward(mean_params(), m, J);
  expect_equal("z", z, doc_["z"]);
  expect_equal("r", r, doc_["r"]);
  expect_equal("m", m, doc_["m"]);
  expect_equal("J", J, doc_["J"]);

  OwnedTensor dJ(J.shape()), dm(m.shape()), dr(r.shape()), dz(z.shape()), dx(x.shape()), dw(w.shape()), db(b.shape());
  fill(dJ, 1.f);
  pool2d_backward_data(mean_params(), m, J, dJ, dm);
  pool2d_backward_data(pool_, r, m, dm, dr);
  relu_backward_data(r, dr, dz);
  conv2d_backward_data(conv_, dz, w, dx);
  conv2d_backward_weight(conv_, x, dz, dw, db);
  expect_equal("dm", dm, doc_["dm"]);
  expect_equal("dr", dr, doc_["dr"]);
  expect_equal("dz", dz, doc_["dz"]);
  expect_equal("dx", dx, doc_["dx"]);
  expect_equal("dw", dw, doc_["dw"]);
  expect_equal("db", db, doc_["db"]);
}

// The same four layers as a Network (Caffe style: the ReLU in place on the conv's blob): the
// planner's in-place ReLU, fan-out bookkeeping and gradient taps give the same numbers.
TEST_F(WorkedExample, ANetworkGivesTheSameNumbers) {
  Graph g;
  g.name = "worked_example";
  g.input = "x";
  g.input_shape = Shape{1, 1, 4, 4};
  LayerDesc conv;
  conv.name = "conv";
  conv.kind = LayerKind::conv;
  conv.inputs = {"x"};
  conv.output = "conv";
  conv.conv = conv_;
  conv.weights.push_back(tensor_of(doc_["w"]));
  conv.weights.push_back(tensor_of(doc_["b"]));
  g.layers.push_back(std::move(conv));
  auto simple = [&](LayerKind kind, const std::string& name, const std::string& in, const std::string& out) {
    LayerDesc l;
    l.name = name;
    l.kind = kind;
    l.inputs = {in};
    l.output = out;
    return l;
  };
  g.layers.push_back(simple(LayerKind::relu, "relu", "conv", "conv"));
  LayerDesc pool = simple(LayerKind::pool, "pool", "conv", "pool");
  pool.pool = pool_;
  g.layers.push_back(std::move(pool));
  LayerDesc mean = simple(LayerKind::pool, "mean", "pool", "mean");
  mean.pool = mean_params();
  g.layers.push_back(std::move(mean));
  const Network net(std::move(g), Device::cpu);

  PlanOptions o{.backward = true, .weight_grads = true};
  o.grad_taps = {"conv:pre", "conv", "pool"};
  Plan plan = net.plan(Shape{1, 1, 4, 4}, {"mean", "conv:pre", "conv", "pool"}, o);
  const OwnedTensor x = tensor_of(doc_["x"]);
  net.forward(plan, x);
  expect_equal("z", net.activation(plan, "conv:pre"), doc_["z"]);
  expect_equal("r", net.activation(plan, "conv"), doc_["r"]);
  expect_equal("m", net.activation(plan, "pool"), doc_["m"]);
  expect_equal("J", net.activation(plan, "mean"), doc_["J"]);
  fill(net.activation_grad(plan, "mean"), 1.f);  // the seed dJ/dJ = 1
  OwnedTensor dx(x.shape());
  net.backward_to_input(plan, dx);
  expect_equal("dm", net.tapped_grad(plan, "pool"), doc_["dm"]);
  expect_equal("dr", net.tapped_grad(plan, "conv"), doc_["dr"]);
  expect_equal("dz", net.tapped_grad(plan, "conv:pre"), doc_["dz"]);
  expect_equal("dx", dx, doc_["dx"]);
  expect_equal("dw", net.weight_grad(plan, "conv", 0), doc_["dw"]);
  expect_equal("db", net.weight_grad(plan, "conv", 1), doc_["db"]);
}

}  // namespace
}  // namespace cuviz
