// Caffe .prototxt + .caffemodel -> Graph. Legacy V1 layers are first rewritten as new-style
// LayerParameters (enum type -> type string, same parameter messages), so one code path reads
// both. Weights are matched to the architecture's layers by name and checked blob by blob.
#include "loaders/caffe_loader.h"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/text_format.h>
#include <unistd.h>

#include <climits>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/limits.h"
#include "loaders/caffe.pb.h"
#include "loaders/graph_builder.h"

namespace cuviz {
namespace {

namespace pb = google::protobuf;
using caffe::BlobProto;
using caffe::LayerParameter;
using caffe::NetParameter;
using caffe::V1LayerParameter;

// Records the first error TextFormat reports, with its line and column.
class FirstErrorCollector : public pb::io::ErrorCollector {
 public:
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (error.empty()) error = cat(line + 1, ":", column + 1, ": ", message);
  }
  std::string error;
};

NetParameter read_prototxt(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CUVIZ_CHECK(in, "caffe: cannot open ", path);
  std::stringstream text;
  text << in.rdbuf();
  NetParameter net;
  pb::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  CUVIZ_CHECK(parser.ParseFromString(text.str(), &net), "caffe: ", path, ":", errors.error);
  return net;
}

NetParameter read_caffemodel(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  CUVIZ_CHECK(fd >= 0, "caffe: cannot open ", path);
  NetParameter net;
  bool ok = false;
  {
    pb::io::FileInputStream file(fd);
    pb::io::CodedInputStream coded(&file);
    // Protobuf refuses messages over 64 MB by default; VGG weight files are about 550 MB.
    coded.SetTotalBytesLimit(INT_MAX);
    ok = net.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
  }
  ::close(fd);
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(path, ec);
  CUVIZ_CHECK(ok, "caffe: cannot parse ", path, " (", bytes,
              " bytes) as a Caffe NetParameter: the file is truncated or corrupt");
  CUVIZ_CHECK(net.layer_size() + net.layers_size() > 0, "caffe: ", path, " holds no layers (",
              bytes, " bytes): not a .caffemodel file?");
  return net;
}

// The type string a new-style prototxt would use for a V1 enum type.
std::string v1_type_name(V1LayerParameter::LayerType t) {
  static const std::map<V1LayerParameter::LayerType, std::string> names = {
      {V1LayerParameter::ACCURACY, "Accuracy"},
      {V1LayerParameter::CONCAT, "Concat"},
      {V1LayerParameter::CONVOLUTION, "Convolution"},
      {V1LayerParameter::DATA, "Data"},
      {V1LayerParameter::DROPOUT, "Dropout"},
      {V1LayerParameter::DUMMY_DATA, "DummyData"},
      {V1LayerParameter::ELTWISE, "Eltwise"},
      {V1LayerParameter::EUCLIDEAN_LOSS, "EuclideanLoss"},
      {V1LayerParameter::FLATTEN, "Flatten"},
      {V1LayerParameter::HDF5_DATA, "HDF5Data"},
      {V1LayerParameter::HDF5_OUTPUT, "HDF5Output"},
      {V1LayerParameter::HINGE_LOSS, "HingeLoss"},
      {V1LayerParameter::IMAGE_DATA, "ImageData"},
      {V1LayerParameter::INFOGAIN_LOSS, "InfogainLoss"},
      {V1LayerParameter::INNER_PRODUCT, "InnerProduct"},
      {V1LayerParameter::LRN, "LRN"},
      {V1LayerParameter::MEMORY_DATA, "MemoryData"},
      {V1LayerParameter::MULTINOMIAL_LOGISTIC_LOSS, "MultinomialLogisticLoss"},
      {V1LayerParameter::POOLING, "Pooling"},
      {V1LayerParameter::RELU, "ReLU"},
      {V1LayerParameter::SIGMOID, "Sigmoid"},
      {V1LayerParameter::SIGMOID_CROSS_ENTROPY_LOSS, "SigmoidCrossEntropyLoss"},
      {V1LayerParameter::SILENCE, "Silence"},
      {V1LayerParameter::SOFTMAX, "Softmax"},
      {V1LayerParameter::SOFTMAX_LOSS, "SoftmaxWithLoss"},
      {V1LayerParameter::SPLIT, "Split"},
      {V1LayerParameter::WINDOW_DATA, "WindowData"},
      {V1LayerParameter::CONTRASTIVE_LOSS, "ContrastiveLoss"},
  };
  auto it = names.find(t);
  return it != names.end() ? it->second : V1LayerParameter::LayerType_Name(t);
}

// A V1 layer as a new-style layer (the parameter messages are shared between both forms).
LayerParameter upgrade_v1(const V1LayerParameter& v1) {
  LayerParameter l;
  l.set_name(v1.name());
  l.set_type(v1_type_name(v1.type()));
  l.mutable_bottom()->CopyFrom(v1.bottom());
  l.mutable_top()->CopyFrom(v1.top());
  l.mutable_blobs()->CopyFrom(v1.blobs());
  l.mutable_include()->CopyFrom(v1.include());
  l.mutable_exclude()->CopyFrom(v1.exclude());
  if (v1.has_concat_param()) *l.mutable_concat_param() = v1.concat_param();
  if (v1.has_convolution_param()) *l.mutable_convolution_param() = v1.convolution_param();
  if (v1.has_dropout_param()) *l.mutable_dropout_param() = v1.dropout_param();
  if (v1.has_eltwise_param()) *l.mutable_eltwise_param() = v1.eltwise_param();
  if (v1.has_inner_product_param()) *l.mutable_inner_product_param() = v1.inner_product_param();
  if (v1.has_lrn_param()) *l.mutable_lrn_param() = v1.lrn_param();
  if (v1.has_pooling_param()) *l.mutable_pooling_param() = v1.pooling_param();
  if (v1.has_relu_param()) *l.mutable_relu_param() = v1.relu_param();
  if (v1.has_softmax_param()) *l.mutable_softmax_param() = v1.softmax_param();
  return l;
}

std::vector<LayerParameter> all_layers(const NetParameter& net) {
  std::vector<LayerParameter> out(net.layer().begin(), net.layer().end());
  for (const auto& v1 : net.layers()) out.push_back(upgrade_v1(v1));
  return out;
}

// Layers that only exist for training: their outputs (data, labels, losses) are never needed
// to compute an activation from an image.
bool is_training_only(const LayerParameter& l) {
  static const std::set<std::string> types = {"Data",     "ImageData",  "HDF5Data",   "MemoryData",
                                              "WindowData", "DummyData", "Accuracy", "Silence",
                                              "HDF5Output"};
  const std::string& t = l.type();
  if (types.count(t) || (t.size() > 4 && t.compare(t.size() - 4, 4, "Loss") == 0)) return true;
  for (const auto& r : l.include())
    if (r.has_phase() && r.phase() == caffe::TRAIN) return true;
  for (const auto& r : l.exclude())
    if (r.has_phase() && r.phase() == caffe::TEST) return true;
  return false;
}

std::vector<int64_t> blob_dims(const BlobProto& b) {
  if (b.has_shape()) return {b.shape().dim().begin(), b.shape().dim().end()};
  return {b.num(), b.channels(), b.height(), b.width()};
}

// Dims without leading 1s: legacy files store a bias of O values as 1x1x1xO, new ones as O.
std::vector<int64_t> squeeze_front(std::vector<int64_t> d) {
  while (d.size() > 1 && d.front() == 1) d.erase(d.begin());
  return d;
}

std::string dims_str(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

class CaffeReader {
 public:
  CaffeReader(const std::string& prototxt, const std::string& caffemodel)
      : prototxt_(prototxt), caffemodel_(caffemodel), builder_(cat("caffe: ", prototxt)) {}

  Graph read() {
    const NetParameter arch = read_prototxt(prototxt_);
    const std::vector<LayerParameter> layers = all_layers(arch);
    // Check every layer type before reading hundreds of megabytes of weights.
    for (const auto& l : layers)
      if (!is_training_only(l) && !supported(l.type()))
        throw Error(cat("caffe: ", prototxt_, ": layer '", l.name(), "' has unsupported type '", l.type(),
                        "' (supported: Input, Convolution, ReLU, Pooling, LRN, Concat, InnerProduct, Dropout, "
                        "Softmax, Eltwise (SUM), Flatten, BatchNorm, Scale)"));
    declare_input(arch, layers);

    weights_net_ = read_caffemodel(caffemodel_);
    for (const auto& l : weights_net_.layer())
      if (l.blobs_size() > 0) weights_.emplace(l.name(), &l.blobs());
    for (const auto& l : weights_net_.layers())
      if (l.blobs_size() > 0) weights_.emplace(l.name(), &l.blobs());

    for (const auto& l : layers) add_layer(l);
    Graph g = std::move(builder_.graph());
    g.name = arch.name().empty() ? std::filesystem::path(caffemodel_).stem().string() : arch.name();
    if (g.input_shape.h == g.input_shape.w) g.meta.input_size = g.input_shape.h;
    return g;
  }

 private:
  static bool supported(const std::string& type) {
    static const std::set<std::string> types = {"Input",   "Convolution", "ReLU",    "Pooling",
                                                "LRN",     "Concat",      "InnerProduct", "Dropout",
                                                "Softmax", "Eltwise",     "Flatten", "BatchNorm", "Scale",
                                                "Sigmoid"};
    return types.count(type) != 0;
  }

  // The input blob: NetParameter input + input_shape / input_dim (deprecated) or an Input layer.
  void declare_input(const NetParameter& net, const std::vector<LayerParameter>& layers) {
    std::vector<std::pair<std::string, std::vector<int64_t>>> inputs;
    for (int i = 0; i < net.input_size(); ++i) {
      std::vector<int64_t> dims;
      if (i < net.input_shape_size()) {
        dims.assign(net.input_shape(i).dim().begin(), net.input_shape(i).dim().end());
      } else {
        CUVIZ_CHECK(net.input_dim_size() >= 4 * (i + 1), "caffe: ", prototxt_, ": input '", net.input(i),
                    "' has no input_shape and too few input_dim values (", net.input_dim_size(), ")");
        dims.assign(net.input_dim().begin() + 4 * i, net.input_dim().begin() + 4 * i + 4);
      }
      inputs.emplace_back(net.input(i), dims);
    }
    for (const auto& l : layers) {
      if (l.type() != "Input") continue;
      CUVIZ_CHECK(l.top_size() == 1 && l.input_param().shape_size() == 1, "caffe: ", prototxt_,
                  ": Input layer '", l.name(), "' must have exactly one top and one shape");
      const auto& d = l.input_param().shape(0).dim();
      inputs.emplace_back(l.top(0), std::vector<int64_t>(d.begin(), d.end()));
    }
    CUVIZ_CHECK(!inputs.empty(), "caffe: ", prototxt_,
                ": no input declared (need `input` + `input_shape`/`input_dim`, or an Input layer)");
    CUVIZ_CHECK(inputs.size() == 1, "caffe: ", prototxt_, ": ", inputs.size(),
                " inputs declared; cuviz networks take exactly one image input");
    const auto& [name, d] = inputs[0];
    CUVIZ_CHECK(d.size() == 4 && d[0] > 0 && d[1] > 0 && d[2] > 0 && d[3] > 0, "caffe: ", prototxt_,
                ": input '", name, "' has shape ", dims_str(d), "; expected 4 positive dims (N, C, H, W)");
    const std::string what = cat("caffe: ", prototxt_, ": input '", name, "'");
    builder_.set_input(name, Shape{checked_dim(d[0], what), checked_dim(d[1], what), checked_dim(d[2], what),
                                   checked_dim(d[3], what)});
  }

  // The layer's blobs from the .caffemodel, checked against the shapes the architecture implies.
  // A blob the architecture needs: its dims as Caffe writes them and its shape in the graph.
  struct Want {
    std::vector<int64_t> dims;
    Shape shape;
  };
  static Want vec(int n) { return {{n}, {1, n, 1, 1}}; }

  std::vector<OwnedTensor> take_weights(const LayerParameter& l, const std::vector<Want>& expected) {
    auto it = weights_.find(l.name());
    CUVIZ_CHECK(it != weights_.end(), "caffe: ", caffemodel_, " has no weights for layer '", l.name(), "' (",
                l.type(), ") of ", prototxt_);
    const auto& blobs = *it->second;
    CUVIZ_CHECK(size_t(blobs.size()) == expected.size(), "caffe: ", caffemodel_, ": layer '", l.name(), "' (",
                l.type(), ") has ", blobs.size(), " weight blobs, the architecture needs ", expected.size());
    std::vector<OwnedTensor> out;
    for (size_t i = 0; i < expected.size(); ++i) {
      const BlobProto& b = blobs[int(i)];
      const std::vector<int64_t> dims = blob_dims(b);
      const Shape& s = expected[i].shape;
      CUVIZ_CHECK(squeeze_front(dims) == squeeze_front(expected[i].dims), "caffe: ", caffemodel_, ": layer '",
                  l.name(), "' (", l.type(), ") blob ", i, " has shape ", dims_str(dims), " but the architecture in ",
                  prototxt_, " needs ", dims_str(expected[i].dims));
      OwnedTensor t(s);
      if (b.data_size() == s.numel()) {
        std::copy(b.data().begin(), b.data().end(), t.data());
      } else {
        CUVIZ_CHECK(b.double_data_size() == s.numel(), "caffe: ", caffemodel_, ": layer '", l.name(), "' blob ", i,
                    " holds ", b.data_size(), " values for shape ", dims_str(dims), " (", s.numel(),
                    " expected): corrupt file");
        std::transform(b.double_data().begin(), b.double_data().end(), t.data(),
                       [](double v) { return float(v); });
      }
      for (int64_t k = 0; k < s.numel(); ++k)
        CUVIZ_CHECK(std::isfinite(t.data()[k]), "caffe: ", caffemodel_, ": layer '", l.name(), "' blob ", i,
                    " element ", k, " is ", t.data()[k], " (weights must be finite numbers)");
      out.push_back(std::move(t));
    }
    return out;
  }

  // Caffe gives each 2-D setting either as x_h / x_w or as a repeated (or single) x.
  template <class Rep>
  static void pick_hw(const Rep& rep, bool has_h, uint32_t h, uint32_t w, int dflt, int& out_h, int& out_w) {
    if (has_h) {
      out_h = int(h);
      out_w = int(w);
    } else if (rep.size() == 0) {
      out_h = out_w = dflt;
    } else {
      out_h = int(rep.Get(0));
      out_w = int(rep.Get(rep.size() > 1 ? 1 : 0));
    }
  }

  void add_layer(const LayerParameter& l) {
    if (l.type() == "Input") return;
    const std::string where = cat("caffe: ", prototxt_, ": layer '", l.name(), "' (", l.type(), ")");
    // Training layers and everything computed from their outputs (labels, losses) are skipped.
    bool from_skipped = false;
    for (const auto& b : l.bottom()) from_skipped |= skipped_blobs_.count(b) != 0;
    if (is_training_only(l) || from_skipped) {
      for (const auto& t : l.top())
        if (!builder_.has_blob(t)) skipped_blobs_.insert(t);
      return;
    }
    CUVIZ_CHECK(l.top_size() == 1, where, " has ", l.top_size(), " tops; cuviz layers write exactly one blob");
    LayerDesc d;
    d.name = l.name();
    d.inputs.assign(l.bottom().begin(), l.bottom().end());
    d.output = l.top(0);
    std::vector<Shape> in;
    for (const auto& b : l.bottom()) in.push_back(builder_.blob_shape(b, l.name()));
    CUVIZ_CHECK(!in.empty(), where, " has no bottom blob");
    const Shape x = in[0];
    const std::string& t = l.type();

    if (t == "Convolution") {
      const auto& p = l.convolution_param();
      CUVIZ_CHECK(p.axis() == 1, where, ": axis ", p.axis(), " is not supported (only 1, NCHW)");
      int kh, kw;
      pick_hw(p.kernel_size(), p.has_kernel_h(), p.kernel_h(), p.kernel_w(), 0, kh, kw);
      CUVIZ_CHECK(kh > 0 && kw > 0, where, ": no kernel size given");
      d.kind = LayerKind::conv;
      int pad_h, pad_w;
      pick_hw(p.pad(), p.has_pad_h(), p.pad_h(), p.pad_w(), 0, pad_h, pad_w);
      pick_hw(p.stride(), p.has_stride_h(), p.stride_h(), p.stride_w(), 1, d.conv.stride_h, d.conv.stride_w);
      pick_hw(p.dilation(), false, 0, 0, 1, d.conv.dilation_h, d.conv.dilation_w);
      d.conv.pad_top = d.conv.pad_bottom = pad_h;
      d.conv.pad_left = d.conv.pad_right = pad_w;
      d.conv.groups = int(p.group());
      CUVIZ_CHECK(d.conv.groups >= 1 && x.c % d.conv.groups == 0, where, ": input ", x.str(),
                  " channels are not divisible by group = ", p.group());
      const int o = checked_dim(p.num_output(), cat(where, ": num_output"));
      std::vector<Want> want = {{{o, x.c / d.conv.groups, kh, kw}, {o, x.c / d.conv.groups, kh, kw}}};
      if (p.bias_term()) want.push_back(vec(o));
      d.weights = take_weights(l, want);
    } else if (t == "InnerProduct") {
      const auto& p = l.inner_product_param();
      CUVIZ_CHECK(p.axis() == 1, where, ": axis ", p.axis(), " is not supported (only 1)");
      d.kind = LayerKind::linear;
      const int o = checked_dim(p.num_output(), cat(where, ": num_output"));
      const int k = int(x.image_size());
      std::vector<Want> want = {p.transpose() ? Want{{k, o}, {k, o, 1, 1}} : Want{{o, k}, {o, k, 1, 1}}};
      if (p.bias_term()) want.push_back(vec(o));
      d.weights = take_weights(l, want);
      if (p.transpose()) {  // stored [K][O]; the graph wants [O][K]
        OwnedTensor w({o, k, 1, 1});
        for (int i = 0; i < o; ++i)
          for (int j = 0; j < k; ++j) w.data()[int64_t(i) * k + j] = d.weights[0].data()[int64_t(j) * o + i];
        d.weights[0] = std::move(w);
      }
    } else if (t == "Pooling") {
      const auto& p = l.pooling_param();
      CUVIZ_CHECK(p.pool() != caffe::PoolingParameter::STOCHASTIC, where, ": STOCHASTIC pooling is not supported");
      d.kind = LayerKind::pool;
      Pool2dParams& q = d.pool;
      q.mode = p.pool() == caffe::PoolingParameter::MAX ? PoolMode::max : PoolMode::average;
      q.ceil_mode = p.round_mode() == caffe::PoolingParameter::CEIL;
      q.count_include_pad = true;
      if (p.global_pooling()) {
        q.global = true;
      } else {
        q.kernel_h = int(p.has_kernel_h() ? p.kernel_h() : p.kernel_size());
        q.kernel_w = int(p.has_kernel_h() ? p.kernel_w() : p.kernel_size());
        CUVIZ_CHECK(q.kernel_h > 0 && q.kernel_w > 0, where, ": no kernel size given");
        q.stride_h = int(p.has_stride_h() ? p.stride_h() : p.stride());
        q.stride_w = int(p.has_stride_h() ? p.stride_w() : p.stride());
        q.pad_top = q.pad_bottom = int(p.has_pad_h() ? p.pad_h() : p.pad());
        q.pad_left = q.pad_right = int(p.has_pad_h() ? p.pad_w() : p.pad());
      }
    } else if (t == "LRN") {
      const auto& p = l.lrn_param();
      CUVIZ_CHECK(p.norm_region() == caffe::LRNParameter::ACROSS_CHANNELS, where,
                  ": WITHIN_CHANNEL normalization is not supported (only ACROSS_CHANNELS)");
      d.kind = LayerKind::lrn;
      d.lrn = LrnParams{int(p.local_size()), p.alpha(), p.beta(), p.k()};
    } else if (t == "ReLU") {
      CUVIZ_CHECK(l.relu_param().negative_slope() == 0.f, where, ": negative_slope ",
                  l.relu_param().negative_slope(), " (leaky ReLU) is not supported");
      d.kind = LayerKind::relu;
    } else if (t == "Sigmoid") {
      d.kind = LayerKind::sigmoid;
    } else if (t == "Concat") {
      const auto& p = l.concat_param();
      const int axis = p.has_axis() ? p.axis() : int(p.concat_dim());
      CUVIZ_CHECK(axis == 1 || axis == -3, where, ": axis ", axis, " is not supported (only channels)");
      d.kind = LayerKind::concat;
    } else if (t == "Dropout") {
      d.kind = LayerKind::dropout;
    } else if (t == "Softmax") {
      const int axis = l.softmax_param().axis();
      CUVIZ_CHECK(axis == 1 || axis == -3 || (axis == -1 && x.h == 1 && x.w == 1), where, ": axis ", axis,
                  " is not supported (only channels)");
      d.kind = LayerKind::softmax;
    } else if (t == "Flatten") {
      const auto& p = l.flatten_param();
      CUVIZ_CHECK(p.axis() == 1 && p.end_axis() == -1, where, ": only axis 1 to the end can be flattened");
      d.kind = LayerKind::flatten;
    } else if (t == "Eltwise") {
      const auto& p = l.eltwise_param();
      bool unit = true;
      for (float c : p.coeff()) unit &= c == 1.f;
      CUVIZ_CHECK(p.operation() == caffe::EltwiseParameter::SUM && unit && l.bottom_size() == 2, where,
                  ": only the SUM of two blobs with unit coefficients is supported");
      d.kind = LayerKind::add;
    } else if (t == "BatchNorm") {
      // Caffe stores running sums: mean = blob0 / f, var = blob1 / f with f = blob2 (0 -> 0).
      std::vector<OwnedTensor> b = take_weights(l, {vec(x.c), vec(x.c), vec(1)});
      const float f = b[2].data()[0] == 0.f ? 0.f : 1.f / b[2].data()[0];
      OwnedTensor a({1, x.c, 1, 1}), c({1, x.c, 1, 1});
      for (int i = 0; i < x.c; ++i) {
        const double var = double(b[1].data()[i]) * f + l.batch_norm_param().eps();
      // A negative variance would make inv NaN and every output after this layer NaN.
      CUVIZ_CHECK(var > 0, where, ": variance of channel ", i, " is ", double(b[1].data()[i]) * f, " (with eps ",
                  l.batch_norm_param().eps(), "); a variance must not be negative");
      const double inv = 1.0 / std::sqrt(var);
        a.data()[i] = float(inv);
        c.data()[i] = float(-double(b[0].data()[i]) * f * inv);
      }
      d.kind = LayerKind::affine;
      d.weights.push_back(std::move(a));
      d.weights.push_back(std::move(c));
    } else if (t == "Scale") {
      const auto& p = l.scale_param();
      CUVIZ_CHECK(l.bottom_size() == 1 && p.axis() == 1 && p.num_axes() == 1, where,
                  ": only a learned per-channel scale (one bottom, axis 1, num_axes 1) is supported");
      std::vector<Want> want = {vec(x.c)};
      if (p.bias_term()) want.push_back(vec(x.c));
      d.weights = take_weights(l, want);
      if (!p.bias_term()) {
        OwnedTensor zero({1, x.c, 1, 1});
        std::fill(zero.data(), zero.data() + x.c, 0.f);
        d.weights.push_back(std::move(zero));
      }
      d.kind = LayerKind::affine;
    }
    builder_.add(std::move(d));
  }

  std::string prototxt_, caffemodel_;
  GraphBuilder builder_;
  NetParameter weights_net_;
  std::map<std::string, const pb::RepeatedPtrField<BlobProto>*> weights_;  // into weights_net_
  std::set<std::string> skipped_blobs_;
};

}  // namespace

Graph load_caffe(const std::string& prototxt, const std::string& caffemodel) {
  return CaffeReader(prototxt, caffemodel).read();
}

}  // namespace cuviz
