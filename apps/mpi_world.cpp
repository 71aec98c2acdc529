// MPI_Init only under a launcher, MPI_Finalize at exit, the barrier and the abort.
#include "apps/mpi_world.h"

#include <cstdlib>
#include <string>

#include "core/error.h"

#if CUVIZ_HAS_MPI
// The C API only: without these, Open MPI's and MPICH's mpi.h pull in their deprecated C++
// bindings, which need another library.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace cuviz::app {

namespace {

// The number of ranks the launcher announced, 0 when no launcher variable is set (PMIx gives
// only the rank: -1, the size comes from MPI).
int launcher_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* v = std::getenv(name)) return std::atoi(v);
  return std::getenv("PMIX_RANK") ? -1 : 0;
}

}  // namespace

std::optional<MpiWorld> mpi_world() {
  const int announced = launcher_size();
  if (announced == 0) return std::nullopt;
#if CUVIZ_HAS_MPI
  static const MpiWorld world = [] {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      // Only the main thread calls MPI; OpenMP threads do the work in between.
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      std::atexit([] {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized) MPI_Finalize();
      });
    }
    MpiWorld w;
    MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &w.size);
    return w;
  }();
  return world;
#else
  CUVIZ_CHECK(announced == 1, "started by an MPI launcher with ", announced < 0 ? std::string("several") : std::to_string(announced),
              " ranks, but this cuviz was built without MPI (CUVIZ_MPI; Debian: libopenmpi-dev): "
              "rebuild, or run one process per shard with --shard i/N");
  return std::nullopt;
#endif
}

void mpi_barrier() {
#if CUVIZ_HAS_MPI
  MPI_Barrier(MPI_COMM_WORLD);
#endif
}

void mpi_abort(int exit_code) {
#if CUVIZ_HAS_MPI
  MPI_Abort(MPI_COMM_WORLD, exit_code);
#endif
  std::exit(exit_code);
}

}  // namespace cuviz::app
