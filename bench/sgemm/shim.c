/* An LD_PRELOAD shim around cblas_sgemm: counts and times (thread CPU time) every call by its arguments' shape
 * (order, transposes, M, N, K, alpha != 1, beta), then prints one line per shape at exit:
 *   calls seconds M N K transA transB lda ldb ldc beta
 * for bench/sgemm/profile.sh and replay.cpp. Timing lives here, outside xgrad, so nothing of
 * it is in the library's hot path. Not thread-safe beyond a spin lock: fine for a profile. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float*, int, const float*, int, float,
                         float*, int);

struct shape {
  int order, ta, tb, m, n, k, lda, ldb, ldc;
  float beta;
  long calls;
  double seconds;
};

static struct shape shapes[4096];
static int count;
static volatile int lock;
static sgemm_fn real;

/* The calling thread's CPU time: on this shared VM wall time also counts the other jobs'
 * turns on the core. */
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void report(void) {
  const char* path = getenv("SGEMM_SHIM_OUT");
  FILE* out = path ? fopen(path, "w") : stderr;
  if (!out) return;
  for (int i = 0; i < count; ++i) {
    const struct shape* s = &shapes[i];
    fprintf(out, "%ld %.9f %d %d %d %d %d %d %d %d %g\n", s->calls, s->seconds, s->m, s->n, s->k, s->ta == 112,
            s->tb == 112, s->lda, s->ldb, s->ldc, s->beta);
  }
  if (out != stderr) fclose(out);
}

void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc) {
  if (!real) {
    real = (sgemm_fn)dlsym(RTLD_NEXT, "cblas_sgemm");
    atexit(report);
  }
  const double t0 = now();
  real(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  const double dt = now() - t0;
  while (__sync_lock_test_and_set(&lock, 1)) {
  }
  int i = 0;
  for (; i < count; ++i) {
    const struct shape* s = &shapes[i];
    if (s->order == order && s->ta == ta && s->tb == tb && s->m == m && s->n == n && s->k == k && s->lda == lda &&
        s->ldb == ldb && s->ldc == ldc && s->beta == beta)
      break;
  }
  if (i == count && count < 4096) {
    struct shape s = {order, ta, tb, m, n, k, lda, ldb, ldc, beta, 0, 0.0};
    shapes[count++] = s;
  }
  if (i < 4096) {
    shapes[i].calls++;
    shapes[i].seconds += dt;
  }
  __sync_lock_release(&lock);
}
