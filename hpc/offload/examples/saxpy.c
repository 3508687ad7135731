/* SAXPY as an OpenMP target region: y = a*x + y, repeated, checked against the exact answer.
 * Usage: saxpy [N [REPS]]. Prints the schedsight-* lines that hpc/offload/result.py reads. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1L << 20;
  int reps = argc > 2 ? atoi(argv[2]) : 20;
  float a = 0.5f;
  float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  if (!x || !y || n < 1 || reps < 1) { fprintf(stderr, "bad size\n"); return 2; }
  for (long i = 0; i < n; i++) { x[i] = (float)(i % 7); y[i] = 1.0f; }

  int on_host = 1;
#pragma omp target map(from: on_host)
  on_host = omp_is_initial_device();
  printf("schedsight-device rank=0: %s\n", on_host ? "host" : "gpu");

  double t0 = omp_get_wtime();
#pragma omp target data map(to: x[0:n]) map(tofrom: y[0:n])
  for (int r = 0; r < reps; r++) {
#pragma omp target teams distribute parallel for
    for (long i = 0; i < n; i++) y[i] = a * x[i] + y[i];
  }
  double t1 = omp_get_wtime();
  printf("schedsight-kernel-s: %.6f\n", t1 - t0);

  /* Every step adds a*x exactly (x and a*x are small integers / halves): no rounding. */
  double max_err = 0;
  for (long i = 0; i < n; i++) {
    double want = 1.0 + reps * (double)a * (double)(i % 7);
    max_err = fmax(max_err, fabs(y[i] - want));
  }
  int ok = max_err == 0;
  printf("schedsight-check: %s saxpy n=%ld reps=%d max_err=%g\n", ok ? "ok" : "FAIL", n, reps,
         max_err);
  free(x); free(y);
  return ok ? 0 : 1;
}
