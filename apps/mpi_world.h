// MPI for `mpirun -np N cuviz sweep ...` (docs/sweep.md, "MPI"): the only code that knows about
// MPI, compiled against it when CMake found one (CUVIZ_HAS_MPI). MPI is initialised only when the
// process was started by an MPI launcher, so a plain `cuviz` never touches it.
#pragma once

#include <optional>

namespace cuviz::app {

struct MpiWorld {
  int rank = 0, size = 1;
};

// The job this process is a rank of, when an MPI launcher started it (Open MPI's
// OMPI_COMM_WORLD_SIZE, PMI_SIZE of MPICH/Hydra and Slurm's PMI-2, or PMIX_RANK): initialises
// MPI (once; finalised at exit) and returns the rank and the number of ranks. nullopt when no
// launcher started it. Throws when one did but this cuviz was built without MPI.
std::optional<MpiWorld> mpi_world();

// MPI_Barrier on MPI_COMM_WORLD (after mpi_world() returned a world).
void mpi_barrier();

// Ends every rank of the job with `exit_code` (MPI_Abort): after an error on one rank, so that
// the others do not wait at the barrier for ever.
[[noreturn]] void mpi_abort(int exit_code);

}  // namespace cuviz::app
