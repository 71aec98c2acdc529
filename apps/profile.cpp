// --profile N, --profile-json, --profile-svg (apps/profile.h): the timed steps, the device's roofs,
// the table, its JSON and its roofline.
#include "apps/profile.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <vector>

#include "core/cuda_runtime.h"
#include "core/profiler.h"
#include "io/atomic_file.h"
#include "kernels/gemm.h"

namespace cuviz::app {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

ProfileRequest profile_request(const std::string& command, const RunOptions& run) {
  return ProfileRequest{command, run.profile, run.profile_json, run.profile_svg};
}

void add_profile_option(CLI::App* cmd, RunOptions& run) {
  cmd->add_option("--profile", run.profile,
                  "Profile N render steps after warm-up: a table of time, FLOPs, bytes and roofline bound per layer "
                  "and stage on stdout (cudaProfilerStart/Stop around the steps, for nsys and ncu), then exit "
                  "without writing the images")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--profile-json", run.profile_json, "With --profile: the table as JSON (docs/profiling.md)")
      ->needs("--profile");
  cmd->add_option("--profile-svg", run.profile_svg, "With --profile: the table as a roofline plot (SVG)")
      ->needs("--profile");
  // Every render loop of the command hands its Renderer to profile_renderer (viz/render.h); render
  // and sweep call profile_render themselves.
  cmd->parse_complete_callback([cmd, &run] {
    if (run.profile <= 0) return set_render_profile_hook({});
    const ProfileRequest request = profile_request(cmd->get_name(), run);
    set_render_profile_hook([request](Renderer& r) { profile_renderer(r, request); });
  });
}

// ---- the roofs -------------------------------------------------------------------------------

DevicePeak measure_cpu_peak() {
  // SGEMM: C = A B with 512 x 512 matrices, 2 x 512^3 FLOPs, as the conv ops call it (column
  // blocks over the OpenMP threads, each a single-threaded OpenBLAS call).
  constexpr int n = 512;
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  double best_gemm = 1e30;
  {
    const SerialBlas serial;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      sgemm_parallel(false, false, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
      best_gemm = std::min(best_gemm, seconds_since(t0));
    }
  }
  // STREAM triad over arrays larger than the caches: 2 reads and 1 write of 4 bytes per element
  // (the write-allocate read is not counted, as in STREAM).
  constexpr int64_t m = int64_t(8) << 20;  // 32 MiB per array
  std::unique_ptr<float[]> x(new float[m]), y(new float[m]), z(new float[m]);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m; ++i) {
    x[i] = 0.f;
    y[i] = 1.f;
    z[i] = 2.f;
  }
  double best_triad = 1e30;
  for (int rep = 0; rep < 4; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    const float s = 3.f + float(rep);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < m; ++i) x[i] = y[i] + s * z[i];
    best_triad = std::min(best_triad, seconds_since(t0));
  }
  DevicePeak p;
  p.flops = 2.0 * n * n * n / best_gemm;
  p.bytes_per_s = 12.0 * double(m) / best_triad;
  char src[160];
  std::snprintf(src, sizeof src, "measured: SGEMM %d^3 %.1f GFLOP/s, STREAM triad 3 x 32 MiB %.1f GB/s (best of 5 / 4)",
                n, p.flops / 1e9, p.bytes_per_s / 1e9);
  p.source = src;
  if (x[m / 2] < 0) std::fputs("", stderr);  // keeps the triad's stores observable
  return p;
}

DevicePeak gpu_peak() {
  const cuda_rt::DevicePeaks d = cuda_rt::device_peaks();
  DevicePeak p;
  p.flops = d.flops;
  p.bytes_per_s = d.bytes_per_s;
  char src[200];
  std::snprintf(src, sizeof src,
                "device attributes: %d SMs x %d FP32 lanes x 2 x %.3f GHz; 2 x %.3f GHz x %d-bit bus", d.sms,
                d.fp32_lanes_per_sm, d.sm_clock_hz / 1e9, d.mem_clock_hz / 1e9, d.bus_bits);
  p.source = src;
  return p;
}

// ---- the report ------------------------------------------------------------------------------

double ProfileReport::rows_ms() const {
  double s = 0;
  for (const auto& r : rows) s += r.ms();
  return s;
}

ProfileReport make_report(const std::vector<ProfileRow>& rows, const std::vector<LayerInfo>& layers, int steps,
                          double seconds, const DevicePeak& peak) {
  ProfileReport rep;
  rep.steps = steps;
  rep.step_ms = steps > 0 ? 1e3 * seconds / steps : 0;
  rep.peak = peak;
  std::map<std::string, const LayerInfo*> info;
  for (const auto& l : layers) info[l.name] = &l;
  const double per_step = steps > 0 ? 1.0 / steps : 0;
  for (const ProfileRow& r : rows) {
    ProfileTableRow t;
    t.name = r.name;
    t.stage = profile_stage_name(r.stage);
    t.forward_ms = r.forward_ms * per_step;
    t.backward_ms = r.backward_ms * per_step;
    const auto it = info.find(r.name);
    if (r.stage == ProfileStage::network && it != info.end()) {
      // A layer's nominal cost per call, times its calls per step (L-BFGS's line search may
      // evaluate several times per step).
      const LayerInfo& l = *it->second;
      t.kind = l.type;
      t.flops_forward = double(l.flops_forward) * r.forward_calls * per_step;
      t.flops_backward = double(l.flops_backward) * r.backward_calls * per_step;
      t.bytes_forward = double(l.bytes_forward) * r.forward_calls * per_step;
      t.bytes_backward = double(l.bytes_backward) * r.backward_calls * per_step;
    } else {
      t.kind = "stage";  // stages and the network's input copies: time only (FLOPs not counted)
    }
    rep.rows.push_back(std::move(t));
  }
  return rep;
}

namespace {

struct Derived {
  double gflops = 0, gbs = 0, intensity = 0, share = 0, roof_pct = 0;
  std::string bound;
};

Derived derive(const ProfileReport& rep, const ProfileTableRow& t) {
  Derived d;
  const double s = t.ms() / 1e3;
  if (s > 0) {
    d.gflops = t.flops() / s / 1e9;
    d.gbs = t.bytes() / s / 1e9;
  }
  d.share = rep.step_ms > 0 ? t.ms() / rep.step_ms : 0;
  if (t.bytes() > 0) d.intensity = t.flops() / t.bytes();
  if (t.bytes() > 0 || t.flops() > 0) {
    // The roofline: a kernel of intensity I can reach at most min(peak FLOP/s, I x bandwidth);
    // left of the ridge point the memory roof is the lower one.
    d.bound = t.bytes() > 0 && d.intensity < rep.peak.ridge() ? "memory" : "compute";
    const double roof = std::min(rep.peak.flops, d.intensity * rep.peak.bytes_per_s);
    if (roof > 0 && s > 0) d.roof_pct = 100.0 * t.flops() / s / roof;
    if (t.flops() == 0 && rep.peak.bytes_per_s > 0 && s > 0) d.roof_pct = 100.0 * t.bytes() / s / rep.peak.bytes_per_s;
  }
  return d;
}

std::vector<size_t> by_share(const ProfileReport& rep) {
  std::vector<size_t> order(rep.rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rep.rows[a].ms() > rep.rows[b].ms(); });
  return order;
}

}  // namespace

std::string format_report(const ProfileReport& rep) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line,
                "profile: %s on the %s%s%s, batch %d, %dx%d px, %d steps after %d warm-up: %.3f ms/step\n",
                rep.command.c_str(), rep.device.c_str(), rep.device_name.empty() ? "" : " ",
                rep.device_name.c_str(), rep.batch, rep.height, rep.width, rep.steps, rep.warmup, rep.step_ms);
  out += line;
  std::snprintf(line, sizeof line, "roofs: %.1f GFLOP/s, %.1f GB/s, ridge %.2f FLOP/B (%s)\n\n", rep.peak.flops / 1e9,
                rep.peak.bytes_per_s / 1e9, rep.peak.ridge(), rep.peak.source.c_str());
  out += line;
  std::snprintf(line, sizeof line, "%-32s %-8s %10s %10s %7s %10s %10s %9s %8s %7s %-7s %6s\n", "name", "kind",
                "fwd ms", "bwd ms", "share", "MFLOP", "MB", "GFLOP/s", "GB/s", "FLOP/B", "bound", "%roof");
  out += line;
  for (size_t i : by_share(rep)) {
    const ProfileTableRow& t = rep.rows[i];
    const Derived d = derive(rep, t);
    std::snprintf(line, sizeof line, "%-32s %-8s %10.3f %10.3f %6.1f%% %10.1f %10.2f %9.2f %8.2f %7.2f %-7s %6.1f\n",
                  t.name.size() > 32 ? (t.name.substr(0, 29) + "...").c_str() : t.name.c_str(), t.kind.c_str(),
                  t.forward_ms, t.backward_ms, 100 * d.share, t.flops() / 1e6, t.bytes() / 1e6, d.gflops, d.gbs,
                  d.intensity, d.bound.empty() ? "-" : d.bound.c_str(), d.roof_pct);
    out += line;
  }
  double flops = 0, bytes = 0;
  for (const auto& t : rep.rows) {
    flops += t.flops();
    bytes += t.bytes();
  }
  std::snprintf(line, sizeof line, "\nrows %.3f ms + unattributed %.3f ms = step %.3f ms (%.1f%% unattributed); "
                "%.1f GFLOP/step, %.1f GFLOP/s over the step\n",
                rep.rows_ms(), rep.unattributed_ms(), rep.step_ms,
                rep.step_ms > 0 ? 100 * rep.unattributed_ms() / rep.step_ms : 0.0, flops / 1e9,
                rep.step_ms > 0 ? flops / (rep.step_ms / 1e3) / 1e9 : 0.0);
  out += line;
  return out;
}

nlohmann::json report_json(const ProfileReport& rep) {
  nlohmann::json j;
  j["schema"] = "cuviz-profile/1";
  j["command"] = rep.command;
  j["device"] = rep.device;
  j["device_name"] = rep.device_name;
  j["batch"] = rep.batch;
  j["height"] = rep.height;
  j["width"] = rep.width;
  j["steps"] = rep.steps;
  j["warmup_steps"] = rep.warmup;
  j["step_ms"] = rep.step_ms;
  j["rows_ms"] = rep.rows_ms();
  j["unattributed_ms"] = rep.unattributed_ms();
  j["peak"] = {{"gflops", rep.peak.flops / 1e9},
               {"gbytes_per_s", rep.peak.bytes_per_s / 1e9},
               {"ridge_flop_per_byte", rep.peak.ridge()},
               {"source", rep.peak.source}};
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& t : rep.rows) {
    const Derived d = derive(rep, t);
    rows.push_back({{"name", t.name},
                    {"kind", t.kind},
                    {"stage", t.stage},
                    {"forward_ms", t.forward_ms},
                    {"backward_ms", t.backward_ms},
                    {"ms", t.ms()},
                    {"flops", t.flops()},
                    {"flops_forward", t.flops_forward},
                    {"flops_backward", t.flops_backward},
                    {"bytes", t.bytes()},
                    {"bytes_forward", t.bytes_forward},
                    {"bytes_backward", t.bytes_backward},
                    {"gflops", d.gflops},
                    {"gbytes_per_s", d.gbs},
                    {"intensity", d.intensity},
                    {"bound", d.bound.empty() ? nlohmann::json() : nlohmann::json(d.bound)},
                    {"roof_pct", d.roof_pct},
                    {"share", d.share}});
  }
  j["rows"] = std::move(rows);
  return j;
}

// ---- the roofline picture ------------------------------------------------------------------------

namespace {

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '&') o += "&amp;";
    else if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

}  // namespace

std::string roofline_svg(const ProfileReport& rep) {
  // Axes: arithmetic intensity (FLOP/byte) from 1/16 to 1024, performance (GFLOP/s) over six
  // decades below the FLOP roof, both log10.
  const double W = 760, H = 530, L = 70, R = 20, T = 40, B = 70;
  const double x0 = std::log10(1.0 / 16), x1 = std::log10(1024.0);
  const double peak_g = std::max(rep.peak.flops / 1e9, 1e-3);
  const double y1 = std::ceil(std::log10(peak_g) + 0.3), y0 = y1 - 6;
  auto X = [&](double i) { return L + (std::log10(i) - x0) / (x1 - x0) * (W - L - R); };
  auto Y = [&](double g) { return H - B - (std::log10(g) - y0) / (y1 - y0) * (H - T - B); };
  std::string s;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                W, H, W, H);
  s += buf;
  std::snprintf(buf, sizeof buf,
                "<text x=\"%.0f\" y=\"20\" font-size=\"13\">Roofline: %s on the %s, batch %d, %dx%d px, %.2f ms/step</text>\n",
                L, xml_escape(rep.command).c_str(), xml_escape(rep.device).c_str(), rep.batch, rep.height, rep.width,
                rep.step_ms);
  s += buf;
  // Grid and tick labels at every decade (x: every power of 4 as well).
  for (int e = int(std::ceil(y0)); e <= int(y1); ++e) {
    const double y = Y(std::pow(10.0, e));
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                  L, y, W - R, y, L - 5, y + 4, std::pow(10.0, e));
    s += buf;
  }
  for (double i = 1.0 / 16; i <= 1024.0 * 1.001; i *= 4) {
    const double x = X(i);
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                  x, T, x, H - B, x, H - B + 15, i);
    s += buf;
  }
  std::snprintf(buf, sizeof buf,
                "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"black\"/>\n"
                "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">arithmetic intensity (FLOP/byte, nominal)</text>\n"
                "<text transform=\"translate(18 %.0f) rotate(-90)\" text-anchor=\"middle\">achieved GFLOP/s</text>\n",
                L, T, W - L - R, H - T - B, (L + W - R) / 2, H - B + 32, (T + H - B) / 2);
  s += buf;
  // The roofs: bandwidth x intensity up to the ridge, then the FLOP peak.
  const double bw_g = rep.peak.bytes_per_s / 1e9, ridge = rep.peak.ridge();
  if (bw_g > 0) {
    const double ia = std::max(std::pow(10.0, x0), std::pow(10.0, y0) / bw_g);
    std::snprintf(buf, sizeof buf,
                  "<polyline fill=\"none\" stroke=\"#c00\" stroke-width=\"2\" points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\"/>\n"
                  "<text x=\"%.1f\" y=\"%.1f\" fill=\"#c00\">%.1f GFLOP/s</text>\n"
                  "<text x=\"%.1f\" y=\"%.1f\" fill=\"#c00\" transform=\"rotate(-%.1f %.1f %.1f)\">%.1f GB/s</text>\n",
                  X(ia), Y(ia * bw_g), X(ridge), Y(peak_g), X(1024), Y(peak_g), X(ridge) + 5, Y(peak_g) - 6, peak_g,
                  X(ia) + 8, Y(ia * bw_g * 1.6) - 4,
                  std::atan2(Y(ia * bw_g) - Y(ridge * bw_g), X(ridge) - X(ia)) * 180 / M_PI, X(ia) + 8,
                  Y(ia * bw_g * 1.6) - 4, bw_g);
    s += buf;
  }
  // The rows with FLOPs: one point each (area ~ share of the step), the 8 largest labelled.
  std::vector<size_t> order = by_share(rep);
  int labelled = 0;
  std::vector<std::pair<double, double>> placed;  // the labels' positions
  for (size_t i : order) {
    const ProfileTableRow& t = rep.rows[i];
    const Derived d = derive(rep, t);
    if (t.flops() <= 0 || t.bytes() <= 0 || d.gflops <= 0) continue;
    const double x = X(std::clamp(d.intensity, std::pow(10.0, x0), 1024.0));
    const double y = Y(std::clamp(d.gflops, std::pow(10.0, y0), std::pow(10.0, y1)));
    const char* colour = t.kind == "conv" ? "#1f77b4" : t.kind == "linear" ? "#2ca02c" : "#ff7f0e";
    std::snprintf(buf, sizeof buf,
                  "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\" fill-opacity=\"0.6\" stroke=\"%s\">"
                  "<title>%s (%s): %.2f FLOP/B, %.2f GFLOP/s, %.1f%% of the step</title></circle>\n",
                  x, y, 2.5 + 12 * std::sqrt(d.share), colour, colour, xml_escape(t.name).c_str(), t.kind.c_str(),
                  d.intensity, d.gflops, 100 * d.share);
    s += buf;
    if (labelled < 8) {
      // Below the previous labels it would overlap (same place, about a label's width), move down.
      double ly = y - 4;
      for (int tries = 0; tries < 6; ++tries) {
        const bool clash = std::any_of(placed.begin(), placed.end(), [&](const std::pair<double, double>& q) {
          return std::abs(q.first - (x + 6)) < 110 && std::abs(q.second - ly) < 11;
        });
        if (!clash) break;
        ly += 12;
      }
      placed.emplace_back(x + 6, ly);
      ++labelled;
      std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">%s</text>\n", x + 6, ly,
                    xml_escape(t.name).c_str());
      s += buf;
    }
  }
  std::snprintf(buf, sizeof buf,
                "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\" fill=\"#555\">blue: conv, green: linear, orange: "
                "other layers; area: share of the step</text>\n"
                "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\" fill=\"#555\">roofs: %s</text>\n</svg>\n",
                L, H - 17, L, H - 5, xml_escape(rep.peak.source).c_str());
  s += buf;
  return s;
}

// ---- the profiled steps --------------------------------------------------------------------------

ProfileReport profile_renderer(Renderer& r, const ProfileRequest& request) {
  for (const std::string* path : {&request.json, &request.svg})
    if (!path->empty()) check_output_dir(*path);
  const RenderOptions& options = r.options();
  const bool gpu = options.device == Device::cuda;
  const int steps = request.steps;
  OpProfiler profiler(gpu);
  double seconds = 0;
  {
    const ProfilerScope scope(&profiler);
    // The loop's own step under the profiler: eager stages (a CUDA graph replay is never profiled).
    auto step = [&](int t) {
      const std::string name = "step " + std::to_string(t);
      CUVIZ_PROFILE_RANGE(ProfileStage::step, ProfilePhase::none, name);
      r.step(t < options.relu_override_steps);
    };
    for (int t = 0; t < kProfileWarmupSteps; ++t) step(t);
    if (gpu) cuda_rt::synchronize();
    profiler.reset();
    if (gpu) cuda_rt::profiler_start();
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = kProfileWarmupSteps; t < kProfileWarmupSteps + steps; ++t) step(t);
    if (gpu) cuda_rt::synchronize();
    seconds = seconds_since(t0);
    if (gpu) cuda_rt::profiler_stop();
    profiler.finish();
  }
  const DevicePeak peak = gpu ? gpu_peak() : measure_cpu_peak();
  ProfileReport rep = make_report(profiler.rows(), r.layer_info(), steps, seconds, peak);
  rep.command = request.command;
  rep.device = device_name(options.device);
  rep.device_name = gpu ? cuda_rt::device_name() : "";
  rep.batch = options.batch;
  rep.height = options.h();
  rep.width = options.w();
  std::fprintf(stderr, "cuviz: profiled %d steps (batch %d, %d px) after %d warm-up steps on the %s: %.3f ms/step%s\n",
               steps, options.batch, options.size, kProfileWarmupSteps, device_name(options.device), rep.step_ms,
               gpu ? " (eager launches, per-op CUDA events)" : " (no CUDA profiler range on the CPU)");
  std::fputs(format_report(rep).c_str(), stdout);
  std::fflush(stdout);
  std::vector<std::pair<std::string, std::string>> files;
  if (!request.json.empty()) files.emplace_back(request.json, report_json(rep).dump(1) + "\n");
  if (!request.svg.empty()) files.emplace_back(request.svg, roofline_svg(rep));
  if (!files.empty()) write_files_atomic(files);
  return rep;
}

void profile_render(const Network& net, const std::vector<Objective>& per_image, const RenderOptions& options,
                    const ProfileRequest& request) {
  Renderer r(net, per_image, options);
  profile_renderer(r, request);
}

}  // namespace cuviz::app
