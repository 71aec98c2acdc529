// LRP relevance maps per second (viz/lrp.h Lrp: one plan, one rule set, reused), on GoogLeNet
// (ONNX) at 224 px, for each composite; and, with --figure, the heat-map panel of
// docs/attribution.md ("Layer-wise relevance propagation") (the photo, then each composite's map summed over colour, blue-white-red
// for negative-zero-positive, symmetric scale at the 99.5th percentile of |R|).
//   maps/s = batch / seconds of one Lrp::relevance call (forward + relevance backward + copies),
//   best and median over --repeats calls after one warm-up call, and the median process CPU time
//   per map (the work itself, whatever the machine's load). Threads: OMP_NUM_THREADS.
//   lrp_bench [--composite NAME|all] [--device cpu|cuda] [--batch B] [--size 224] [--repeats R]
//             [--onnx PATH] [--image PATH] [--target N]
//   lrp_bench --figure OUT.png [--image PATH] [--target N|top] [--onnx PATH]
// The input is --image (default ../shared/images/astronaut.png) as `cuviz classify` preprocesses it.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "io/image.h"
#include "loaders/onnx_loader.h"
#include "viz/image_source.h"
#include "viz/lrp.h"

namespace cuviz {
namespace {

using Clock = std::chrono::steady_clock;

const std::string kShared = CUVIZ_SHARED_DIR;

// Blue (negative) - white (0) - red (positive), v in [-1, 1]: zennit's 'bwr'.
// Quantised to 16 levels per sign, which the eye does not miss and PNG compresses 3x better.
void bwr(float v, uint8_t rgb[3]) {
  v = std::round(std::clamp(v, -1.f, 1.f) * 16.f) / 16.f;
  const float r = v < 0 ? 1 + v : 1.f, g = 1 - std::abs(v), b = v > 0 ? 1 - v : 1.f;
  rgb[0] = uint8_t(std::lround(255 * r));
  rgb[1] = uint8_t(std::lround(255 * g));
  rgb[2] = uint8_t(std::lround(255 * b));
}

// The photo (from the network input: undo the preprocessing) and one heat map per composite, side by side.
int figure(const Network& net, const OwnedTensor& x, int target, const std::string& out) {
  const std::vector<std::string> names = {"epsilon_gamma_box", "epsilon_plus", "epsilon_plus_flat",
                                          "epsilon_alpha2_beta1", "epsilon_alpha2_beta1_flat"};
  const int s = x.h(), gap = 4;
  Image img;
  img.width = int(names.size() + 1) * (s + gap) - gap;
  img.height = s;
  img.pixels.assign(size_t(img.width) * img.height * 3, 255);
  const ModelMeta& m = net.graph().meta;
  for (int y = 0; y < s; ++y)
    for (int xx = 0; xx < s; ++xx)
      for (int c = 0; c < 3; ++c) {
        const int nc = m.bgr ? 2 - c : c;  // network channel of RGB channel c
        const float v = (x.at(0, nc, y, xx) * m.std[nc] + m.mean[nc]) / m.value_scale;
        img.at(xx, y, c) = uint8_t(std::lround(255 * std::clamp(v, 0.f, 1.f)));
      }
  for (size_t k = 0; k < names.size(); ++k) {
    LrpOptions opt;
    opt.composite = names[k];
    Lrp l(net, x.shape(), opt);
    const OwnedTensor r = l.relevance(x, {target});
    std::vector<float> heat(size_t(s) * s, 0.f);
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < s * s; ++i) heat[i] += r.data()[size_t(c) * s * s + i];
    // Colour scale: the 99.5th percentile of |R| (a few pixels hold most of the relevance; the
    // maximum would leave the rest white), symmetric about 0, clipped beyond.
    std::vector<float> mag(heat.size());
    for (size_t i = 0; i < heat.size(); ++i) mag[i] = std::abs(heat[i]);
    std::nth_element(mag.begin(), mag.begin() + mag.size() * 995 / 1000, mag.end());
    const float mx = mag[mag.size() * 995 / 1000];
    const int x0 = int(k + 1) * (s + gap);
    for (int y = 0; y < s; ++y)
      for (int xx = 0; xx < s; ++xx) bwr(mx > 0 ? heat[size_t(y) * s + xx] / mx : 0.f, &img.at(x0 + xx, y, 0));
    std::printf("%s: target %d, logit %.3f, relevance sum %.3f\n", names[k].c_str(), target, l.scores()[0],
                [&] { double t = 0; for (float v : heat) t += v; return t; }());
  }
  write_png(out, img);
  std::printf("wrote %s (%d x %d): photo, then %zu composites\n", out.c_str(), img.width, img.height, names.size());
  return 0;
}

int run(int argc, char** argv) {
  std::string composite = "all", device = "cpu", onnx = kShared + "/weights/bvlc_googlenet/bvlc_googlenet.onnx";
  std::string image = kShared + "/images/astronaut.png", fig, target_arg = "top";
  int batch = 1, size = 224, repeats = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "lrp_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--composite") composite = next();
    else if (a == "--device") device = next();
    else if (a == "--batch") batch = std::stoi(next());
    else if (a == "--size") size = std::stoi(next());
    else if (a == "--repeats") repeats = std::stoi(next());
    else if (a == "--onnx") onnx = next();
    else if (a == "--image") image = next();
    else if (a == "--target") target_arg = next();
    else if (a == "--figure") fig = next();
    else {
      std::fprintf(stderr, "lrp_bench: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  const Network net(load_onnx(onnx), device == "cuda" ? Device::cuda : Device::cpu);
  const OwnedTensor one = load_network_input(image, net.graph().meta, 1, size);
  int target = 0;
  if (target_arg == "top") {
    // The class with the largest logit: one forward.
    const std::string out = lrp_output_blob(net.graph());
    Plan p = net.plan(one.shape(), {out});
    net.forward(p, one);
    OwnedTensor logits(net.activation(p, out).shape());
    net.read_activation(p, out, logits);
    target = int(std::max_element(logits.data(), logits.data() + logits.numel()) - logits.data());
  } else {
    target = std::stoi(target_arg);
  }
  if (!fig.empty()) return figure(net, one, target, fig);

  OwnedTensor x(Shape{batch, 3, size, size});
  for (int b = 0; b < batch; ++b) copy(one, x.batch(b, 1));
  const std::vector<std::string> names = composite == "all" ? lrp_composites() : std::vector<std::string>{composite};
  std::printf("# lrp_bench: GoogLeNet %d px, batch %d, %s, %d OpenMP threads, target %d, %d timed calls\n", size,
              batch, device.c_str(), omp_get_max_threads(), target, repeats);
  for (const std::string& name : names) {
    LrpOptions opt;
    opt.composite = name;
    Lrp l(net, x.shape(), opt);
    l.relevance(x, {target});  // warm-up: scratch buffers, caches
    std::vector<double> t, cpu;
    for (int r = 0; r < repeats; ++r) {
      const auto t0 = Clock::now();
      const std::clock_t c0 = std::clock();
      l.relevance(x, {target});
      cpu.push_back(double(std::clock() - c0) / CLOCKS_PER_SEC);
      t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    std::sort(cpu.begin(), cpu.end());
    const double best = t.front(), median = t[t.size() / 2];
    std::printf("%-26s best %7.3f s  median %7.3f s  maps/s best %7.3f  median %7.3f  cpu s/map median %7.3f\n",
                name.c_str(), best, median, batch / best, batch / median, cpu[cpu.size() / 2] / batch);
  }
  return 0;
}

}  // namespace
}  // namespace cuviz

int main(int argc, char** argv) {
  try {
    return cuviz::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lrp_bench: error: %s\n", e.what());
    return 1;
  }
}
