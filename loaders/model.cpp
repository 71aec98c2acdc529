// Model resolution: a small table of the known networks (directory, file names, preprocessing)
// and a search over explicit paths and the model search path. torchvision's weights (safetensors)
// live in <search dir>/torchvision/<name>.safetensors and take torchvision's preprocessing. Every "not found" error lists
// the places searched and the command that downloads the files.
#include "loaders/model.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "loaders/caffe_loader.h"
#include "loaders/onnx_loader.h"
#include "loaders/torchvision_models.h"

namespace cuviz {
namespace {

namespace fs = std::filesystem;

struct KnownModel {
  const char* name;
  std::vector<const char*> aliases;
  const char* dir;          // under a search-path directory
  const char* prototxt;
  const char* caffemodel;
  const char* onnx;         // our export, "" when there is none
  ModelMeta meta;
};

// Caffe-trained networks: BGR in 0..255 minus the training set's per-channel mean.
ModelMeta caffe_meta(int size, float b, float g, float r) {
  ModelMeta m;
  m.input_size = size;
  m.bgr = true;
  m.value_scale = 255.f;
  m.mean[0] = b;
  m.mean[1] = g;
  m.mean[2] = r;
  return m;
}

const std::vector<KnownModel>& known_models() {
  static const std::vector<KnownModel> models = {
      {"googlenet", {"bvlc_googlenet", "inception_v1"}, "bvlc_googlenet", "deploy.prototxt",
       "bvlc_googlenet.caffemodel", "bvlc_googlenet.onnx", caffe_meta(224, 104.f, 117.f, 123.f)},
      {"squeezenet", {"squeezenet_v1.1", "squeezenet1.1"}, "squeezenet_v1.1", "deploy.prototxt",
       "squeezenet_v1.1.caffemodel", "squeezenet_v1.1.onnx", caffe_meta(227, 104.f, 117.f, 123.f)},
      // VGG's mean is the ILSVRC-2012 pixel mean (Simonyan & Zisserman's release notes).
      {"vgg16", {"vgg_ilsvrc_16_layers"}, "vgg16", "VGG_ILSVRC_16_layers_deploy.prototxt",
       "VGG_ILSVRC_16_layers.caffemodel", "", caffe_meta(224, 103.939f, 116.779f, 123.68f)},
      {"vgg19", {"vgg_ilsvrc_19_layers"}, "vgg19", "VGG_ILSVRC_19_layers_deploy.prototxt",
       "VGG_ILSVRC_19_layers.caffemodel", "", caffe_meta(224, 103.939f, 116.779f, 123.68f)},
  };
  return models;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

const KnownModel* find_known(const std::string& name) {
  const std::string n = lower(name);
  for (const auto& m : known_models()) {
    if (n == m.name || n == lower(m.dir)) return &m;
    for (const char* a : m.aliases)
      if (n == a) return &m;
  }
  return nullptr;
}

// Whether `format` admits the Caffe / ONNX / safetensors form (automatic admits all three).
bool wants(ModelFormat format, ModelFormat form) { return format == ModelFormat::automatic || format == form; }

// torchvision/<name>.safetensors under a search directory, for the names with a built-in
// torchvision architecture; "" for the others (squeezenet).
std::string torchvision_file(const KnownModel& m) {
  for (const auto& a : torchvision_architectures())
    if (a == m.name) return cat("torchvision/", m.name, ".safetensors");
  return "";
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// Files in `dir` whose name ends with `ext`, sorted.
std::vector<fs::path> with_extension(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ext) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// labels/imagenet_synset_words.txt in the model's directory, its parent or the search root.
std::string find_labels(const fs::path& model_dir) {
  for (const fs::path& base : {model_dir, model_dir.parent_path()}) {
    for (const fs::path& p : {base / "labels" / "imagenet_synset_words.txt", base / "imagenet_synset_words.txt"})
      if (is_file(p)) return p.string();
  }
  return "";
}

// The Caffe pair beside a .caffemodel or .prototxt, or inside a directory.
bool caffe_pair(const fs::path& dir, const std::string& stem, std::string& prototxt, std::string& caffemodel) {
  std::vector<fs::path> protos, models;
  if (!stem.empty()) {
    protos = {dir / (stem + ".prototxt"), dir / (stem + "_deploy.prototxt"), dir / "deploy.prototxt"};
    models = {dir / (stem + ".caffemodel")};
  }
  for (const auto& p : with_extension(dir, ".prototxt"))
    if (p.filename().string().find("deploy") != std::string::npos) protos.push_back(p);
  for (const auto& p : with_extension(dir, ".prototxt")) protos.push_back(p);
  for (const auto& p : with_extension(dir, ".caffemodel")) models.push_back(p);
  auto first = [](const std::vector<fs::path>& v) -> std::string {
    for (const auto& p : v)
      if (is_file(p)) return p.string();
    return "";
  };
  if (prototxt.empty()) prototxt = first(protos);
  if (caffemodel.empty()) caffemodel = first(models);
  return !prototxt.empty() && !caffemodel.empty();
}

std::string home_dir() {
  const char* h = std::getenv("HOME");
  return h && *h ? h : "";
}

// Files of an explicit path (a model file or a directory holding one).
ModelFiles resolve_path(const fs::path& path, ModelFormat format) {
  ModelFiles f;
  // A bare file name ("model.onnx", run in the model's own folder) has an empty parent: use ".",
  // which fs::absolute and the directory listings below accept.
  const fs::path dir = fs::is_directory(path) ? path : path.parent_path().empty() ? fs::path(".") : path.parent_path();
  const KnownModel* known = find_known(fs::absolute(dir).lexically_normal().filename().string());
  if (known) {
    f.name = known->name;
    f.meta = known->meta;
  }
  const std::string ext = path.extension().string();
  const std::string stem = path.stem().string();
  if (!fs::is_directory(path)) {
    if (ext == ".safetensors") {
      CUVIZ_CHECK(wants(format, ModelFormat::safetensors), "model: ", path.string(),
                  " is a safetensors file but --format ", model_format_name(format), " was asked for");
      f.format = ModelFormat::safetensors;
      f.safetensors = path.string();
      // googlenet.safetensors / vgg16.safetensors name their architecture; otherwise it is
      // detected from the tensor names when loaded.
      known = find_known(stem);
      f.name = known && !torchvision_file(*known).empty() ? known->name : "";
      f.meta = torchvision_meta();
      if (f.name.empty()) known = nullptr;
    } else if (ext == ".onnx") {
      CUVIZ_CHECK(format != ModelFormat::caffe, "model: ", path.string(), " is an ONNX file but --format caffe was asked for");
      f.format = ModelFormat::onnx;
      f.onnx = path.string();
    } else if (ext == ".caffemodel" || ext == ".prototxt") {
      CUVIZ_CHECK(format != ModelFormat::onnx, "model: ", path.string(), " is a Caffe file but --format onnx was asked for");
      f.format = ModelFormat::caffe;
      (ext == ".caffemodel" ? f.caffemodel : f.prototxt) = path.string();
      CUVIZ_CHECK(caffe_pair(dir, stem, f.prototxt, f.caffemodel), "model: found ", path.string(), " but no ",
                  ext == ".caffemodel" ? "deploy .prototxt" : ".caffemodel", " beside it in ", dir.string());
    } else {
      throw Error(cat("model: ", path.string(), " is neither a .caffemodel, a .prototxt, an .onnx nor a .safetensors file"));
    }
  } else {
    const bool caffe_ok = wants(format, ModelFormat::caffe) && caffe_pair(dir, "", f.prototxt, f.caffemodel);
    std::vector<fs::path> onnx = with_extension(dir, ".onnx");
    if (known && *known->onnx && is_file(dir / known->onnx)) onnx.insert(onnx.begin(), dir / known->onnx);
    const std::vector<fs::path> st = with_extension(dir, ".safetensors");
    if (caffe_ok) {
      f.format = ModelFormat::caffe;
    } else if (wants(format, ModelFormat::onnx) && !onnx.empty()) {
      f.format = ModelFormat::onnx;
      f.onnx = onnx.front().string();
      f.prototxt.clear();
      f.caffemodel.clear();
    } else if (wants(format, ModelFormat::safetensors) && !st.empty()) {
      f.format = ModelFormat::safetensors;
      f.safetensors = st.front().string();
      f.prototxt.clear();
      f.caffemodel.clear();
      known = find_known(st.front().stem().string());
      f.name = known && !torchvision_file(*known).empty() ? known->name : "";
      f.meta = torchvision_meta();
      if (f.name.empty()) known = nullptr;
    } else {
      throw Error(cat("model: directory ", dir.string(), " holds no ",
                      format == ModelFormat::onnx          ? ".onnx file"
                      : format == ModelFormat::caffe       ? ".prototxt + .caffemodel pair"
                      : format == ModelFormat::safetensors ? ".safetensors file"
                                                           : ".prototxt + .caffemodel pair, .onnx or .safetensors file"));
    }
  }
  if (!known) f.meta.input_size = 0;  // unknown: taken from the graph's input when loaded
  f.meta.labels = find_labels(dir);
  return f;
}

}  // namespace

ModelFormat parse_model_format(const std::string& s) {
  const std::string l = lower(s);
  if (l == "auto" || l.empty()) return ModelFormat::automatic;
  if (l == "caffe") return ModelFormat::caffe;
  if (l == "onnx") return ModelFormat::onnx;
  if (l == "safetensors") return ModelFormat::safetensors;
  throw Error(cat("model: unknown format '", s, "' (expected caffe, onnx or auto, or safetensors for torchvision weights)"));
}

const char* model_format_name(ModelFormat f) {
  switch (f) {
    case ModelFormat::automatic: return "auto";
    case ModelFormat::caffe: return "caffe";
    case ModelFormat::onnx: return "onnx";
    case ModelFormat::safetensors: return "safetensors";
  }
  return "?";
}

std::vector<std::string> known_model_names() {
  std::vector<std::string> out;
  for (const auto& m : known_models()) out.push_back(m.name);
  return out;
}

std::vector<std::string> model_search_path() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("CUVIZ_MODEL_PATH")) {
    std::string s = env;
    size_t start = 0;
    while (start <= s.size()) {
      const size_t end = std::min(s.find(':', start), s.size());
      if (end > start) dirs.push_back(s.substr(start, end - start));
      start = end + 1;
    }
  }
  dirs.push_back("./weights");
  if (!home_dir().empty()) dirs.push_back(home_dir() + "/.cache/cuviz");
  return dirs;
}

ModelFiles resolve_model(const std::string& name_or_path, ModelFormat format) {
  std::error_code ec;
  if (fs::exists(name_or_path, ec)) return resolve_path(name_or_path, format);
  const KnownModel* known = find_known(name_or_path);
  if (!known) {
    std::string names;
    for (const auto& n : known_model_names()) names += (names.empty() ? "" : ", ") + n;
    throw Error(cat("model: '", name_or_path, "' is neither an existing file or directory nor a known model (",
                    names, ")"));
  }
  std::string searched;
  for (const auto& root : model_search_path()) {
    const fs::path dir = fs::path(root) / known->dir;
    ModelFiles f;
    f.name = known->name;
    f.meta = known->meta;
    const std::string st = torchvision_file(*known);
    if (wants(format, ModelFormat::caffe) && is_file(dir / known->prototxt) && is_file(dir / known->caffemodel)) {
      f.format = ModelFormat::caffe;
      f.prototxt = (dir / known->prototxt).string();
      f.caffemodel = (dir / known->caffemodel).string();
    } else if (wants(format, ModelFormat::onnx) && *known->onnx && is_file(dir / known->onnx)) {
      f.format = ModelFormat::onnx;
      f.onnx = (dir / known->onnx).string();
    } else if (wants(format, ModelFormat::safetensors) && !st.empty() && is_file(fs::path(root) / st)) {
      f.format = ModelFormat::safetensors;
      f.safetensors = (fs::path(root) / st).string();
      f.meta = torchvision_meta();
      f.meta.labels = find_labels(fs::path(root) / "torchvision");
      return f;
    } else {
      if (wants(format, ModelFormat::caffe))
        searched += cat("\n  ", (dir / known->prototxt).string(), " + ", known->caffemodel);
      if (wants(format, ModelFormat::onnx) && *known->onnx) searched += cat("\n  ", (dir / known->onnx).string());
      if (wants(format, ModelFormat::safetensors) && !st.empty())
        searched += cat("\n  ", (fs::path(root) / st).string());
      continue;
    }
    f.meta.labels = find_labels(dir);
    return f;
  }
  throw Error(cat("model: ", known->name, " (", model_format_name(format), ") not found; searched:", searched,
                  "\n(search path: $CUVIZ_MODEL_PATH, ./weights, ~/.cache/cuviz)",
                  format == ModelFormat::safetensors
                      ? "\nConvert torchvision's weights to safetensors as docs/formats.md (safetensors) shows"
                      : cat("\nDownload it with: weights/fetch.sh ", known->name)));
}

Graph load_model(const ModelFiles& files) {
  Graph g;
  if (files.format == ModelFormat::safetensors) {
    TorchvisionOptions o;
    if (files.meta.input_size > 0) o.input_size = files.meta.input_size;
    g = load_torchvision(files.safetensors, files.name, o);
  } else {
    g = files.format == ModelFormat::onnx ? load_onnx(files.onnx) : load_caffe(files.prototxt, files.caffemodel);
  }
  const int declared = g.meta.input_size;
  g.meta = files.meta;
  if (g.meta.input_size == 0) g.meta.input_size = declared;
  if (!files.name.empty()) g.name = files.name;
  return g;
}

Graph load_model(const std::string& name_or_path, ModelFormat format) {
  return load_model(resolve_model(name_or_path, format));
}

}  // namespace cuviz
