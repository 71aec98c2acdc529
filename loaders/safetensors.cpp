// safetensors reading and writing. The header is parsed with nlohmann-json and checked before any
// data is read: bytes(tensor) = prod(shape) * size(dtype), and the tensors, sorted by offset, must
// tile the data section [0, file size - 8 - N) without overlap, gap or trailing bytes.
// F16 and BF16 are widened to float exactly (every half and bfloat16 value is a float).
#include "loaders/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "io/atomic_file.h"

namespace cuviz {
namespace {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

// The reference implementation's cap: a larger header is a corrupt length field, not a model.
constexpr uint64_t kMaxHeader = 100u << 20;

// Bytes per element of the dtypes the format defines; 0 for an unknown name.
int dtype_size(const std::string& d) {
  static const std::map<std::string, int> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2},  {"U16", 2},
      {"F16", 2},  {"BF16", 2}, {"I32", 4}, {"U32", 4},     {"F32", 4},     {"I64", 8},  {"U64", 8},
      {"F64", 8}};
  auto it = sizes.find(d);
  return it == sizes.end() ? 0 : it->second;
}

// IEEE binary16 -> float: normals rebias the exponent, subnormals are normalised, inf/NaN kept.
float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {
    exp = 113;  // 2^-14 is the subnormal scale; shift the mantissa up to an implicit 1
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --exp;
    }
    bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

float bf16_to_float(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

}  // namespace

std::string dims_string(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

int64_t SafetensorsInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const std::string where = cat("safetensors: ", path);
  file_ = std::make_unique<std::ifstream>(path, std::ios::binary);
  CUVIZ_CHECK(file_->is_open(), where, ": cannot open the file");
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  CUVIZ_CHECK(!ec, where, ": cannot read the file size: ", ec.message());
  CUVIZ_CHECK(size >= 8, where, ": ", size, " bytes is too short for the 8-byte header length (truncated file)");

  unsigned char len_bytes[8];
  file_->read(reinterpret_cast<char*>(len_bytes), 8);
  CUVIZ_CHECK(*file_, where, ": cannot read the header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  CUVIZ_CHECK(n <= size - 8, where, ": header length ", n, " goes beyond the end of the file (", size,
              " bytes): truncated or not a safetensors file");
  CUVIZ_CHECK(n <= kMaxHeader, where, ": header length ", n, " exceeds the 100 MiB limit: not a safetensors file");
  CUVIZ_CHECK(n >= 2, where, ": header length ", n, " cannot hold a JSON object");
  std::string header(n, '\0');
  file_->read(header.data(), std::streamsize(n));
  CUVIZ_CHECK(*file_, where, ": cannot read the ", n, "-byte header");
  data_start_ = 8 + n;
  const uint64_t data_size = size - data_start_;

  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat(where, ": the header is not valid JSON (", e.what(), ")"));
  }
  CUVIZ_CHECK(j.is_object(), where, ": the header is not a JSON object");

  auto as_u64 = [&](const nlohmann::json& v, const std::string& name, const char* field) {
    CUVIZ_CHECK(v.is_number_unsigned(), where, ": tensor '", name, "': ", field, " holds ", v.dump(),
                ", not a non-negative integer");
    return v.get<uint64_t>();
  };
  for (const auto& [name, v] : j.items()) {
    if (name == "__metadata__") {
      CUVIZ_CHECK(v.is_object(), where, ": __metadata__ is not an object of strings");
      for (const auto& [k, s] : v.items()) {
        CUVIZ_CHECK(s.is_string(), where, ": __metadata__ entry '", k, "' is not a string");
        metadata_[k] = s.get<std::string>();
      }
      continue;
    }
    const std::string what = cat(where, ": tensor '", name, "'");
    CUVIZ_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"), what,
                ": expected an object with dtype, shape and data_offsets, got ", v.dump());
    SafetensorsInfo t;
    CUVIZ_CHECK(v["dtype"].is_string(), what, ": dtype ", v["dtype"].dump(), " is not a string");
    t.dtype = v["dtype"].get<std::string>();
    const int esize = dtype_size(t.dtype);
    CUVIZ_CHECK(esize > 0, what, ": unknown dtype '", t.dtype, "'");
    CUVIZ_CHECK(v["shape"].is_array(), what, ": shape ", v["shape"].dump(), " is not an array");
    uint64_t count = 1;
    for (const auto& d : v["shape"]) {
      const uint64_t dim = as_u64(d, name, "shape");
      CUVIZ_CHECK(dim == 0 || count <= std::numeric_limits<int64_t>::max() / 8 / dim, what, ": shape ",
                  v["shape"].dump(), " overflows");
      count *= dim;
      t.shape.push_back(int64_t(dim));
    }
    const auto& off = v["data_offsets"];
    CUVIZ_CHECK(off.is_array() && off.size() == 2, what, ": data_offsets ", off.dump(), " is not [begin, end]");
    t.begin = as_u64(off[0], name, "data_offsets");
    t.end = as_u64(off[1], name, "data_offsets");
    CUVIZ_CHECK(t.begin <= t.end, what, ": data_offsets [", t.begin, ", ", t.end, "] end before they begin");
    CUVIZ_CHECK(t.end <= data_size, what, ": data_offsets [", t.begin, ", ", t.end,
                "] reach beyond the data section (", data_size, " bytes after the header): truncated file?");
    CUVIZ_CHECK(t.end - t.begin == count * uint64_t(esize), what, ": ", t.dtype, " ", dims_string(t.shape),
                " needs ", count * uint64_t(esize), " bytes, but data_offsets [", t.begin, ", ", t.end, "] hold ",
                t.end - t.begin);
    tensors_.emplace(name, std::move(t));
  }

  // Sorted by offset, each tensor must start where the previous one ended.
  std::vector<std::pair<uint64_t, const std::string*>> order;
  for (const auto& [name, t] : tensors_) order.emplace_back(t.begin, &name);
  std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : tensors_.at(*a.second).end < tensors_.at(*b.second).end;
  });
  uint64_t at = 0;
  const std::string* prev = nullptr;
  for (const auto& [begin, name] : order) {
    const SafetensorsInfo& t = tensors_.at(*name);
    CUVIZ_CHECK(begin >= at, where, ": tensor '", *name, "' [", t.begin, ", ", t.end, ") overlaps tensor '",
                prev ? *prev : "", "', which ends at ", at);
    CUVIZ_CHECK(begin == at, where, ": bytes [", at, ", ", begin, ") before tensor '", *name,
                "' belong to no tensor");
    at = t.end;
    prev = name;
  }
  CUVIZ_CHECK(at == data_size, where, ": ", data_size - at, " bytes after the last tensor (at ", at,
              ") belong to no tensor");
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : tensors_) out.push_back(name);
  return out;
}

const SafetensorsInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = tensors_.find(name);
  CUVIZ_CHECK(it != tensors_.end(), "safetensors: ", path_, ": no tensor named '", name, "' (the file holds ",
              tensors_.size(), " tensors)");
  return it->second;
}

std::vector<float> SafetensorsFile::read_floats(const std::string& name) const {
  const SafetensorsInfo& t = info(name);
  const std::string what = cat("safetensors: ", path_, ": tensor '", name, "'");
  CUVIZ_CHECK(t.dtype == "F32" || t.dtype == "F16" || t.dtype == "BF16", what, " has dtype ", t.dtype,
              "; weights must be F32, F16 or BF16");
  std::string raw(t.end - t.begin, '\0');
  file_->clear();
  file_->seekg(std::streamoff(data_start_ + t.begin));
  file_->read(raw.data(), std::streamsize(raw.size()));
  CUVIZ_CHECK(*file_, what, ": reading ", raw.size(), " bytes failed");
  std::vector<float> out(size_t(t.numel()));
  if (t.dtype == "F32") {
    if (!raw.empty()) std::memcpy(out.data(), raw.data(), raw.size());  // a zero-element tensor has no buffer
  } else {
    const bool half = t.dtype == "F16";
    for (size_t i = 0; i < out.size(); ++i) {
      uint16_t b;
      std::memcpy(&b, raw.data() + 2 * i, 2);
      out[i] = half ? half_to_float(b) : bf16_to_float(b);
    }
  }
  return out;
}

OwnedTensor SafetensorsFile::read_tensor(const std::string& name, const std::vector<int64_t>& dims,
                                         Shape shape) const {
  const SafetensorsInfo& t = info(name);
  CUVIZ_CHECK(t.shape == dims, "safetensors: ", path_, ": tensor '", name, "' has shape ", dims_string(t.shape),
              ", the architecture expects ", dims_string(dims));
  CUVIZ_CHECK(shape.numel() == t.numel(), "safetensors: ", path_, ": tensor '", name, "' ", dims_string(dims),
              " cannot be viewed as ", shape.str());
  const std::vector<float> v = read_floats(name);
  for (size_t k = 0; k < v.size(); ++k)
    CUVIZ_CHECK(std::isfinite(v[k]), "safetensors: ", path_, ": tensor '", name, "' element ", k, " is ", v[k],
                " (weights must be finite numbers)");
  OwnedTensor out(shape);
  if (!v.empty()) std::memcpy(out.data(), v.data(), v.size() * sizeof(float));
  return out;
}

void write_safetensors(const std::string& path, const std::vector<SafetensorsEntry>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    CUVIZ_CHECK(t.name != "__metadata__" && !header.contains(t.name), "safetensors: ", path,
                ": duplicate or reserved tensor name '", t.name, "'");
    const int esize = dtype_size(t.dtype);
    CUVIZ_CHECK(esize > 0, "safetensors: ", path, ": tensor '", t.name, "' has unknown dtype '", t.dtype, "'");
    int64_t n = 1;
    for (int64_t d : t.dims) n *= d;
    CUVIZ_CHECK(n >= 0 && (n == 0 || t.data != nullptr), "safetensors: ", path, ": tensor '", t.name,
                "' has no data for ", dims_string(t.dims));
    const uint64_t bytes = uint64_t(n) * uint64_t(esize);
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.dims}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  std::string bytes(8 + h.size() + offset, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = char((uint64_t(h.size()) >> (8 * i)) & 0xff);
  std::memcpy(bytes.data() + 8, h.data(), h.size());
  char* data = bytes.data() + 8 + h.size();
  for (const auto& t : tensors) {
    const uint64_t begin = header[t.name]["data_offsets"][0].get<uint64_t>();
    const uint64_t end = header[t.name]["data_offsets"][1].get<uint64_t>();
    if (end > begin) std::memcpy(data + begin, t.data, end - begin);
  }
  write_file_atomic(path, bytes);
}

}  // namespace cuviz
