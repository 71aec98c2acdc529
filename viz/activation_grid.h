// The activation grid (Olah et al. 2018, "The Building Blocks of Interpretability"; Lucid's
// render_activation_grid_very_naive): the activation vector a_p of a layer at every spatial
// position p of a photo, each rendered by activation maximization with the objective
// direction_cossim(L, a_p) (the mean cosine between the layer's activations and a_p:
// what the network sees there, independent of how strongly) and laid out on the layer's grid, so
// the picture lines up with the photo. The cells are rendered in batches of one Renderer, restarted
// per batch as a sweep's channels are (viz/sweep.h); a position whose activations are all zero
// has no direction and stays grey. Lucid's shared parameterization of neighbouring cells is not
// built.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/image.h"
#include "nn/network.h"
#include "viz/factorize.h"
#include "viz/settings.h"

namespace cuviz {

// `cuviz grid`: the layer and how each cell is rendered (OptimSettings: size is the cell's side).
struct GridSettings : OptimSettings {
  std::string layer = "inception_4d/output";
  std::string objective = "direction_cossim";
  int batch = 0;  // cells per batch; 0: all (CPU: 16)

  GridSettings() {
    size = 64;     // a cell: small, as Lucid's 60-80 px cells
    steps = 256;
  }

  template <class S, class V>
  static void fields(S& s, V&& v) {
    v(Field{.key = "layer", .flag = "--layer", .help = "Layer (blob) whose activation vectors are rendered",
            .value = s.layer});
    v(Field{.key = "objective", .flag = "--objective",
            .help = "Each cell's objective: direction_cossim (cosine with the position's activations) or direction",
            .value = s.objective, .check = OneOf{{"direction_cossim", "direction"}}});
    v(Field{.key = "batch", .flag = "--batch", .help = "Cells rendered together (0: all on a GPU, 16 on the CPU)",
            .value = s.batch, .check = Range{0, 4096}});
    OptimSettings::fields(s, v);
  }
};

struct GridProgress {
  int done = 0, total = 0;  // cells finished, of
  int batch_step = 0, batch_steps = 0, batch_size = 0;
  double seconds = 0;
};

struct GridResult {
  int height = 0, width = 0;       // the layer's positions
  Image grid;                      // (height * size) x (width * size)
  std::vector<double> objective;   // per position (row-major), 0 for an empty one
  std::vector<bool> empty;         // positions with all-zero activations (grey cells)
  double seconds = 0;
};

// Renders every position of the activations x (positions x channels of a height x width layer).
// Throws one clear error when the layer has no spatial extent (1 x 1).
GridResult render_activation_grid(const Network& net, const Matrix& x, int height, int width, const GridSettings& s,
                                  const std::function<void(const GridProgress&)>& progress = {});

// Writes photo.png, grid.png, grid.json (`info` plus the cells' objectives) and index.html (the
// photo and the grid side by side at the same displayed size) into `dir`.
void write_grid_page(const std::string& dir, const Image& photo, const GridResult& g, const nlohmann::json& info);

}  // namespace cuviz
