// Built-in architectures for torchvision state dicts stored as safetensors: GoogLeNet, VGG16 and
// VGG19 rebuilt layer by layer with torchvision's module names (conv1, inception4a.branch2.1,
// features.28, classifier.6), so users pick layers by the names PyTorch code uses. BatchNorm
// (GoogLeNet's BasicConv2d, eps 0.001) is folded into its conv: w' = a w, b' = beta - a mean,
// a = gamma / sqrt(var + eps). Naming and shapes: docs/formats.md, section "safetensors".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "loaders/safetensors.h"
#include "nn/graph.h"

namespace cuviz {

struct TorchvisionOptions {
  // Square input size the graph is built for. GoogLeNet ends in a global pool (any size >= 32
  // works); VGG's AdaptiveAvgPool2d(7) becomes a regular average pool when the 7x7 windows are
  // uniform (224: identity) or is folded into classifier.0 when the feature map is smaller than 7.
  int input_size = 224;
  // GoogLeNet: start with torchvision's transform_input (an affine map from ImageNet-normalised
  // input to the (x - 0.5) / 0.5 convention the weights were trained with). Unset: the file's
  // __metadata__ "transform_input" ("true"/"false") decides, else true like torchvision's
  // pretrained googlenet.
  std::optional<bool> transform_input;
};

// The architectures: "googlenet", "vgg16", "vgg19".
std::vector<std::string> torchvision_architectures();
// The architecture a state dict belongs to, from the tensor names it holds (inception3a.* ->
// googlenet, features.34.weight -> vgg19, features.28.weight -> vgg16); throws naming the file.
std::string detect_torchvision_architecture(const SafetensorsFile& file);
// How torchvision's models expect their input: RGB, values in [0, 1], ImageNet mean and std
// (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225).
ModelMeta torchvision_meta(int input_size = 224);
// Builds `arch` ("" = detect) from the safetensors file at `path`. Every tensor the architecture
// needs must be present with torchvision's shape (F32/F16/BF16); tensors it does not use are an
// error except BatchNorm's num_batches_tracked and GoogLeNet's aux1.* / aux2.* classifiers.
Graph load_torchvision(const std::string& path, const std::string& arch = "", const TorchvisionOptions& options = {});

}  // namespace cuviz
