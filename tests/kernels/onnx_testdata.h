// Reading ONNX node conformance vectors (Debian's libonnx-testdata): the one-node model.onnx,
// its test_data_set_0/{input,output}_*.pb TensorProtos as float32 arrays, and the helpers that
// map an ONNX node onto cuviz's op parameters (attributes, auto_pad -> explicit pads, N-D -> NCHW).
#pragma once

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace cuviz::onnx_testdata {

// Where libonnx-testdata puts the node vectors; $CUVIZ_ONNX_TESTDATA overrides it.
inline std::filesystem::path node_dir() {
  if (const char* env = std::getenv("CUVIZ_ONNX_TESTDATA")) return env;
  return "/usr/share/libonnx-testdata/data/node";
}

// A float32 tensor of any rank, row-major as ONNX stores it (so NCHW data is cuviz's layout).
struct Array {
  std::vector<int64_t> dims;
  std::vector<float> data;

  // A dense cuviz view of the data under an NCHW shape with the same element count.
  Tensor view(Shape s) {
    CUVIZ_CHECK(s.numel() == int64_t(data.size()), "onnx_testdata: cannot view ", data.size(), " elements as ",
                s.str());
    return Tensor(data.data(), s);
  }
  // "[d0, d1, ...]".
  std::string dims_str() const {
    std::string s = "[";
    for (size_t i = 0; i < dims.size(); ++i) s += cat(i ? ", " : "", dims[i]);
    return s + "]";
  }
};

// An array of the given dims filled with zeros.
inline Array zeros(std::vector<int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return Array{std::move(dims), std::vector<float>(size_t(n), 0.f)};
}

// Parses a serialized protobuf message from a file; throws naming the file.
template <class Proto>
Proto read_proto(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  CUVIZ_CHECK(in, "onnx_testdata: cannot open ", path.string());
  Proto p;
  CUVIZ_CHECK(p.ParseFromIstream(&in), "onnx_testdata: ", path.string(), " is not a valid ", p.GetTypeName());
  return p;
}

// The float32 contents of a TensorProto: float_data, or raw_data (little-endian, as ONNX
// specifies; this host is little-endian too). Throws for any other element type.
inline Array to_array(const onnx::TensorProto& t, const std::string& where) {
  CUVIZ_CHECK(t.data_type() == onnx::TensorProto::FLOAT, "onnx_testdata: ", where, " has element type ",
              t.data_type(), ", only float32 (1) is read");
  Array a;
  a.dims.assign(t.dims().begin(), t.dims().end());
  int64_t n = 1;
  for (int64_t d : a.dims) n *= d;
  if (t.has_raw_data()) {
    CUVIZ_CHECK(int64_t(t.raw_data().size()) == n * 4, "onnx_testdata: ", where, " raw_data has ",
                t.raw_data().size(), " bytes for ", n, " float32 elements");
    a.data.resize(size_t(n));
    std::memcpy(a.data.data(), t.raw_data().data(), size_t(n) * 4);
  } else {
    CUVIZ_CHECK(t.float_data_size() == n, "onnx_testdata: ", where, " float_data has ", t.float_data_size(),
                " values for ", n, " elements");
    a.data.assign(t.float_data().begin(), t.float_data().end());
  }
  return a;
}

// One vector: its single node, the opset of the default domain, inputs and expected outputs.
struct NodeCase {
  std::string name;
  onnx::NodeProto node;
  int64_t opset = 0;
  std::vector<Array> inputs, outputs;
};

// The op_type of a model's node when the graph is a single node, else "" (function-expanded
// vectors such as test_softmax_axis_0_expanded hold a whole subgraph).
inline std::string single_op_type(const std::filesystem::path& dir) {
  auto m = read_proto<onnx::ModelProto>(dir / "model.onnx");
  return m.graph().node_size() == 1 ? m.graph().node(0).op_type() : std::string();
}

// Loads dir/model.onnx (exactly one node) and dir/test_data_set_0. Inputs the node leaves
// empty ("") are not in the data set and are not loaded, so inputs[i] follows the .pb files.
inline NodeCase load_node_case(const std::filesystem::path& dir) {
  NodeCase c;
  c.name = dir.filename().string();
  auto model = read_proto<onnx::ModelProto>(dir / "model.onnx");
  CUVIZ_CHECK(model.graph().node_size() == 1, "onnx_testdata: ", c.name, " has ", model.graph().node_size(),
              " nodes, expected one");
  c.node = model.graph().node(0);
  for (const auto& o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") c.opset = o.version();
  CUVIZ_CHECK(c.opset > 0, "onnx_testdata: ", c.name, " imports no default-domain opset");
  const auto set = dir / "test_data_set_0";
  CUVIZ_CHECK(std::filesystem::is_directory(set), "onnx_testdata: ", set.string(), " is missing");
  for (const char* kind : {"input", "output"}) {
    auto& list = std::string(kind) == "input" ? c.inputs : c.outputs;
    for (int i = 0;; ++i) {
      const auto f = set / cat(kind, "_", i, ".pb");
      if (!std::filesystem::exists(f)) break;
      list.push_back(to_array(read_proto<onnx::TensorProto>(f), cat(c.name, "/", f.filename().string())));
    }
  }
  return c;
}

// Typed access to a node's attributes. Remembers which ones were read, so a test can insist
// that no attribute was silently ignored by the mapping onto a cuviz op.
class Attributes {
 public:
  explicit Attributes(const onnx::NodeProto& n) : node_(n) {}

  int64_t get_int(const std::string& name, int64_t fallback) const {
    const auto* a = find(name, onnx::AttributeProto::INT);
    return a ? a->i() : fallback;
  }
  float get_float(const std::string& name, float fallback) const {
    const auto* a = find(name, onnx::AttributeProto::FLOAT);
    return a ? a->f() : fallback;
  }
  std::string get_string(const std::string& name, const std::string& fallback) const {
    const auto* a = find(name, onnx::AttributeProto::STRING);
    return a ? a->s() : fallback;
  }
  std::vector<int64_t> get_ints(const std::string& name, std::vector<int64_t> fallback) const {
    const auto* a = find(name, onnx::AttributeProto::INTS);
    return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : fallback;
  }
  // Attributes of the node that no get_* call asked for, comma-separated ("" when none).
  std::string unread() const {
    std::string s;
    for (const auto& a : node_.attribute())
      if (!read_.count(a.name())) s += cat(s.empty() ? "" : ", ", a.name());
    return s;
  }

 private:
  const onnx::AttributeProto* find(const std::string& name, onnx::AttributeProto::AttributeType type) const {
    read_.insert(name);
    for (const auto& a : node_.attribute())
      if (a.name() == name) {
        CUVIZ_CHECK(a.type() == type, "onnx_testdata: attribute ", name, " of ", node_.op_type(), " has type ",
                    a.type(), ", expected ", type);
        return &a;
      }
    return nullptr;
  }
  const onnx::NodeProto& node_;
  mutable std::set<std::string> read_;
};

// Padding of one spatial axis.
struct AxisPads {
  int begin = 0, end = 0;
};

// ONNX auto_pad turned into explicit pads for one spatial axis (candidate for loaders/):
//   NOTSET     -> `explicit_pads` as given by the `pads` attribute;
//   VALID      -> no padding;
//   SAME_UPPER / SAME_LOWER -> out = ceil(in / stride) and
//     total = max(0, (out - 1) * stride + (kernel - 1) * dilation + 1 - in),
//     split in half; the odd one goes at the end (UPPER) or at the beginning (LOWER).
inline AxisPads auto_pad_axis(const std::string& auto_pad, int in, int kernel, int stride, int dilation,
                              AxisPads explicit_pads) {
  if (auto_pad.empty() || auto_pad == "NOTSET") return explicit_pads;
  if (auto_pad == "VALID") return {};
  CUVIZ_CHECK(auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER", "onnx_testdata: unknown auto_pad '",
              auto_pad, "'");
  const int out = (in + stride - 1) / stride;
  const int total = std::max(0, (out - 1) * stride + (kernel - 1) * dilation + 1 - in);
  const int small = total / 2, large = total - small;
  return auto_pad == "SAME_UPPER" ? AxisPads{small, large} : AxisPads{large, small};
}

// ConvTranspose along one axis: its output length and the pads of the forward convolution
// whose backward-data it is (ONNX ConvTranspose-11 spec). With output_shape (or SAME_*, where
// output_shape = in * stride) the pads follow from
//   total = stride * (in - 1) + output_padding + (kernel - 1) * dilation + 1 - output_shape,
// SAME_UPPER: begin = floor(total / 2); otherwise end = floor(total / 2); the rest goes to the
// other side. Otherwise out = stride * (in - 1) + output_padding + (kernel - 1) * dilation + 1
// - pad_begin - pad_end. A negative end pad means trailing outputs no window reaches: the
// forward convolution over that longer input with end pad 0 has the same windows.
struct TransposeAxis {
  int out = 0;
  AxisPads pads;
};
inline TransposeAxis conv_transpose_axis(const std::string& auto_pad, int in, int kernel, int stride, int dilation,
                                         int output_padding, AxisPads explicit_pads, int output_shape) {
  const int natural = stride * (in - 1) + output_padding + (kernel - 1) * dilation + 1;
  auto floor_half = [](int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); };
  TransposeAxis t;
  if (output_shape > 0 || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    t.out = output_shape > 0 ? output_shape : in * stride;
    const int total = natural - t.out;
    if (auto_pad == "SAME_UPPER") {
      t.pads.begin = floor_half(total);
      t.pads.end = total - t.pads.begin;
    } else {
      t.pads.end = floor_half(total);
      t.pads.begin = total - t.pads.end;
    }
  } else {
    CUVIZ_CHECK(auto_pad.empty() || auto_pad == "NOTSET" || auto_pad == "VALID",
                "onnx_testdata: unknown auto_pad '", auto_pad, "'");
    if (auto_pad != "VALID") t.pads = explicit_pads;
    t.out = natural - t.pads.begin - t.pads.end;
  }
  CUVIZ_CHECK(t.pads.begin >= 0, "onnx_testdata: ConvTranspose needs a negative leading pad (", t.pads.begin, ")");
  t.pads.end = std::max(t.pads.end, 0);
  return t;
}

// Kernel, stride, dilation and explicit pads of a 2-D window op (Conv, MaxPool, AveragePool)
// whose input x is {N, C, H, W} or, for 1-D ops, {N, C, L} (treated as H = 1, W = L).
struct Window2d {
  int kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  AxisPads pad_h, pad_w;
};

// Reads kernel_shape (or takes `kernel` from the weights when the attribute is absent), strides,
// dilations, pads and auto_pad. ONNX orders pads as [x1_begin, x2_begin, ..., x1_end, x2_end].
inline Window2d window_2d(const Attributes& at, const std::vector<int64_t>& x_dims, std::vector<int64_t> kernel) {
  const size_t rank = x_dims.size() - 2;
  CUVIZ_CHECK(rank == 1 || rank == 2, "onnx_testdata: window op on ", rank, "-D input (2-D NCHW and 1-D only)");
  kernel = at.get_ints("kernel_shape", kernel);
  const auto strides = at.get_ints("strides", std::vector<int64_t>(rank, 1));
  const auto dilations = at.get_ints("dilations", std::vector<int64_t>(rank, 1));
  const auto pads = at.get_ints("pads", std::vector<int64_t>(2 * rank, 0));
  const auto auto_pad = at.get_string("auto_pad", "NOTSET");
  CUVIZ_CHECK(kernel.size() == rank && strides.size() == rank && dilations.size() == rank &&
                  pads.size() == 2 * rank,
              "onnx_testdata: kernel_shape/strides/dilations/pads do not match a ", rank, "-D input");
  Window2d w;
  const size_t iw = rank - 1;  // index of the W axis in the spatial attributes
  w.kernel_w = int(kernel[iw]);
  w.stride_w = int(strides[iw]);
  w.dilation_w = int(dilations[iw]);
  w.pad_w = auto_pad_axis(auto_pad, int(x_dims[2 + iw]), w.kernel_w, w.stride_w, w.dilation_w,
                          {int(pads[iw]), int(pads[rank + iw])});
  if (rank == 2) {
    w.kernel_h = int(kernel[0]);
    w.stride_h = int(strides[0]);
    w.dilation_h = int(dilations[0]);
    w.pad_h = auto_pad_axis(auto_pad, int(x_dims[2]), w.kernel_h, w.stride_h, w.dilation_h,
                            {int(pads[0]), int(pads[rank])});
  }
  return w;
}

// NCHW shape of an ONNX {N, C, spatial...} tensor: 1-D spatial becomes {N, C, 1, L}; more than
// two spatial axes is refused.
inline Shape nchw(const std::vector<int64_t>& d) {
  CUVIZ_CHECK(d.size() >= 2 && d.size() <= 4, "onnx_testdata: rank ", d.size(), " does not map onto NCHW");
  if (d.size() == 2) return Shape{int(d[0]), int(d[1]), 1, 1};
  if (d.size() == 3) return Shape{int(d[0]), int(d[1]), 1, int(d[2])};
  return Shape{int(d[0]), int(d[1]), int(d[2]), int(d[3])};
}

// A dense row-major tensor seen so that `axis` is the channel axis: {outer, d[axis], inner, 1},
// outer = product of the dims before axis, inner = product of those after. Softmax and concat
// over any axis are the channel-axis ops on this view.
inline Shape axis_view(const std::vector<int64_t>& d, int axis) {
  CUVIZ_CHECK(axis >= 0 && axis < int(d.size()), "onnx_testdata: axis ", axis, " out of range for rank ",
              d.size());
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= d[size_t(i)];
  for (size_t i = size_t(axis) + 1; i < d.size(); ++i) inner *= d[i];
  return Shape{int(outer), int(d[size_t(axis)]), int(inner), 1};
}

}  // namespace cuviz::onnx_testdata
