// The Python module `cuviz._cuviz` (pybind11): the cuviz libraries seen from NumPy. The pure-Python
// package python/cuviz/__init__.py re-exports it and adds the methods that run a CLI command
// in-process (docs/python.md).
//
// What crosses the boundary, and how:
//   arrays in   any NumPy array convertible to float32 (other dtypes and non-contiguous arrays are
//               converted, one copy; a C-contiguous float32 array is read in place);
//   arrays out  the result tensor's own buffer, handed to NumPy with a capsule that owns it (no
//               copy): forward gives (N, C, H, W); render gives the (N, 3, H, W) images viewed
//               with strides as (N, H, W, 3), so still no copy;
//   the GIL     released for every computation (loading, forward, render, a CLI command), so
//               other Python threads run meanwhile;
//   errors      cuviz::Error -> cuviz.Error, a usage error (a bad keyword value, options that do
//               not go together) -> cuviz.UsageError (a subclass), with the message the CLI
//               prints after "cuviz: error: " (apps/common.h one_line), without that prefix.
//
// Settings: the keyword arguments of render() are the JSON keys of RenderSettings' fields
// (viz/settings.h), set on a RenderSettings whose member initialisers are the defaults and
// checked by check_settings: the same struct, defaults and checks as `cuviz render`.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <cmath>
#include <memory>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "apps/cli_meta.h"
#include "apps/common.h"
#include "apps/progress.h"
#include "core/cuda_runtime.h"
#include "core/error.h"
#include "core/exec_context.h"
#include "core/interrupt.h"
#include "core/tensor.h"
#include "io/image.h"
#include "io/labels.h"
#include "loaders/model.h"
#include "loaders/preprocess.h"
#include "nn/network.h"
#include "viz/render.h"
#include "viz/settings.h"

namespace py = pybind11;

namespace cuviz::python {

namespace {

// ---- arrays -----------------------------------------------------------------------------------

// A float32 array over a CPU tensor's buffer, which the returned array owns (through a capsule).
// `shape` and `strides` (in elements) describe the view NumPy gets of the tensor's data.
py::array_t<float> adopt(OwnedTensor t, std::vector<py::ssize_t> shape, std::vector<py::ssize_t> strides) {
  auto* owner = new OwnedTensor(std::move(t));
  py::capsule free_owner(owner, [](void* p) { delete static_cast<OwnedTensor*>(p); });
  for (auto& s : strides) s *= py::ssize_t(sizeof(float));
  return py::array_t<float>(shape, strides, owner->data(), free_owner);
}

// (N, C, H, W), C-contiguous.
py::array_t<float> adopt_nchw(OwnedTensor t) {
  const Shape s = t.shape();
  return adopt(std::move(t), {s.n, s.c, s.h, s.w},
               {py::ssize_t(s.image_size()), py::ssize_t(s.h) * s.w, s.w, 1});
}

// The (N, 3, H, W) images of a render as (N, H, W, 3) (or (H, W, 3) for one image): a strided view.
py::array_t<float> adopt_nhwc(OwnedTensor t, bool squeeze) {
  const Shape s = t.shape();
  const py::ssize_t plane = py::ssize_t(s.h) * s.w;
  if (squeeze && s.n == 1) return adopt(std::move(t), {s.h, s.w, s.c}, {s.w, 1, plane});
  return adopt(std::move(t), {s.n, s.h, s.w, s.c}, {py::ssize_t(s.image_size()), s.w, 1, plane});
}

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

// Any array-like as C-contiguous float32 (a copy only when it is not one already); a TypeError
// naming `what` when NumPy cannot convert it to numbers.
FloatArray as_float32(const py::handle& x, const char* what) {
  try {
    return FloatArray::ensure(x).cast<FloatArray>();
  } catch (const py::error_already_set&) {
  } catch (const py::cast_error&) {
  }
  PyErr_Clear();
  throw py::type_error(cat(what, ": expected an array of numbers convertible to float32, got ",
                           std::string(py::str(py::type::of(x).attr("__name__")))));
}

// An image given from Python: a path (PNG or JPEG, read as the CLI reads it) or an (H, W, 3)
// array: uint8 as is, floating point in [0, 1] scaled by 255 and rounded (values outside clipped).
Image image_arg(const py::handle& image) {
  if (py::isinstance<py::str>(image) || py::hasattr(image, "__fspath__")) {
    const std::string path = py::str(py::module_::import("os").attr("fspath")(image));
    py::gil_scoped_release nogil;
    return read_image(path);
  }
  const py::array a = py::array::ensure(image);
  if (!a) throw py::type_error("image: expected a path or an (H, W, 3) array");
  if (a.ndim() != 3 || a.shape(2) != 3)
    throw py::value_error(cat("image: expected an (H, W, 3) RGB array, got shape ",
                              std::string(py::str(py::tuple(py::cast(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim())))))));
  Image img;
  img.height = int(a.shape(0));
  img.width = int(a.shape(1));
  img.channels = 3;
  img.pixels.resize(size_t(img.width) * img.height * 3);
  if (a.dtype().is(py::dtype::of<uint8_t>())) {
    const auto u = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(a);
    std::copy(u.data(), u.data() + u.size(), img.pixels.begin());
  } else {
    const FloatArray f = as_float32(a, "image");
    for (size_t i = 0; i < img.pixels.size(); ++i)
      img.pixels[i] = uint8_t(std::lround(std::clamp(double(f.data()[i]), 0.0, 1.0) * 255.0));
  }
  return img;
}

// A usage error unless `value` is one of `choices` (the CLI's IsMember check of that option).
void usage_check_choice(const char* what, const std::string& value, const std::vector<std::string>& choices) {
  std::string list;
  for (const auto& c : choices) {
    if (c == value) return;
    list += (list.empty() ? "" : ", ") + c;
  }
  throw app::UsageError(cat(what, ": '", value, "' is not one of ", list));
}

// ---- the model ----------------------------------------------------------------------------------

// A loaded model: the network on its device, and how it was named (for the CLI-run methods,
// which load it again by the same name, format and directories).
struct Model {
  app::ModelOptions options;
  std::string device_request;  // "auto", "cpu" or "cuda", as given
  std::unique_ptr<Network> net;

  const Graph& graph() const { return net->graph(); }
  int channels() const { return graph().input_shape.c > 0 ? graph().input_shape.c : 3; }
  int input_size() const { return graph().meta.input_size; }
};

std::shared_ptr<Model> load(const std::string& name, const std::string& device, const std::string& format,
                            const std::vector<std::string>& model_dirs, const std::string& backend) {
  auto m = std::make_shared<Model>();
  m->options = app::ModelOptions{name, format, model_dirs};
  m->device_request = device;
  usage_check_choice("device", device, {"auto", "cpu", "cuda"});
  usage_check_choice("format", format, {"auto", "caffe", "onnx", "safetensors"});
  usage_check_choice("backend", backend, {"native", "cudnn"});
  py::gil_scoped_release nogil;
  m->net = std::make_unique<Network>(app::make_network(app::load_model(m->options), device, backend));
  return m;
}

// Name, type, output shape, parameters and MACs of every layer at `size` (the model's by default).
std::vector<LayerInfo> describe(const Model& m, int size) {
  const int s = size > 0 ? size : m.input_size();
  CUVIZ_CHECK(s > 0, "info: model ", m.graph().name, " declares no input size; pass size=N");
  const Plan plan = m.net->plan(Shape{1, m.channels(), s, s});
  return m.net->describe(plan);
}

py::tuple shape_tuple(const Shape& s) { return py::make_tuple(s.n, s.c, s.h, s.w); }

py::dict info(const Model& m, int size) {
  const auto rows = describe(m, size);
  py::list layers;
  int64_t params = 0, macs = 0;
  for (const auto& r : rows) {
    py::dict d;
    d["name"] = r.name;
    d["type"] = r.type;
    d["output"] = shape_tuple(r.output);
    d["params"] = r.params;
    d["macs"] = r.macs;
    layers.append(d);
    params += r.params;
    macs += r.macs;
  }
  py::dict d;
  d["name"] = m.graph().name;
  d["model"] = m.options.model;
  const int s = size > 0 ? size : m.input_size();
  d["input"] = py::make_tuple(1, m.channels(), s, s);
  d["device"] = device_name(m.net->device());
  d["layers"] = layers;
  d["params"] = params;
  d["macs"] = macs;
  return d;
}

py::array_t<float> forward(const Model& m, const py::handle& x_in, const std::string& layer) {
  const FloatArray x = as_float32(x_in, "forward");
  if (x.ndim() != 4)
    throw py::value_error(cat("forward: expected an (N, C, H, W) array, got ", x.ndim(), " dimensions"));
  const Shape shape{int(x.shape(0)), int(x.shape(1)), int(x.shape(2)), int(x.shape(3))};
  // The CLI's message for an input the model cannot take (apps/forward.cpp).
  CUVIZ_CHECK(shape.c == m.channels() && shape.h > 0 && shape.w > 0 && shape.n > 0, "forward: input has shape ",
              shape.str(), "; model ", m.graph().name, " takes ", m.channels(), " channels (N, C, H, W)");
  OwnedTensor host;
  {
    py::gil_scoped_release nogil;
    const Tensor xt(const_cast<float*>(x.data()), shape);
    Plan plan = m.net->plan(shape, {layer});
    m.net->forward(plan, xt);
    host = OwnedTensor(m.net->activation(plan, layer).shape());
    m.net->read_activation(plan, layer, host);
  }
  return adopt_nchw(std::move(host));
}

// `cuviz classify`'s answer for one image: the top classes as (label, probability), the
// probabilities p_k = exp(z_k - max z) / sum_j exp(z_j - max z) of the last layer (or the layer
// itself when it is a softmax), in double, as apps/classify.cpp computes them.
std::vector<std::pair<std::string, double>> classify(const Model& m, const py::handle& image, int top,
                                                     const std::string& labels_file) {
  app::usage_check(top > 0, "classify: top must be positive, got ", top);
  const Image img = image_arg(image);
  py::gil_scoped_release nogil;
  const Graph& g = m.graph();
  CUVIZ_CHECK(!g.layers.empty(), "classify: model ", g.name, " has no layers");
  const std::string labels_path = labels_file.empty() ? g.meta.labels : labels_file;
  const std::vector<Label> labels = labels_path.empty() ? std::vector<Label>{} : read_labels(labels_path);
  const OwnedTensor x = preprocess(img, g.meta);
  const std::string last_output = g.layers.back().output;
  Plan plan = m.net->plan(x.shape(), {last_output});
  const Tensor out = m.net->activation(plan, last_output);
  CUVIZ_CHECK(out.h() == 1 && out.w() == 1, "classify: the last layer ", g.layers.back().name, " gives ",
              out.shape().str(), ", not one score per class");
  CUVIZ_CHECK(labels.empty() || int(labels.size()) == out.c(), "classify: ", labels_path, " has ", labels.size(),
              " labels but the model has ", out.c(), " classes");
  m.net->forward(plan, x);
  OwnedTensor scores(out.shape());
  m.net->read_activation(plan, last_output, scores);
  const float* z = scores.image(0);
  std::vector<double> p(size_t(out.c()));
  if (g.layers.back().kind == LayerKind::softmax) {
    p.assign(z, z + out.c());
  } else {
    const double zmax = *std::max_element(z, z + out.c());
    double sum = 0;
    for (int j = 0; j < out.c(); ++j) sum += p[size_t(j)] = std::exp(double(z[j]) - zmax);
    for (double& v : p) v /= sum;
  }
  std::vector<int> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  const int k = std::min(top, out.c());
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
    return p[size_t(a)] > p[size_t(b)] || (p[size_t(a)] == p[size_t(b)] && a < b);
  });
  std::vector<std::pair<std::string, double>> result;
  for (int r = 0; r < k; ++r) {
    const int c = order[size_t(r)];
    result.emplace_back(labels.empty() ? std::to_string(c) : labels[size_t(c)].short_name(), p[size_t(c)]);
  }
  return result;
}

// ---- settings from keyword arguments ----------------------------------------------------------

// Sets the fields of `s` named by the keys of `kwargs` (the JSON keys of viz/settings.h); a key
// that is no field is a TypeError listing the accepted ones; the values are then checked as the
// CLI and the manifests check them (a UsageError naming the key).
// `exclude`: keys given otherwise (render's positional objective is the field "objectives").
template <class S>
void apply_settings(S& s, const py::dict& kwargs, const std::vector<std::string>& exclude = {}) {
  std::vector<std::string> known;
  S::fields(s, [&](auto&& f) {
    if (std::find(exclude.begin(), exclude.end(), f.key) == exclude.end()) known.push_back(f.key);
  });
  for (const auto& item : kwargs) {
    const std::string key = py::str(item.first);
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw py::type_error(cat("unexpected keyword argument '", key, "' (settings: ", list, ")"));
    }
  }
  S::fields(s, [&](auto&& f) {
    if (!kwargs.contains(f.key)) return;
    using T = std::remove_cvref_t<decltype(f.value)>;
    const py::handle v = kwargs[f.key];
    try {
      if constexpr (std::is_same_v<T, std::vector<std::string>>) {
        if (py::isinstance<py::str>(v))
          f.value = {v.cast<std::string>()};
        else
          f.value = v.cast<T>();
      } else if constexpr (std::is_integral_v<T>) {
        if (py::isinstance<py::float_>(v) || py::isinstance<py::bool_>(v)) throw py::cast_error();
        f.value = v.cast<T>();
      } else {
        f.value = v.cast<T>();
      }
    } catch (const py::cast_error&) {
      throw py::type_error(cat(f.key, ": expected ", std::is_same_v<T, std::string> ? "str"
                                                     : std::is_integral_v<T>           ? "int"
                                                     : std::is_floating_point_v<T>     ? "float"
                                                                                       : "a list of str",
                               ", got ", std::string(py::str(py::type::of(v).attr("__name__")))));
    }
  });
  try {
    check_settings(s);
  } catch (const Error& e) {
    throw app::UsageError(e.what());
  }
}

// The defaults of a settings struct as a dict (its JSON), for the stubs' test and for users.
template <class S>
py::object defaults_of() {
  return py::module_::import("json").attr("loads")(settings_to_json(S{}).dump());
}

// `cuviz render`'s images for `objective` (one expression, or one per image of the batch) as
// float32 in [0, 1]: (H, W, 3) for one image, (N, H, W, 3) for a batch. The same steps as
// apps/render.cpp, so that a seed gives the CLI's --npy exactly.
py::array_t<float> render_images(const Model& m, const py::object& objective, bool quiet, const py::kwargs& kwargs) {
  RenderSettings rs;
  apply_settings(rs, kwargs, {"objectives"});
  apply_settings(rs, py::dict(py::arg("objectives") = objective));
  app::usage_check(rs.objectives.size() == 1 || int(rs.objectives.size()) == rs.batch, "render: ", rs.objectives.size(),
              " objectives for batch ", rs.batch, " (give one for all images or one per image)");
  try {  // an .npy start with a param that cannot hold it: options that do not go together
    check_source_param(ImageSource::parse(rs.start), parse_param_kind(rs.param.c_str()));
  } catch (const Error& e) {
    throw app::UsageError(e.what());
  }
  std::vector<Objective> objectives;
  for (const auto& text : rs.objectives) objectives.push_back(parse_objective(text));
  RenderResult r;
  {
    py::gil_scoped_release nogil;
    app::check_precision_backend(rs.precision, backend_name(m.net->backend()));
    RenderOptions ro = render_options(rs, m.net->device());
    ro.progress_every = 16;
    app::print_device_notice();
    app::ProgressBar bar(quiet);
    r = cuviz::render(*m.net, objectives, ro, [&](const RenderProgress& p) {
      double mean = 0;
      for (double v : p.objective) mean += v;
      mean /= double(std::max<size_t>(p.objective.size(), 1));
      bar.update(p.steps ? double(p.step) / p.steps : 1.0, cat(p.step, "/", p.steps, " steps  objective ", mean),
                 p.step == p.steps);
    });
  }
  return adopt_nhwc(std::move(r.images), rs.batch == 1);
}

// ---- the command line, in-process -------------------------------------------------------------

// Runs `cuviz ARGS...` in this process (GIL released): the commands of apps/*.cpp parse and run
// exactly as from the shell. The list is apps/main.cpp's (python/tests checks that every command
// `cuviz --help` lists is here). A parse error or UsageError is raised as cuviz.UsageError, any other
// failure as cuviz.Error, with the CLI's message.
void run_cli(const std::vector<std::string>& args) {
  py::gil_scoped_release nogil;
  CLI::App app{"cuviz: feature visualization for convolutional networks", "cuviz"};
  app.require_subcommand(1, 1);
  using namespace app;
  const std::vector<Command> commands = {
      add_info_command(app),       add_classify_command(app),  add_forward_command(app),
      add_sweep_command(app),      add_render_command(app),    add_classviz_command(app),
      add_fool_command(app),       add_dream_command(app),     add_invert_command(app),
      add_trace_command(app),      add_groups_command(app),    add_grid_command(app),
      add_facets_command(app),     add_style_command(app),     add_attribute_command(app),
      add_gallery_command(app),    add_completion_command(app), add_help_markdown_command(app)};
  (void)add_examples(app);  // each --help ends with its examples, as the binary's
  std::vector<std::string> argv = args;
  std::reverse(argv.begin(), argv.end());  // CLI11 takes a vector in reverse order
  try {
    app.parse(argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help: printed on stdout, as by the CLI
      app.exit(e);
      std::fflush(stdout);
      std::cout.flush();
      return;
    }
    throw UsageError(e.what());
  }
  try {
    for (const auto& c : commands)
      if (c.parser->parsed()) return c.run();
  } catch (const ProfileFinished&) {
    // --profile ran its steps and printed its table; the command writes nothing (apps/profile.h).
  }
}

}  // namespace

}  // namespace cuviz::python

PYBIND11_MODULE(_cuviz, m) {
  using namespace cuviz;
  using namespace cuviz::python;
  m.doc() = "cuviz: feature visualization for convolutional networks (the C++ core; see the cuviz package)";

  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  static py::exception<app::UsageError> usage_error(m, "UsageError", error.ptr());
  // Most derived first: the message on one line, as the CLI prints it after "cuviz: error: ".
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Interrupted& e) {
      // A signal inside a loop that polls for one (core/interrupt.h): Python's own Ctrl-C.
      PyErr_SetString(PyExc_KeyboardInterrupt, app::one_line(cat("interrupted by ", signal_name(e.signal()), ": ",
                                                                 e.detail())).c_str());
    } catch (const app::UsageError& e) {
      usage_error(app::one_line(e.what()).c_str());
    } catch (const Error& e) {
      error(app::one_line(e.what()).c_str());
    }
  });

  py::class_<Model, std::shared_ptr<Model>>(m, "Model", "A model loaded by cuviz.load: the network on its device")
      .def("info", &info, py::arg("size") = 0,
           "The layer table (as `cuviz info`): name, input, device, and per layer its type, output shape, "
           "parameters and multiply-accumulates per image; totals")
      .def_property_readonly(
          "layers",
          [](const Model& m) {
            std::vector<std::pair<std::string, py::tuple>> out;
            for (const auto& r : describe(m, 0)) out.emplace_back(r.name, shape_tuple(r.output));
            return out;
          },
          "(name, output shape) of every layer at the model's input size")
      .def_property_readonly("name", [](const Model& m) { return m.graph().name; })
      .def_property_readonly("model", [](const Model& m) { return m.options.model; }, "The name or path given to load")
      .def_property_readonly("format", [](const Model& m) { return m.options.format; })
      .def_property_readonly("model_dirs", [](const Model& m) { return m.options.dirs; })
      .def_property_readonly("device", [](const Model& m) { return std::string(device_name(m.net->device())); },
                             "Where it runs: cpu or cuda")
      .def_property_readonly("device_request", [](const Model& m) { return m.device_request; })
      .def_property_readonly("backend", [](const Model& m) { return std::string(backend_name(m.net->backend())); })
      .def_property_readonly("input_size", &Model::input_size)
      .def("forward", &forward, py::arg("x"), py::arg("layer"),
           "Runs the network on x (N, C, H, W), already preprocessed, up to `layer` and returns its activation "
           "(N, C, H, W) float32")
      .def("classify", &classify, py::arg("image"), py::arg("top") = 5, py::arg("labels") = "",
           "Top classes of an image (path, or (H, W, 3) uint8 / float in [0, 1]) as [(label, probability)]");

  m.def("load", &load, py::arg("model"), py::arg("device") = "auto", py::arg("format") = "auto",
        py::arg("model_dirs") = std::vector<std::string>{}, py::arg("backend") = "native",
        "Loads a model by name (googlenet, squeezenet, vgg16, vgg19) or path, as the CLI's MODEL argument");
  m.def("render", &render_images, py::arg("model"), py::arg("objective"), py::kw_only(), py::arg("quiet") = false,
        "Activation maximization (cuviz render); keyword settings as render_defaults()");
  m.def("render_defaults", &defaults_of<RenderSettings>, "The settings of render() and their defaults");
  m.def("run_cli", &run_cli, py::arg("args"), "Runs a cuviz command in this process: run_cli(['info', 'googlenet'])");
  m.def("read_image", [](const std::string& path) {
    Image img;
    {
      py::gil_scoped_release nogil;
      img = read_image(path);
    }
    py::array_t<uint8_t> a({img.height, img.width, 3});
    std::copy(img.pixels.begin(), img.pixels.end(), a.mutable_data());
    return a;
  }, py::arg("path"), "Reads a PNG or JPEG as (H, W, 3) uint8, as the CLI reads images");
  m.def("_write_png", [](const std::string& path, const py::handle& image) {
    const Image img = image_arg(image);
    py::gil_scoped_release nogil;
    write_png(path, img);
  }, py::arg("path"), py::arg("image"));
  m.def("cuda_available", &cuda_available, "True when a CUDA device can be used");
  m.def("set_num_threads", [](int n) { omp_set_num_threads(n); }, py::arg("n"), "CPU threads (OpenMP) of later calls");
  m.def("get_num_threads", [] { return omp_get_max_threads(); });
  m.attr("has_cuda") = bool(CUVIZ_HAS_CUDA);
}
