// Buffer, Arena and the device-independent tensor utilities.
#include "nn/tensor.h"

#include <cstdlib>
#include <cstring>

#include "nn/cuda_runtime.h"

namespace cuviz {

const char* device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

std::string Shape::str() const { return cat("[", n, ", ", c, ", ", h, ", ", w, "]"); }

Buffer::Buffer(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  if (bytes == 0) return;
  if (device == Device::cpu) {
    data_ = std::aligned_alloc(Arena::kAlign, Arena::round_up(bytes));
    CUVIZ_CHECK(data_ != nullptr, "out of host memory allocating ", bytes, " bytes");
  } else {
    data_ = cuda_rt::malloc(bytes);
  }
}

Buffer::~Buffer() {
  if (!data_) return;
  if (device_ == Device::cpu)
    std::free(data_);
  else
    cuda_rt::free(data_);
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    this->~Buffer();
    data_ = std::exchange(o.data_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
    device_ = o.device_;
  }
  return *this;
}

Tensor Arena::alloc(Shape shape) {
  const size_t need = bytes_for(shape);
  CUVIZ_CHECK(used_ + need <= buffer_.bytes(), "arena: out of space allocating ", shape.str(), " (",
              need, " bytes, ", buffer_.bytes() - used_, " of ", buffer_.bytes(), " left)");
  auto* p = reinterpret_cast<float*>(static_cast<char*>(buffer_.data()) + used_);
  used_ += need;
  return Tensor(p, shape, buffer_.device());
}

bool cuda_available() { return cuda_rt::device_count() > 0; }

void copy(const Tensor& src, const Tensor& dst) {
  CUVIZ_CHECK(src.shape() == dst.shape(), "copy: shape mismatch, source ", src.shape().str(),
              " vs destination ", dst.shape().str());
  const size_t image_bytes = size_t(src.shape().image_size()) * sizeof(float);
  const bool both_cpu = src.device() == Device::cpu && dst.device() == Device::cpu;
  if (src.contiguous() && dst.contiguous()) {
    if (both_cpu)
      std::memmove(dst.data(), src.data(), image_bytes * size_t(src.n()));
    else
      cuda_rt::memcpy(dst.data(), dst.device() == Device::cuda, src.data(),
                      src.device() == Device::cuda, image_bytes * size_t(src.n()));
    return;
  }
  for (int i = 0; i < src.n(); ++i) {
    if (both_cpu)
      std::memmove(dst.image(i), src.image(i), image_bytes);
    else
      cuda_rt::memcpy(dst.image(i), dst.device() == Device::cuda, src.image(i),
                      src.device() == Device::cuda, image_bytes);
  }
}

void fill(const Tensor& t, float v) {
  for (int i = 0; i < t.n(); ++i) {
    if (t.device() == Device::cpu) {
      float* p = t.image(i);
      for (int64_t k = 0; k < t.shape().image_size(); ++k) p[k] = v;
    } else {
      cuda_rt::fill(t.image(i), t.shape().image_size(), v);
    }
  }
}

}  // namespace cuviz
