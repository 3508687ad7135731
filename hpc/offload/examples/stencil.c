/* A 2-D five-point Jacobi stencil as OpenMP target regions, checked against a host reference.
 * Usage: stencil [N [ITERS]] (an N x N grid, top edge held at 1). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void init(double *g, int n) {
  memset(g, 0, (size_t)n * n * sizeof *g);
  for (int j = 0; j < n; j++) g[j] = 1.0;
}

static void sweep_host(const double *in, double *out, int n) {
  for (int i = 1; i < n - 1; i++)
    for (int j = 1; j < n - 1; j++)
      out[i * n + j] = 0.25 * (in[(i - 1) * n + j] + in[(i + 1) * n + j] + in[i * n + j - 1] +
                               in[i * n + j + 1]);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 512;
  int iters = argc > 2 ? atoi(argv[2]) : 100;
  size_t len = (size_t)n * n;
  double *a = malloc(len * sizeof *a), *b = malloc(len * sizeof *b);
  double *ra = malloc(len * sizeof *ra), *rb = malloc(len * sizeof *rb);
  if (!a || !b || !ra || !rb || n < 3 || iters < 1) { fprintf(stderr, "bad size\n"); return 2; }
  init(a, n); init(b, n); init(ra, n); init(rb, n);

  int on_host = 1;
#pragma omp target map(from: on_host)
  on_host = omp_is_initial_device();
  printf("schedsight-device rank=0: %s\n", on_host ? "host" : "gpu");

  double t0 = omp_get_wtime();
#pragma omp target data map(tofrom: a[0:len], b[0:len])
  for (int it = 0; it < iters; it++) {
    double *in = it % 2 ? b : a, *out = it % 2 ? a : b;
#pragma omp target teams distribute parallel for collapse(2)
    for (int i = 1; i < n - 1; i++)
      for (int j = 1; j < n - 1; j++)
        out[i * n + j] = 0.25 * (in[(i - 1) * n + j] + in[(i + 1) * n + j] + in[i * n + j - 1] +
                                 in[i * n + j + 1]);
  }
  double t1 = omp_get_wtime();
  printf("schedsight-kernel-s: %.6f\n", t1 - t0);

  for (int it = 0; it < iters; it++) sweep_host(it % 2 ? rb : ra, it % 2 ? ra : rb, n);
  const double *got = iters % 2 ? b : a, *want = iters % 2 ? rb : ra;
  double max_err = 0, sum = 0;
  for (size_t k = 0; k < len; k++) {
    max_err = fmax(max_err, fabs(got[k] - want[k]));
    sum += got[k];
  }
  int ok = max_err <= 1e-12 && sum > 1.0 * n;  /* heat has entered the grid */
  printf("schedsight-check: %s stencil n=%d iters=%d max_err=%g sum=%.9f\n", ok ? "ok" : "FAIL",
         n, iters, max_err, sum);
  free(a); free(b); free(ra); free(rb);
  return ok ? 0 : 1;
}
