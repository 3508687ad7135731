/* Dense matrix multiply C = A*B as an OpenMP target region, checked against a host reference.
 * Usage: matmul [N]. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 256;
  size_t len = (size_t)n * n;
  double *A = malloc(len * sizeof *A), *B = malloc(len * sizeof *B);
  double *C = malloc(len * sizeof *C), *R = malloc(len * sizeof *R);
  if (!A || !B || !C || !R || n < 1) { fprintf(stderr, "bad size\n"); return 2; }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      A[i * n + j] = (double)((i + 2 * j) % 5) - 2.0;
      B[i * n + j] = (double)((3 * i + j) % 7) * 0.5;
    }

  int on_host = 1;
#pragma omp target map(from: on_host)
  on_host = omp_is_initial_device();
  printf("schedsight-device rank=0: %s\n", on_host ? "host" : "gpu");

  double t0 = omp_get_wtime();
#pragma omp target teams distribute parallel for collapse(2) map(to: A[0:len], B[0:len]) \
    map(from: C[0:len])
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int k = 0; k < n; k++) s += A[i * n + k] * B[k * n + j];
      C[i * n + j] = s;
    }
  double t1 = omp_get_wtime();
  printf("schedsight-kernel-s: %.6f\n", t1 - t0);

  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int k = 0; k < n; k++) s += A[i * n + k] * B[k * n + j];
      R[i * n + j] = s;
    }
  double max_err = 0;  /* small integers and halves: every sum is exact */
  for (size_t k = 0; k < len; k++) max_err = fmax(max_err, fabs(C[k] - R[k]));
  int ok = max_err == 0;
  printf("schedsight-check: %s matmul n=%d max_err=%g\n", ok ? "ok" : "FAIL", n, max_err);
  free(A); free(B); free(C); free(R);
  return ok ? 0 : 1;
}
