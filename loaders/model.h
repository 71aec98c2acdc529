// Model names and files: resolves "googlenet", "squeezenet", "vgg16", "vgg19" (or a path to a
// model file or directory) to the files on disk through a search path, picks the Caffe, ONNX or
// safetensors (torchvision weights, <dir>/torchvision/<name>.safetensors) form, and attaches the
// preprocessing each network was trained with (ModelMeta).
// Search order: an explicit path, then each directory of $CUVIZ_MODEL_PATH (colon-separated),
// ./weights, ~/.cache/cuviz; a model lives in <dir>/<model dir>/ (e.g. weights/bvlc_googlenet/).
#pragma once

#include <string>
#include <vector>

#include "nn/graph.h"

namespace cuviz {

enum class ModelFormat { automatic, caffe, onnx, safetensors };

// "auto", "caffe", "onnx" or "safetensors" (the --format option); throws for anything else.
ModelFormat parse_model_format(const std::string& s);
// "auto", "caffe", "onnx" or "safetensors".
const char* model_format_name(ModelFormat f);

// The files of one model and how to feed it.
struct ModelFiles {
  std::string name;                  // canonical name ("googlenet") or "" for an unknown model
  ModelFormat format = ModelFormat::caffe;  // caffe or onnx once resolved
  std::string prototxt, caffemodel;  // Caffe form
  std::string onnx;                  // ONNX form
  std::string safetensors;           // torchvision state dict (googlenet, vgg16, vgg19)
  ModelMeta meta;                    // input size, channel order, scale, mean; labels path if found

  // The weights file of the resolved format (caffemodel, onnx or safetensors).
  const std::string& weights_file() const {
    return format == ModelFormat::onnx ? onnx : format == ModelFormat::safetensors ? safetensors : caffemodel;
  }
};

// The names resolve_model knows, e.g. {"googlenet", "squeezenet", "vgg16", "vgg19"}.
std::vector<std::string> known_model_names();
// The directories searched for model names, in order: $CUVIZ_MODEL_PATH entries, ./weights,
// ~/.cache/cuviz (only those set; existing or not).
std::vector<std::string> model_search_path();
// Finds the files of `name_or_path` in `format` (automatic: Caffe, else ONNX, else safetensors;
// Caffe is the original release). Throws, listing every place searched and the fetch command, when nothing is found.
ModelFiles resolve_model(const std::string& name_or_path, ModelFormat format = ModelFormat::automatic);
// Loads the resolved files into a Graph carrying files.meta.
Graph load_model(const ModelFiles& files);
// resolve_model + load_model.
Graph load_model(const std::string& name_or_path, ModelFormat format = ModelFormat::automatic);

}  // namespace cuviz
