// torchvision GoogLeNet / VGG16 / VGG19 from a safetensors state dict. Each builder walks the
// architecture as torchvision's code defines it (models/googlenet.py, models/vgg.py), reads every
// weight by its state-dict name with the shape that module implies, and adds the layers through
// GraphBuilder, which checks every shape against the blob it reads.
#include "loaders/torchvision_models.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "kernels/batchnorm.h"
#include "loaders/graph_builder.h"

namespace cuviz {
namespace {

// Reads the tensors an architecture needs and remembers which ones it used.
class WeightReader {
 public:
  WeightReader(const SafetensorsFile& file, std::string arch) : file_(file), arch_(std::move(arch)) {}

  // Tensor `name` stored with `dims`, as a CPU tensor of `shape`.
  OwnedTensor get(const std::string& name, const std::vector<int64_t>& dims, Shape shape) {
    require(name, dims_string(dims));
    used_.insert(name);
    return file_.read_tensor(name, dims, shape);
  }
  // The first dimension of a stored tensor (a classifier's number of classes), or throws.
  int64_t leading_dim(const std::string& name) {
    require(name, "[classes, ...]");
    const SafetensorsInfo& t = file_.info(name);
    CUVIZ_CHECK(!t.shape.empty() && t.shape[0] > 0, "safetensors: ", file_.path(), ": tensor '", name,
                "' has shape ", dims_string(t.shape));
    return t.shape[0];
  }
  // Throws for tensors the architecture does not use, other than the ones torchvision itself
  // keeps in state dicts without using them at inference.
  void check_all_used(const std::vector<std::string>& ignored_prefixes) const {
    for (const auto& name : file_.names()) {
      if (used_.count(name) || name.ends_with(".num_batches_tracked")) continue;
      bool ignored = false;
      for (const auto& p : ignored_prefixes) ignored = ignored || name.starts_with(p);
      CUVIZ_CHECK(ignored, "safetensors: ", file_.path(), ": tensor '", name, "' ",
                  dims_string(file_.info(name).shape), " is not part of torchvision's ", arch_,
                  " (a different architecture or variant, e.g. a _bn model?)");
    }
  }

 private:
  void require(const std::string& name, const std::string& shape) const {
    CUVIZ_CHECK(file_.contains(name), "safetensors: ", file_.path(), ": torchvision ", arch_, " needs tensor '",
                name, "' ", shape, ", which the file does not hold (it holds ", file_.names().size(), " tensors",
                example_names(), ")");
  }
  std::string example_names() const {
    const auto names = file_.names();
    std::string s;
    for (size_t i = 0; i < names.size() && i < 4; ++i) s += (i ? ", " : ": ") + names[i];
    return names.size() > 4 ? s + ", ..." : s;
  }

  const SafetensorsFile& file_;
  std::string arch_;
  std::set<std::string> used_;
};

LayerDesc make_layer(std::string name, LayerKind kind, std::vector<std::string> inputs, std::string output) {
  LayerDesc l;
  l.name = std::move(name);
  l.kind = kind;
  l.inputs = std::move(inputs);
  l.output = std::move(output);
  return l;
}

class Builder {
 public:
  Builder(const SafetensorsFile& file, const std::string& arch, int input_size)
      : weights_(file, arch), b_(cat("torchvision ", arch, ": ", file.path())) {
    CUVIZ_CHECK(input_size > 0, "torchvision ", arch, ": input size ", input_size, " is not positive");
    b_.set_input("input", Shape{1, 3, input_size, input_size});
  }

  WeightReader& weights() { return weights_; }
  GraphBuilder& builder() { return b_; }
  int channels(const std::string& blob) { return b_.blob_shape(blob, "torchvision builder").c; }

  // nn.Conv2d(in, out, k, stride, pad) with bias named prefix.weight / prefix.bias; layer and
  // output blob are both `name`.
  std::string conv(const std::string& name, const std::string& prefix, const std::string& in, int out, int k,
                   int stride, int pad) {
    const int c = channels(in);
    LayerDesc l = make_layer(name, LayerKind::conv, {in}, name);
    l.conv = Conv2dParams::make(stride, pad);
    l.weights.push_back(weights_.get(prefix + ".weight", {out, c, k, k}, Shape{out, c, k, k}));
    l.weights.push_back(weights_.get(prefix + ".bias", {out}, Shape{1, out, 1, 1}));
    b_.add(std::move(l));
    return name;
  }

  // torchvision's BasicConv2d at `prefix`: conv (no bias) + BatchNorm2d(eps 0.001) + ReLU. The
  // batch norm is folded into the conv (layer and blob `prefix.bn`, the BN output); the ReLU is
  // layer `prefix.relu` writing blob `prefix`, the module's output.
  std::string basic_conv(const std::string& prefix, const std::string& in, int out, int k, int stride = 1,
                         int pad = 0) {
    const int c = channels(in);
    LayerDesc l = make_layer(prefix + ".bn", LayerKind::conv, {in}, prefix + ".bn");
    l.conv = Conv2dParams::make(stride, pad);
    OwnedTensor w = weights_.get(prefix + ".conv.weight", {out, c, k, k}, Shape{out, c, k, k});
    OwnedTensor bias(Shape{1, out, 1, 1});
    fill(bias, 0.f);
    const Shape per_channel{1, out, 1, 1};
    const OwnedTensor gamma = weights_.get(prefix + ".bn.weight", {out}, per_channel);
    const OwnedTensor beta = weights_.get(prefix + ".bn.bias", {out}, per_channel);
    const OwnedTensor mean = weights_.get(prefix + ".bn.running_mean", {out}, per_channel);
    const OwnedTensor var = weights_.get(prefix + ".bn.running_var", {out}, per_channel);
    try {
      batchnorm_fold_into_conv(BatchNormWeights{gamma, beta, mean, var, 0.001f}, w, bias);
    } catch (const Error& e) {
      throw Error(cat(b_.context(), ": ", prefix, ".bn: ", e.what()));
    }
    l.weights.push_back(std::move(w));
    l.weights.push_back(std::move(bias));
    b_.add(std::move(l));
    return relu(prefix + ".relu", prefix + ".bn", prefix);
  }

  std::string relu(const std::string& name, const std::string& in, const std::string& out) {
    b_.add(make_layer(name, LayerKind::relu, {in}, out));
    return out;
  }

  std::string pool(const std::string& name, const std::string& in, const Pool2dParams& p) {
    LayerDesc l = make_layer(name, LayerKind::pool, {in}, name);
    l.pool = p;
    b_.add(std::move(l));
    return name;
  }

  std::string simple(const std::string& name, LayerKind kind, const std::string& in) {
    b_.add(make_layer(name, kind, {in}, name));
    return name;
  }

  // nn.Linear named `prefix` with `out` outputs (0: as many as the file holds); weight [out, in].
  std::string linear(const std::string& prefix, const std::string& in, int out) {
    const int k = int(b_.blob_shape(in, prefix).image_size());
    if (out == 0) out = int(weights_.leading_dim(prefix + ".weight"));
    LayerDesc l = make_layer(prefix, LayerKind::linear, {in}, prefix);
    l.weights.push_back(weights_.get(prefix + ".weight", {out, k}, Shape{out, k, 1, 1}));
    l.weights.push_back(weights_.get(prefix + ".bias", {out}, Shape{1, out, 1, 1}));
    b_.add(std::move(l));
    return prefix;
  }

  Graph finish(const std::string& name, int input_size, const std::vector<std::string>& ignored_prefixes) {
    weights_.check_all_used(ignored_prefixes);
    Graph g = std::move(b_.graph());
    g.name = name;
    g.meta = torchvision_meta(input_size);
    return g;
  }

 private:
  WeightReader weights_;
  GraphBuilder b_;
};

bool metadata_flag(const SafetensorsFile& file, const std::string& key, bool fallback) {
  auto it = file.metadata().find(key);
  if (it == file.metadata().end()) return fallback;
  std::string v = it->second;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw Error(cat("safetensors: ", file.path(), ": __metadata__ ", key, " = '", it->second,
                  "' is neither true nor false"));
}

// torchvision.models.GoogLeNet(aux_logits=False); the aux heads of a pretrained file are ignored.
Graph build_googlenet(const SafetensorsFile& file, const TorchvisionOptions& o) {
  Builder b(file, "googlenet", o.input_size);
  std::string x = "input";
  if (o.transform_input.value_or(metadata_flag(file, "transform_input", true))) {
    // torchvision: x_c * (std_c / 0.5) + (mean_c - 0.5) / 0.5 undoes the ImageNet normalisation
    // and applies the (x - 0.5) / 0.5 one the weights were trained with.
    // Computed from the double constants and rounded once, as PyTorch rounds the Python scalars.
    const double mean[3] = {0.485, 0.456, 0.406}, std[3] = {0.229, 0.224, 0.225};
    LayerDesc l = make_layer("transform_input", LayerKind::affine, {x}, "transform_input");
    OwnedTensor a(Shape{1, 3, 1, 1}), s(Shape{1, 3, 1, 1});
    for (int c = 0; c < 3; ++c) {
      a.data()[c] = float(std[c] / 0.5);
      s.data()[c] = float((mean[c] - 0.5) / 0.5);
    }
    l.weights.push_back(std::move(a));
    l.weights.push_back(std::move(s));
    b.builder().add(std::move(l));
    x = "transform_input";
  }
  const auto max_ceil = [](int k, int s, int pad = 0) {
    return Pool2dParams::make(PoolMode::max, k, s, pad, /*ceil_mode=*/true);
  };
  x = b.basic_conv("conv1", x, 64, 7, 2, 3);
  x = b.pool("maxpool1", x, max_ceil(3, 2));
  x = b.basic_conv("conv2", x, 64, 1);
  x = b.basic_conv("conv3", x, 192, 3, 1, 1);
  x = b.pool("maxpool2", x, max_ceil(3, 2));

  // Inception(in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj); branch3's "5x5" conv is
  // 3x3 in torchvision (a known deviation from the paper that its weights were trained with).
  const auto inception = [&](const std::string& p, const std::string& in, int c1, int c3r, int c3, int c5r, int c5,
                             int pp) {
    const std::string b1 = b.basic_conv(p + ".branch1", in, c1, 1);
    const std::string b2 = b.basic_conv(p + ".branch2.1", b.basic_conv(p + ".branch2.0", in, c3r, 1), c3, 3, 1, 1);
    const std::string b3 = b.basic_conv(p + ".branch3.1", b.basic_conv(p + ".branch3.0", in, c5r, 1), c5, 3, 1, 1);
    const std::string b4 = b.basic_conv(p + ".branch4.1", b.pool(p + ".branch4.0", in, max_ceil(3, 1, 1)), pp, 1);
    b.builder().add(make_layer(p, LayerKind::concat, {b1, b2, b3, b4}, p));
    return p;
  };
  x = inception("inception3a", x, 64, 96, 128, 16, 32, 32);
  x = inception("inception3b", x, 128, 128, 192, 32, 96, 64);
  x = b.pool("maxpool3", x, max_ceil(3, 2));
  x = inception("inception4a", x, 192, 96, 208, 16, 48, 64);
  x = inception("inception4b", x, 160, 112, 224, 24, 64, 64);
  x = inception("inception4c", x, 128, 128, 256, 24, 64, 64);
  x = inception("inception4d", x, 112, 144, 288, 32, 64, 64);
  x = inception("inception4e", x, 256, 160, 320, 32, 128, 128);
  x = b.pool("maxpool4", x, max_ceil(2, 2));
  x = inception("inception5a", x, 256, 160, 320, 32, 128, 128);
  x = inception("inception5b", x, 384, 192, 384, 48, 128, 128);
  Pool2dParams gap;
  gap.mode = PoolMode::average;
  gap.global = true;  // AdaptiveAvgPool2d((1, 1))
  x = b.pool("avgpool", x, gap);
  x = b.simple("flatten", LayerKind::flatten, x);
  x = b.simple("dropout", LayerKind::dropout, x);
  b.linear("fc", x, 0);
  return b.finish("googlenet", o.input_size, {"aux1.", "aux2."});
}

// One axis of AdaptiveAvgPool2d(out) on `in` elements: window j is [floor(j in / out),
// ceil((j + 1) in / out)).
struct AdaptiveWindows {
  std::vector<int> begin, end;
  AdaptiveWindows(int in, int out) {
    for (int j = 0; j < out; ++j) {
      begin.push_back(j * in / out);
      end.push_back(((j + 1) * in + out - 1) / out);
    }
  }
  // Kernel and stride when every window has one size and the starts are evenly spaced.
  bool regular(int& kernel, int& stride) const {
    kernel = end[0] - begin[0];
    stride = begin.size() > 1 ? begin[1] - begin[0] : 1;
    if (stride < 1) return false;
    for (size_t j = 0; j < begin.size(); ++j)
      if (begin[j] != int(j) * stride || end[j] - begin[j] != kernel) return false;
    return true;
  }
};

// torchvision.models.VGG with cfg "D" (vgg16) or "E" (vgg19), no batch norm.
Graph build_vgg(const SafetensorsFile& file, const std::string& arch, const TorchvisionOptions& o) {
  static const std::vector<int> cfg16 = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0,
                                         512, 512, 512, 0};
  static const std::vector<int> cfg19 = {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0,
                                         512, 512, 512, 512, 0};
  Builder b(file, arch, o.input_size);
  std::string x = "input";
  int index = 0;  // position in the features Sequential: conv, relu, ..., maxpool
  for (int v : arch == "vgg16" ? cfg16 : cfg19) {
    const std::string name = cat("features.", index);
    if (v == 0) {
      x = b.pool(name, x, Pool2dParams::make(PoolMode::max, 2, 2));
      index += 1;
    } else {
      x = b.conv(name, name, x, v, 3, 1, 1);
      x = b.relu(cat("features.", index + 1), x, cat("features.", index + 1));
      index += 2;
    }
  }
  // AdaptiveAvgPool2d((7, 7)) -> flatten -> classifier.0 (Linear 512*7*7 -> 4096).
  const Shape f = b.builder().blob_shape(x, "avgpool");
  const AdaptiveWindows wh(f.h, 7), ww(f.w, 7);
  int kh, sh, kw, sw;
  const bool as_pool = wh.regular(kh, sh) && ww.regular(kw, sw);
  if (as_pool) {
    Pool2dParams p;
    p.mode = PoolMode::average;
    p.kernel_h = kh;
    p.kernel_w = kw;
    p.stride_h = sh;
    p.stride_w = sw;
    x = b.pool("avgpool", x, p);
  } else {
    // The pool is a fixed linear map P (each of the 49 outputs averages its window), so
    // classifier.0 (W) after it equals one linear layer with weights W P over the raw features:
    // W'[o, c, y, x] = sum over outputs (i, j) whose window holds (y, x) of W[o, c, i, j] / |window|.
    // Exact, and no larger than W when the map is smaller than 7x7 (e.g. 1x1 at 32x32 input,
    // where the pool replicates the one value 49 times).
    CUVIZ_CHECK(f.h <= 7 && f.w <= 7, "torchvision ", arch, ": input size ", o.input_size, " gives ", f.str(),
                " features, on which AdaptiveAvgPool2d(7) has windows of unequal size; use an input size whose "
                "feature map is a multiple of 7 (224, 448) or at most 7 (<= 255)");
  }
  x = b.simple("flatten", LayerKind::flatten, x);
  if (as_pool) {
    x = b.linear("classifier.0", x, 4096);
  } else {
    const int C = f.c;
    OwnedTensor w = b.weights().get("classifier.0.weight", {4096, int64_t(C) * 49}, Shape{4096, C * 49, 1, 1});
    const int64_t K = int64_t(C) * f.h * f.w;
    OwnedTensor folded(Shape{4096, int(K), 1, 1});
    std::vector<double> row(static_cast<size_t>(K));
    for (int out = 0; out < 4096; ++out) {
      std::fill(row.begin(), row.end(), 0.0);
      const float* wo = w.data() + int64_t(out) * C * 49;
      for (int c = 0; c < C; ++c)
        for (int i = 0; i < 7; ++i)
          for (int j = 0; j < 7; ++j) {
            const double share = double(wo[c * 49 + i * 7 + j]) /
                                 ((wh.end[i] - wh.begin[i]) * (ww.end[j] - ww.begin[j]));
            for (int y = wh.begin[i]; y < wh.end[i]; ++y)
              for (int xx = ww.begin[j]; xx < ww.end[j]; ++xx) row[size_t((c * f.h + y) * f.w + xx)] += share;
          }
      for (int64_t k = 0; k < K; ++k) folded.data()[out * K + k] = float(row[size_t(k)]);
    }
    LayerDesc l = make_layer("classifier.0", LayerKind::linear, {x}, "classifier.0");
    l.weights.push_back(std::move(folded));
    l.weights.push_back(b.weights().get("classifier.0.bias", {4096}, Shape{1, 4096, 1, 1}));
    b.builder().add(std::move(l));
    x = "classifier.0";
  }
  x = b.relu("classifier.1", x, "classifier.1");
  x = b.simple("classifier.2", LayerKind::dropout, x);
  x = b.linear("classifier.3", x, 4096);
  x = b.relu("classifier.4", x, "classifier.4");
  x = b.simple("classifier.5", LayerKind::dropout, x);
  b.linear("classifier.6", x, 0);
  return b.finish(arch, o.input_size, {});
}

}  // namespace

std::vector<std::string> torchvision_architectures() { return {"googlenet", "vgg16", "vgg19"}; }

std::string detect_torchvision_architecture(const SafetensorsFile& file) {
  if (file.contains("inception3a.branch1.conv.weight")) return "googlenet";
  if (file.contains("features.34.weight")) return "vgg19";
  if (file.contains("features.28.weight")) return "vgg16";
  throw Error(cat("safetensors: ", file.path(), ": the tensor names match none of torchvision's googlenet, ",
                  "vgg16, vgg19 (looked for inception3a.branch1.conv.weight, features.34.weight, ",
                  "features.28.weight)"));
}

ModelMeta torchvision_meta(int input_size) {
  ModelMeta m;
  m.input_size = input_size;
  m.bgr = false;
  m.value_scale = 1.f;
  const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
  for (int c = 0; c < 3; ++c) {
    m.mean[c] = mean[c];
    m.std[c] = std[c];
  }
  return m;
}

Graph load_torchvision(const std::string& path, const std::string& arch, const TorchvisionOptions& options) {
  const SafetensorsFile file(path);
  const std::string a = arch.empty() ? detect_torchvision_architecture(file) : arch;
  if (a == "googlenet") return build_googlenet(file, options);
  if (a == "vgg16" || a == "vgg19") return build_vgg(file, a, options);
  throw Error(cat("torchvision: unknown architecture '", a, "' (expected googlenet, vgg16 or vgg19)"));
}

}  // namespace cuviz
