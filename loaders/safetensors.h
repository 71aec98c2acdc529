// safetensors files (Hugging Face's weight format): an 8-byte little-endian header length N, a
// JSON header {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
// then the raw little-endian data, offsets relative to its start. Validated like the reference
// implementation: every tensor's bytes = numel * dtype size, tensors tile the data exactly.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cuviz {

// One header entry.
struct SafetensorsInfo {
  std::string dtype;            // "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;   // any rank, C order
  uint64_t begin = 0, end = 0;  // byte range in the data section
  // prod(shape); 1 for a scalar (shape []).
  int64_t numel() const;
};

// An open, validated safetensors file; tensors are read on demand through one file stream, so
// an instance is not for concurrent use.
class SafetensorsFile {
 public:
  // Reads and validates the header; throws cuviz::Error naming the file (and the tensor) on a
  // truncated file, a bad header length, malformed JSON, an unknown dtype, a size that does not
  // match dtype * shape, offsets outside the file, overlaps, gaps or trailing bytes.
  explicit SafetensorsFile(const std::string& path);

  // The path the file was opened with.
  const std::string& path() const { return path_; }
  // Tensor names in the header, sorted.
  std::vector<std::string> names() const;
  // Whether the header has a tensor `name`.
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // The header entry of `name`; throws naming the file and the tensor when it is absent.
  const SafetensorsInfo& info(const std::string& name) const;
  // The "__metadata__" map (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // The values of a floating-point tensor (F32, or F16 / BF16 widened exactly to float), in C
  // order; throws naming the tensor for other dtypes.
  std::vector<float> read_floats(const std::string& name) const;
  // read_floats as a CPU tensor of `shape`, after checking that the stored shape is exactly `dims`
  // (the architecture's expectation; prod(dims) == shape.numel()). Throws naming both shapes.
  OwnedTensor read_tensor(const std::string& name, const std::vector<int64_t>& dims, Shape shape) const;

 private:
  std::string path_;
  uint64_t data_start_ = 0;  // 8 + N
  std::map<std::string, SafetensorsInfo> tensors_;
  std::map<std::string, std::string> metadata_;
  std::unique_ptr<std::ifstream> file_;
};

// A tensor to write: its dims (C order), dtype and little-endian data.
struct SafetensorsEntry {
  std::string name;
  std::vector<int64_t> dims;
  const void* data = nullptr;  // prod(dims) elements of `dtype`
  std::string dtype = "F32";
};

// Writes the tensors (data in the order given) and optional metadata as a safetensors file,
// atomically (temporary name + rename). The header is padded with spaces to a multiple of 8 bytes.
void write_safetensors(const std::string& path, const std::vector<SafetensorsEntry>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// "[a, b, c]" for error messages.
std::string dims_string(const std::vector<int64_t>& dims);

}  // namespace cuviz
