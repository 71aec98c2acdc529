// NMF (and PCA, k-means) of an activation matrix on the CPU, timed: best and median of R runs of
// a fixed iteration budget (tol 0), for the side-by-side with scikit-learn (bench/nmf_vs_sklearn.sh).
//   factorize_bench X.npy [k=6] [iterations=200] [repeats=7]
// X.npy: a float32 (rows, columns) matrix. Threads: OMP_NUM_THREADS.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "io/npy.h"
#include "viz/factorize.h"

using namespace cuviz;

template <class F>
void time_it(const char* name, int repeats, F&& f) {
  std::vector<double> s;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const double extra = f();
    s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (r == 0) std::printf("  (%s: %.6f)\n", name, extra);
  }
  std::sort(s.begin(), s.end());
  std::printf("%-14s threads %d  best %8.1f ms  median %8.1f ms  (%d runs)\n", name, omp_get_max_threads(), s[0] * 1e3,
              s[s.size() / 2] * 1e3, repeats);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: factorize_bench X.npy [k] [iterations] [repeats]\n");
    return 2;
  }
  const NpyArray a = read_npy(argv[1]);
  Matrix x(int(a.dims[0]), int(a.dims[1]));
  x.data = a.data;
  const int k = argc > 2 ? std::atoi(argv[2]) : 6, iters = argc > 3 ? std::atoi(argv[3]) : 200,
            repeats = argc > 4 ? std::atoi(argv[4]) : 7;
  std::printf("X %d x %d, k %d, %d iterations\n", x.rows, x.cols, k, iters);
  for (NmfSolver solver : {NmfSolver::hals, NmfSolver::mu}) {
    NmfOptions o;
    o.k = k;
    o.max_iter = iters;
    o.tol = 0;
    o.solver = solver;
    time_it(("nmf " + nmf_solver_name(solver)).c_str(), repeats, [&] { return nmf(x, o).relative_error(); });
  }
  time_it("pca", repeats, [&] { return pca(x, PcaOptions{.k = k}).explained_variance[0]; });
  time_it("kmeans", repeats, [&] { return kmeans(x, KmeansOptions{.k = k}).inertia(); });
  return 0;
}
