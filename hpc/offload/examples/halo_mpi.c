/* MPI + OpenMP target offload: a 2-D Jacobi stencil split by rows across ranks, halo rows
 * exchanged every iteration (device -> host -> MPI -> host -> device). This is the shape of a
 * DiOMP application, where ompx_dput/ompx_barrier move the halos device to device instead.
 * Rank 0 checks the gathered grid against a serial host reference. Usage: halo_mpi [N [ITERS]]. */
#include <math.h>
#include <mpi.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int n = argc > 1 ? atoi(argv[1]) : 256;
  int iters = argc > 2 ? atoi(argv[2]) : 50;
  if (n < 3 || n < size || iters < 1) {
    if (rank == 0) fprintf(stderr, "bad size: need N >= 3 and N >= ranks\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  /* Rows [first, first + rows) of the global grid live here, between two halo rows. */
  int base = n / size, extra = n % size;
  int rows = base + (rank < extra), first = rank * base + (rank < extra ? rank : extra);
  size_t len = (size_t)(rows + 2) * n;
  double *a = calloc(len, sizeof *a), *b = calloc(len, sizeof *b);
  if (first == 0)
    for (int j = 0; j < n; j++) a[n + j] = b[n + j] = 1.0; /* global top edge, held at 1 */
  int up = rank > 0 ? rank - 1 : MPI_PROC_NULL, down = rank < size - 1 ? rank + 1 : MPI_PROC_NULL;

  int on_host = 1;
#pragma omp target map(from: on_host)
  on_host = omp_is_initial_device();
  printf("schedsight-device rank=%d: %s\n", rank, on_host ? "host" : "gpu");

  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
#pragma omp target data map(tofrom: a[0:len], b[0:len])
  for (int it = 0; it < iters; it++) {
    double *in = it % 2 ? b : a, *out = it % 2 ? a : b;
#pragma omp target update from(in[n:n], in[(size_t)rows * n:n])
    MPI_Sendrecv(in + n, n, MPI_DOUBLE, up, 0, in + (size_t)(rows + 1) * n, n, MPI_DOUBLE, down, 0,
                 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Sendrecv(in + (size_t)rows * n, n, MPI_DOUBLE, down, 1, in, n, MPI_DOUBLE, up, 1,
                 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
#pragma omp target update to(in[0:n], in[(size_t)(rows + 1) * n:n])
#pragma omp target teams distribute parallel for collapse(2)
    for (int i = 1; i <= rows; i++)
      for (int j = 1; j < n - 1; j++) {
        int g = first + i - 1; /* global row: edges stay fixed */
        if (g == 0 || g == n - 1) continue;
        out[i * n + j] = 0.25 * (in[(i - 1) * n + j] + in[(i + 1) * n + j] + in[i * n + j - 1] +
                                 in[i * n + j + 1]);
      }
  }
  double t1 = MPI_Wtime(), mine = t1 - t0, slowest = 0;
  MPI_Reduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);

  const double *res = iters % 2 ? b : a;
  int *counts = NULL, *displs = NULL;
  double *grid = NULL;
  if (rank == 0) {
    counts = malloc(size * sizeof *counts); displs = malloc(size * sizeof *displs);
    grid = malloc((size_t)n * n * sizeof *grid);
    for (int r = 0, off = 0; r < size; r++) {
      counts[r] = (base + (r < extra)) * n; displs[r] = off; off += counts[r];
    }
  }
  MPI_Gatherv(res + n, rows * n, MPI_DOUBLE, grid, counts, displs, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  int ok = 1;
  if (rank == 0) {
    printf("schedsight-kernel-s: %.6f\n", slowest);
    size_t glen = (size_t)n * n;
    double *ra = calloc(glen, sizeof *ra), *rb = calloc(glen, sizeof *rb), max_err = 0;
    for (int j = 0; j < n; j++) ra[j] = rb[j] = 1.0;
    for (int it = 0; it < iters; it++) {
      double *in = it % 2 ? rb : ra, *out = it % 2 ? ra : rb;
      for (int i = 1; i < n - 1; i++)
        for (int j = 1; j < n - 1; j++)
          out[i * n + j] = 0.25 * (in[(i - 1) * n + j] + in[(i + 1) * n + j] +
                                   in[i * n + j - 1] + in[i * n + j + 1]);
    }
    const double *want = iters % 2 ? rb : ra;
    for (size_t k = 0; k < glen; k++) max_err = fmax(max_err, fabs(grid[k] - want[k]));
    ok = max_err <= 1e-12;
    printf("schedsight-check: %s halo_mpi n=%d iters=%d ranks=%d max_err=%g\n",
           ok ? "ok" : "FAIL", n, iters, size, max_err);
    free(ra); free(rb); free(grid); free(counts); free(displs);
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  free(a); free(b);
  MPI_Finalize();
  return ok ? 0 : 1;
}
