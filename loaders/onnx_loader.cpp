// ONNX ModelProto -> Graph. Nodes are visited in file order (ONNX requires topological order);
// a GraphBuilder tracks blob shapes, which resolves negative axes, SAME auto-padding and the
// opset-dependent meaning of Softmax's axis, and checks every weight against its input.
#include "loaders/onnx_loader.h"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "core/limits.h"
#include "loaders/graph_builder.h"

namespace cuviz {
namespace {

namespace pb = google::protobuf;

onnx::ModelProto read_model(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  CUVIZ_CHECK(fd >= 0, "onnx: cannot open ", path);
  onnx::ModelProto model;
  bool ok = false;
  {
    pb::io::FileInputStream file(fd);
    pb::io::CodedInputStream coded(&file);
    coded.SetTotalBytesLimit(INT_MAX);  // the default 64 MB is less than VGG's 550 MB
    ok = model.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
  }
  ::close(fd);
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(path, ec);
  CUVIZ_CHECK(ok, "onnx: cannot parse ", path, " (", bytes, " bytes) as an ONNX model: the file is truncated or corrupt");
  CUVIZ_CHECK(model.has_graph() && model.graph().node_size() > 0, "onnx: ", path, " holds no graph nodes (", bytes,
              " bytes): not an ONNX model?");
  return model;
}

std::string dims_str(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

// A constant tensor (initializer or Constant node) decoded to floats or integers.
struct Const {
  std::vector<int64_t> dims;
  std::vector<float> f;     // FLOAT tensors
  std::vector<int64_t> i;   // INT64 / INT32 tensors
};

Const decode(const onnx::TensorProto& t, const std::string& where) {
  CUVIZ_CHECK(t.data_location() != onnx::TensorProto::EXTERNAL, where, ": tensor '", t.name(),
              "' keeps its data in an external file, which is not supported");
  Const c;
  c.dims.assign(t.dims().begin(), t.dims().end());
  // Checked for overflow and capped before anything is allocated (core/limits.h).
  const size_t n = size_t(checked_numel(c.dims, cat(where, ": tensor '", t.name(), "'")));
  const std::string& raw = t.raw_data();
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      if (!raw.empty()) {
        CUVIZ_CHECK(raw.size() == n * 4, where, ": tensor '", t.name(), "' has ", raw.size(), " bytes for dims ",
                    dims_str(c.dims));
        c.f.resize(n);
        std::memcpy(c.f.data(), raw.data(), raw.size());
      } else {
        c.f.assign(t.float_data().begin(), t.float_data().end());
      }
      CUVIZ_CHECK(c.f.size() == n, where, ": tensor '", t.name(), "' has ", c.f.size(), " values for dims ",
                  dims_str(c.dims));
      // A bit-flipped or corrupt weight would make every output NaN: refuse it here, by name.
      for (size_t k = 0; k < n; ++k)
        CUVIZ_CHECK(std::isfinite(c.f[k]), where, ": tensor '", t.name(), "' element ", k, " is ", c.f[k],
                    " (weights must be finite numbers)");
      break;
    case onnx::TensorProto::INT64:
      if (!raw.empty()) {
        CUVIZ_CHECK(raw.size() == n * 8, where, ": tensor '", t.name(), "' has ", raw.size(), " bytes for dims ",
                    dims_str(c.dims));
        c.i.resize(n);
        std::memcpy(c.i.data(), raw.data(), raw.size());
      } else {
        c.i.assign(t.int64_data().begin(), t.int64_data().end());
      }
      CUVIZ_CHECK(c.i.size() == n, where, ": tensor '", t.name(), "' has ", c.i.size(), " values for dims ",
                  dims_str(c.dims));
      break;
    case onnx::TensorProto::INT32:
      if (!raw.empty()) {
        CUVIZ_CHECK(raw.size() == n * 4, where, ": tensor '", t.name(), "' has ", raw.size(), " bytes for dims ",
                    dims_str(c.dims));
        std::vector<int32_t> v(n);
        std::memcpy(v.data(), raw.data(), raw.size());
        c.i.assign(v.begin(), v.end());
      } else {
        c.i.assign(t.int32_data().begin(), t.int32_data().end());
      }
      CUVIZ_CHECK(c.i.size() == n, where, ": tensor '", t.name(), "' has ", c.i.size(), " values for dims ",
                  dims_str(c.dims));
      break;
    default:
      throw Error(cat(where, ": tensor '", t.name(), "' has data type ",
                      onnx::TensorProto::DataType_Name(onnx::TensorProto::DataType(t.data_type())),
                      " (only FLOAT weights and INT64/INT32 shapes are supported)"));
  }
  return c;
}

class OnnxReader {
 public:
  explicit OnnxReader(const std::string& path) : path_(path), builder_(cat("onnx: ", path)) {}

  Graph read() {
    const onnx::ModelProto model = read_model(path_);
    opset_ = 0;
    for (const auto& o : model.opset_import())
      if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = int(o.version());
    CUVIZ_CHECK(opset_ >= 7 && opset_ <= 17, "onnx: ", path_, ": opset ", opset_,
                " of the default domain is not supported (7 to 17)");
    const onnx::GraphProto& g = model.graph();
    for (const auto& t : g.initializer()) consts_[t.name()] = &t;
    for (const auto& n : g.node())
      for (const auto& in : n.input()) ++consumers_[in];
    for (const auto& o : g.output()) ++consumers_[o.name()];
    declare_input(g);
    for (const auto& n : g.node()) add_node(n);
    Graph out = std::move(builder_.graph());
    out.name = g.name().empty() ? std::filesystem::path(path_).stem().string() : g.name();
    if (out.input_shape.h == out.input_shape.w) out.meta.input_size = out.input_shape.h;
    return out;
  }

 private:
  void declare_input(const onnx::GraphProto& g) {
    const onnx::ValueInfoProto* input = nullptr;
    for (const auto& v : g.input()) {
      if (consts_.count(v.name())) continue;  // IR < 4 lists initializers as inputs too
      CUVIZ_CHECK(input == nullptr, "onnx: ", path_, ": graph has several inputs ('", input->name(), "', '",
                  v.name(), "'); cuviz networks take exactly one image input");
      input = &v;
    }
    CUVIZ_CHECK(input != nullptr, "onnx: ", path_, ": graph has no input");
    const auto& shape = input->type().tensor_type().shape();
    CUVIZ_CHECK(shape.dim_size() == 4, "onnx: ", path_, ": input '", input->name(), "' has rank ", shape.dim_size(),
                "; expected an NCHW image (rank 4)");
    int d[4];
    for (int i = 0; i < 4; ++i) {
      const auto& dim = shape.dim(i);
      // A symbolic batch size ("N", "batch") is 1 here; Network plans the batch it runs.
      d[i] = dim.has_dim_value() && dim.dim_value() > 0
                 ? checked_dim(dim.dim_value(), cat("onnx: ", path_, ": input '", input->name(), "'"))
                 : 0;
      if (i == 0 && d[0] == 0) d[0] = 1;
      CUVIZ_CHECK(d[i] > 0, "onnx: ", path_, ": input '", input->name(), "' dimension ", i,
                  " is not a fixed positive size");
    }
    builder_.set_input(input->name(), Shape{d[0], d[1], d[2], d[3]});
  }

  // --- attribute access -----------------------------------------------------------------------
  const onnx::AttributeProto* attr(const onnx::NodeProto& n, const std::string& name) const {
    for (const auto& a : n.attribute())
      if (a.name() == name) return &a;
    return nullptr;
  }
  int64_t attr_int(const onnx::NodeProto& n, const std::string& name, int64_t dflt) const {
    const auto* a = attr(n, name);
    return a ? a->i() : dflt;
  }
  float attr_float(const onnx::NodeProto& n, const std::string& name, float dflt) const {
    const auto* a = attr(n, name);
    return a ? a->f() : dflt;
  }
  std::vector<int64_t> attr_ints(const onnx::NodeProto& n, const std::string& name,
                                 std::vector<int64_t> dflt) const {
    const auto* a = attr(n, name);
    return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : dflt;
  }
  std::string attr_string(const onnx::NodeProto& n, const std::string& name, const std::string& dflt) const {
    const auto* a = attr(n, name);
    return a ? a->s() : dflt;
  }

  std::string where(const onnx::NodeProto& n) const {
    return cat("onnx: ", path_, ": node '", n.name(), "' (", n.op_type(), ")");
  }

  bool is_const(const std::string& name) const { return consts_.count(name) != 0; }
  Const constant(const onnx::NodeProto& n, int input) const {
    CUVIZ_CHECK(input < n.input_size() && is_const(n.input(input)), where(n), ": input ", input, " ('",
                input < n.input_size() ? n.input(input) : "", "') must be an initializer or Constant");
    return decode(*consts_.at(n.input(input)), where(n));
  }
  // A constant read as weights: it must hold FLOAT values (an INT32/INT64 tensor has none).
  Const weights(const onnx::NodeProto& n, int input) const {
    Const c = constant(n, input);
    const onnx::TensorProto& t = *consts_.at(n.input(input));
    CUVIZ_CHECK(t.data_type() == onnx::TensorProto::FLOAT, where(n), ": tensor '", t.name(), "' (input ", input,
                ") has data type ", onnx::TensorProto::DataType_Name(onnx::TensorProto::DataType(t.data_type())),
                "; weights must be FLOAT");
    return c;
  }
  bool has_input(const onnx::NodeProto& n, int i) const { return i < n.input_size() && !n.input(i).empty(); }

  // Begin/end padding of one spatial axis under auto_pad (SAME_* keeps ceil(in / stride) outputs).
  static void same_pad(const std::string& mode, int in, int k, int s, int d, int& begin, int& end) {
    const int out = (in + s - 1) / s;
    const int total = std::max(0, (out - 1) * s + (k - 1) * d + 1 - in);
    begin = mode == "SAME_UPPER" ? total / 2 : total - total / 2;
    end = total - begin;
  }

  // Resolves strides, dilations, pads and auto_pad for a 2-D window op on input x.
  void window(const onnx::NodeProto& n, Shape x, int kh, int kw, int& sh, int& sw, int& dh, int& dw, int pad[4]) {
    const auto strides = attr_ints(n, "strides", {1, 1});
    const auto dil = attr_ints(n, "dilations", {1, 1});
    const auto pads = attr_ints(n, "pads", {0, 0, 0, 0});
    CUVIZ_CHECK(strides.size() == 2 && dil.size() == 2 && pads.size() == 4, where(n),
                ": only 2-D windows are supported (strides ", dims_str(strides), ", pads ", dims_str(pads), ")");
    sh = int(strides[0]);
    sw = int(strides[1]);
    dh = int(dil[0]);
    dw = int(dil[1]);
    const std::string mode = attr_string(n, "auto_pad", "NOTSET");
    if (mode == "NOTSET") {
      for (int i = 0; i < 4; ++i) pad[i] = int(pads[size_t(i)]);  // ONNX order: top, left, bottom, right
    } else if (mode == "VALID") {
      pad[0] = pad[1] = pad[2] = pad[3] = 0;
    } else if (mode == "SAME_UPPER" || mode == "SAME_LOWER") {
      same_pad(mode, x.h, kh, sh, dh, pad[0], pad[2]);
      same_pad(mode, x.w, kw, sw, dw, pad[1], pad[3]);
    } else {
      throw Error(cat(where(n), ": auto_pad '", mode, "' is not supported"));
    }
  }

  // Index of `axis` in a tensor of `rank` (negative counts from the end).
  static int64_t resolve_axis(int64_t axis, int rank) { return axis < 0 ? axis + rank : axis; }

  LayerDesc base(const onnx::NodeProto& n, LayerKind kind) const {
    CUVIZ_CHECK(n.output_size() >= 1, where(n), " has no output");
    LayerDesc d;
    d.name = n.name().empty() ? n.output(0) : n.name();
    d.kind = kind;
    d.output = n.output(0);
    return d;
  }

  // Unused extra outputs (Dropout's mask, MaxPool's indices) are fine; consumed ones are not.
  void only_first_output(const onnx::NodeProto& n) const {
    for (int i = 1; i < n.output_size(); ++i)
      CUVIZ_CHECK(n.output(i).empty() || !consumers_.count(n.output(i)), where(n), ": output ", i, " ('",
                  n.output(i), "') is used, but only the first output is supported");
  }

  void add_node(const onnx::NodeProto& n) {
    const std::string& op = n.op_type();
    CUVIZ_CHECK(n.domain().empty() || n.domain() == "ai.onnx", where(n), ": operator domain '", n.domain(),
                "' is not supported");
    // Every mapping below reads the first output and (but Constant) the first input: a node
    // without them is refused here (reading them was undefined behaviour, found by onnx_fuzz).
    CUVIZ_CHECK(n.output_size() >= 1 && !n.output(0).empty(), where(n), ": node has no output");
    CUVIZ_CHECK(op == "Constant" || (n.input_size() >= 1 && !n.input(0).empty()), where(n), ": node has no input");
    if (op == "Constant") {
      const auto* v = attr(n, "value");
      CUVIZ_CHECK(v != nullptr && v->has_t(), where(n), ": only tensor-valued constants ('value') are supported");
      consts_[n.output(0)] = &v->t();
      return;
    }
    if (op == "Conv") return add_conv(n);
    if (op == "Relu") return add_simple(n, LayerKind::relu);
    if (op == "Sigmoid") return add_simple(n, LayerKind::sigmoid);
    if (op == "MaxPool" || op == "AveragePool") return add_pool(n);
    if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
      LayerDesc d = base(n, LayerKind::pool);
      d.inputs = {n.input(0)};
      d.pool.global = true;
      d.pool.mode = op == "GlobalMaxPool" ? PoolMode::max : PoolMode::average;
      return builder_.add(std::move(d));
    }
    if (op == "LRN") {
      LayerDesc d = base(n, LayerKind::lrn);
      d.inputs = {n.input(0)};
      const auto* size = attr(n, "size");
      CUVIZ_CHECK(size != nullptr, where(n), ": attribute 'size' is required");
      d.lrn = LrnParams{int(size->i()), attr_float(n, "alpha", 1e-4f), attr_float(n, "beta", 0.75f),
                        attr_float(n, "bias", 1.f)};
      return builder_.add(std::move(d));
    }
    if (op == "Concat") {
      LayerDesc d = base(n, LayerKind::concat);
      d.inputs.assign(n.input().begin(), n.input().end());
      const int64_t axis = resolve_axis(attr_int(n, "axis", 1), builder_.blob_rank(n.input(0)));
      CUVIZ_CHECK(axis == 1, where(n), ": axis ", attr_int(n, "axis", 1), " is not supported (only channels)");
      return builder_.add(std::move(d));
    }
    if (op == "Gemm" || op == "MatMul") return add_linear(n);
    if (op == "Add") return add_add(n);
    if (op == "Flatten") {
      const int64_t axis = resolve_axis(attr_int(n, "axis", 1), builder_.blob_rank(n.input(0)));
      CUVIZ_CHECK(axis == 1, where(n), ": axis ", attr_int(n, "axis", 1), " is not supported (only 1)");
      return add_simple(n, LayerKind::flatten);
    }
    if (op == "Reshape") return add_reshape(n);
    if (op == "Dropout" || op == "Identity") {
      only_first_output(n);
      LayerDesc d = base(n, LayerKind::dropout);
      d.inputs = {n.input(0)};
      return builder_.add(std::move(d));
    }
    if (op == "Softmax") {
      const Shape x = builder_.blob_shape(n.input(0), n.name());
      const int rank = builder_.blob_rank(n.input(0));
      const int64_t axis = resolve_axis(attr_int(n, "axis", opset_ >= 13 ? -1 : 1), rank);
      // Before opset 13, Softmax flattens from `axis` on: a channel softmax only when h = w = 1.
      const bool channels = axis == 1 && (opset_ >= 13 || rank == 2 || (x.h == 1 && x.w == 1));
      CUVIZ_CHECK(channels, where(n), ": axis ", attr_int(n, "axis", opset_ >= 13 ? -1 : 1), " on a rank-", rank,
                  " input ", x.str(), " at opset ", opset_, " is not a softmax over channels");
      return add_simple(n, LayerKind::softmax);
    }
    if (op == "BatchNormalization") return add_batchnorm(n);
    throw Error(cat(where(n), ": unsupported operator '", op,
                    "' (supported: Conv, Relu, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, LRN, Concat, "
                    "Gemm, MatMul, Add, Flatten, Reshape, Dropout, Identity, Softmax, BatchNormalization, Constant)"));
  }

  void add_simple(const onnx::NodeProto& n, LayerKind kind) {
    LayerDesc d = base(n, kind);
    d.inputs = {n.input(0)};
    builder_.add(std::move(d));
  }

  void add_conv(const onnx::NodeProto& n) {
    LayerDesc d = base(n, LayerKind::conv);
    d.inputs = {n.input(0)};
    const Shape x = builder_.blob_shape(n.input(0), d.name);
    const Const w = weights(n, 1);
    CUVIZ_CHECK(w.dims.size() == 4, where(n), ": weights ", dims_str(w.dims), " are not 4-D (only 2-D convolution)");
    auto wd = [&](int i) { return checked_dim(w.dims[size_t(i)], cat(where(n), ": weights")); };
    const Shape ws{wd(0), wd(1), wd(2), wd(3)};
    const auto kernel = attr_ints(n, "kernel_shape", {ws.h, ws.w});
    CUVIZ_CHECK(kernel == (std::vector<int64_t>{ws.h, ws.w}), where(n), ": kernel_shape ", dims_str(kernel),
                " does not match weights ", ws.str());
    int pad[4];
    window(n, x, ws.h, ws.w, d.conv.stride_h, d.conv.stride_w, d.conv.dilation_h, d.conv.dilation_w, pad);
    d.conv.pad_top = pad[0];
    d.conv.pad_left = pad[1];
    d.conv.pad_bottom = pad[2];
    d.conv.pad_right = pad[3];
    d.conv.groups = int(attr_int(n, "group", 1));
    d.weights.push_back(make_weight(ws, w.f.data()));
    if (has_input(n, 2)) {
      const Const b = weights(n, 2);
      CUVIZ_CHECK(int64_t(b.f.size()) == ws.n, where(n), ": bias ", dims_str(b.dims), " does not match weights ",
                  ws.str());
      d.weights.push_back(make_weight({1, ws.n, 1, 1}, b.f.data()));
    }
    builder_.add(std::move(d));
  }

  void add_pool(const onnx::NodeProto& n) {
    only_first_output(n);
    LayerDesc d = base(n, LayerKind::pool);
    d.inputs = {n.input(0)};
    const Shape x = builder_.blob_shape(n.input(0), d.name);
    Pool2dParams& p = d.pool;
    p.mode = n.op_type() == "MaxPool" ? PoolMode::max : PoolMode::average;
    const auto* k = attr(n, "kernel_shape");
    CUVIZ_CHECK(k != nullptr && k->ints_size() == 2, where(n), ": a 2-D kernel_shape is required");
    p.kernel_h = int(k->ints(0));
    p.kernel_w = int(k->ints(1));
    int pad[4];
    window(n, x, p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, pad);
    p.pad_top = pad[0];
    p.pad_left = pad[1];
    p.pad_bottom = pad[2];
    p.pad_right = pad[3];
    p.ceil_mode = attr_int(n, "ceil_mode", 0) != 0;
    p.count_include_pad = attr_int(n, "count_include_pad", 0) != 0;  // ONNX default: exclude padding
    builder_.add(std::move(d));
  }

  // Gemm (y = alpha A op(B) + beta C) or MatMul (y = A B) with constant B: a linear layer.
  void add_linear(const onnx::NodeProto& n) {
    LayerDesc d = base(n, LayerKind::linear);
    d.inputs = {n.input(0)};
    const bool gemm = n.op_type() == "Gemm";
    CUVIZ_CHECK(!gemm || attr_int(n, "transA", 0) == 0, where(n), ": transA = 1 is not supported");
    const bool trans_b = gemm && attr_int(n, "transB", 0) != 0;
    const float alpha = gemm ? attr_float(n, "alpha", 1.f) : 1.f;
    const float beta = gemm ? attr_float(n, "beta", 1.f) : 1.f;
    const Const b = weights(n, 1);
    CUVIZ_CHECK(b.dims.size() == 2, where(n), ": weights ", dims_str(b.dims), " are not 2-D");
    const int o = checked_dim(trans_b ? b.dims[0] : b.dims[1], cat(where(n), ": weights"));
    const int k = checked_dim(trans_b ? b.dims[1] : b.dims[0], cat(where(n), ": weights"));
    OwnedTensor w({o, k, 1, 1});
    for (int i = 0; i < o; ++i)
      for (int j = 0; j < k; ++j)
        w.data()[int64_t(i) * k + j] = alpha * (trans_b ? b.f[size_t(i) * k + j] : b.f[size_t(j) * o + i]);
    d.weights.push_back(std::move(w));
    if (gemm && has_input(n, 2)) {
      const Const c = weights(n, 2);
      CUVIZ_CHECK(int64_t(c.f.size()) == o || c.f.size() == 1, where(n), ": bias ", dims_str(c.dims),
                  " is not one value per output (", o, ")");
      OwnedTensor bias({1, o, 1, 1});
      for (int i = 0; i < o; ++i) bias.data()[i] = beta * c.f[c.f.size() == 1 ? 0 : size_t(i)];
      d.weights.push_back(std::move(bias));
    }
    builder_.add(std::move(d));
  }

  // Add of two activations, or of an activation and a constant: a bias folded into the linear
  // layer that produced the activation (MatMul + Add), else a per-channel affine layer.
  void add_add(const onnx::NodeProto& n) {
    CUVIZ_CHECK(n.input_size() == 2, where(n), " has ", n.input_size(), " inputs, expected 2");
    if (!is_const(n.input(0)) && !is_const(n.input(1))) {
      LayerDesc d = base(n, LayerKind::add);
      d.inputs = {n.input(0), n.input(1)};
      return builder_.add(std::move(d));
    }
    const int ci = is_const(n.input(1)) ? 1 : 0;
    const std::string& x = n.input(1 - ci);
    const Const c = weights(n, ci);
    const Shape xs = builder_.blob_shape(x, n.name());
    CUVIZ_CHECK(int64_t(c.f.size()) == xs.c || c.f.size() == 1, where(n), ": constant ", dims_str(c.dims),
                " is not one value per channel of ", xs.str());
    OwnedTensor bias({1, xs.c, 1, 1});
    for (int i = 0; i < xs.c; ++i) bias.data()[i] = c.f[c.f.size() == 1 ? 0 : size_t(i)];
    LayerDesc* prod = builder_.producer(x);
    if (prod && prod->kind == LayerKind::linear && prod->weights.size() == 1 && consumers_[x] == 1) {
      prod->weights.push_back(std::move(bias));
      builder_.rename_output(x, n.output(0));
      return;
    }
    LayerDesc d = base(n, LayerKind::affine);
    d.inputs = {x};
    OwnedTensor one({1, xs.c, 1, 1});
    std::fill(one.data(), one.data() + xs.c, 1.f);
    d.weights.push_back(std::move(one));
    d.weights.push_back(std::move(bias));
    builder_.add(std::move(d));
  }

  // Reshape to [N, C*H*W] (the flatten before a classifier); other targets are not supported.
  void add_reshape(const onnx::NodeProto& n) {
    const Shape x = builder_.blob_shape(n.input(0), n.name());
    std::vector<int64_t> target;
    if (has_input(n, 1)) {
      target = constant(n, 1).i;
    } else {
      target = attr_ints(n, "shape", {});  // opset < 5
    }
    const std::vector<int64_t> in = builder_.blob_rank(n.input(0)) == 2
                                        ? std::vector<int64_t>{x.n, x.c}
                                        : std::vector<int64_t>{x.n, x.c, x.h, x.w};
    const bool allow_zero = attr_int(n, "allowzero", 0) != 0;
    std::vector<int64_t> out = target;
    int64_t known = 1;
    int infer = -1;
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i] == 0 && !allow_zero && i < in.size()) out[i] = in[i];
      if (out[i] == -1) {
        CUVIZ_CHECK(infer < 0, where(n), ": shape ", dims_str(target), " has two -1 entries");
        infer = int(i);
      }
    }
    {
      // The known entries' product, checked for overflow and capped (found by onnx_fuzz).
      std::vector<int64_t> known_dims;
      for (int64_t v : out)
        if (v != -1) known_dims.push_back(v);
      known = checked_numel(known_dims, cat(where(n), ": shape ", dims_str(target)));
    }
    if (infer >= 0 && known > 0) out[size_t(infer)] = x.numel() / known;
    CUVIZ_CHECK(out.size() == 2 && out[0] == x.n && out[0] * out[1] == x.numel(), where(n), ": reshape of ",
                x.str(), " to ", dims_str(target), " is not supported (only to 2-D [N, C*H*W])");
    LayerDesc d = base(n, LayerKind::flatten);
    d.inputs = {n.input(0)};
    builder_.add(std::move(d));
  }

  void add_batchnorm(const onnx::NodeProto& n) {
    only_first_output(n);
    CUVIZ_CHECK(attr_int(n, "training_mode", 0) == 0, where(n), ": training_mode = 1 is not supported");
    CUVIZ_CHECK(attr_int(n, "spatial", 1) == 1, where(n), ": spatial = 0 is not supported");
    const std::string& x = n.input(0);
    const Shape xs = builder_.blob_shape(x, n.name());
    const Const scale = weights(n, 1), bias = weights(n, 2), mean = weights(n, 3), var = weights(n, 4);
    for (const Const* c : {&scale, &bias, &mean, &var})
      CUVIZ_CHECK(int64_t(c->f.size()) == xs.c, where(n), ": parameter ", dims_str(c->dims),
                  " is not one value per channel of ", xs.str());
    const double eps = attr_float(n, "epsilon", 1e-5f);
    // var + eps must be positive: a negative variance would give a = scale / sqrt(negative) = NaN.
    for (size_t i = 0; i < var.f.size(); ++i)
      CUVIZ_CHECK(double(var.f[i]) + eps > 0, where(n), ": variance of channel ", i, " is ", var.f[i],
                  " (with epsilon ", eps, "); a variance must not be negative");
    // y = a x + b with a = scale / sqrt(var + eps), b = bias - a mean, computed in double.
    std::vector<double> a(size_t(xs.c)), b(size_t(xs.c));
    for (size_t i = 0; i < a.size(); ++i) {
      a[i] = double(scale.f[i]) / std::sqrt(double(var.f[i]) + eps);
      b[i] = double(bias.f[i]) - a[i] * double(mean.f[i]);
    }
    LayerDesc* prod = builder_.producer(x);
    if (prod && prod->kind == LayerKind::conv && consumers_[x] == 1) {
      // conv then BN: w'[o] = a[o] w[o], b'[o] = a[o] b[o] + (bias - a mean)[o].
      const Shape ws = prod->weights[0].shape();
      if (prod->weights.size() == 1) {
        OwnedTensor zero({1, ws.n, 1, 1});
        std::fill(zero.data(), zero.data() + ws.n, 0.f);
        prod->weights.push_back(std::move(zero));
      }
      const int64_t per = ws.image_size();
      for (int o = 0; o < ws.n; ++o) {
        float* w = prod->weights[0].data() + o * per;
        for (int64_t j = 0; j < per; ++j) w[j] = float(a[size_t(o)] * w[j]);
        float& bo = prod->weights[1].data()[o];
        bo = float(a[size_t(o)] * bo + b[size_t(o)]);
      }
      builder_.rename_output(x, n.output(0));
      return;
    }
    LayerDesc d = base(n, LayerKind::affine);
    d.inputs = {x};
    OwnedTensor ta({1, xs.c, 1, 1}), tb({1, xs.c, 1, 1});
    for (int i = 0; i < xs.c; ++i) {
      ta.data()[i] = float(a[size_t(i)]);
      tb.data()[i] = float(b[size_t(i)]);
    }
    d.weights.push_back(std::move(ta));
    d.weights.push_back(std::move(tb));
    builder_.add(std::move(d));
  }

  std::string path_;
  GraphBuilder builder_;
  int opset_ = 0;
  std::map<std::string, const onnx::TensorProto*> consts_;  // into the model / Constant nodes
  std::map<std::string, int> consumers_;                    // readers of each blob (+ graph outputs)
};

}  // namespace

Graph load_onnx(const std::string& path) { return OnnxReader(path).read(); }

}  // namespace cuviz
