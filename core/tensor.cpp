// Buffer, Arena and the device-independent tensor utilities.
#include "core/tensor.h"

#include <cstdlib>
#include <cstring>

#include "core/cuda_runtime.h"

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

Buffer Buffer::pinned(size_t bytes) {
  Buffer b;
  b.bytes_ = bytes;
  b.pinned_ = true;
  if (bytes > 0) b.data_ = cuda_rt::host_alloc(bytes);
  return b;
}

Buffer::~Buffer() {
  if (!data_) return;
  if (pinned_)
    cuda_rt::host_free(data_);
  else if (device_ == Device::cpu)
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
    pinned_ = o.pinned_;
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
  if (src.numel() == 0) return;
  const size_t image_bytes = size_t(src.shape().image_size()) * sizeof(float);
  if (src.device() == Device::cpu && dst.device() == Device::cpu) {
    if (src.contiguous() && dst.contiguous()) {
      std::memmove(dst.data(), src.data(), image_bytes * size_t(src.n()));
      return;
    }
    for (int i = 0; i < src.n(); ++i) std::memmove(dst.image(i), src.image(i), image_bytes);
    return;
  }
  // One 2-D copy: rows are images, the pitch is the batch stride (any stride of a single image).
  auto pitch = [&](const Tensor& t) { return t.n() > 1 ? size_t(t.batch_stride()) * sizeof(float) : image_bytes; };
  cuda_rt::memcpy_2d(dst.data(), dst.device() == Device::cuda, pitch(dst), src.data(), src.device() == Device::cuda,
                     pitch(src), image_bytes, size_t(src.n()));
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
