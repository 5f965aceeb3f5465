/* read_floor.c: the read-and-sum floor for `ptinspect stats` and `diff --values` (issue 14).
 *
 *   cc -O2 -pthread -o read_floor scripts/read_floor.c
 *   read_floor [-t THREADS] FILE [FILE ...]
 *
 * Reads every FILE with pread in 4 MiB blocks into one buffer per thread and sums the bytes as
 * float32 (whatever they hold): the least work any program that looks at every value does.
 * Blocks are handed out in file order, one file after the other, to THREADS threads (default:
 * PTINSPECT_THREADS, else the online cores, as ptinspect does). Prints the sum (so the compiler
 * keeps the loop) and the wall time in seconds on stdout: "sum SECONDS". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { BLOCK = 4 << 20, MAX_FILES = 16 };

static int fds[MAX_FILES];
static off_t sizes[MAX_FILES];
static int nfiles;
static int64_t next_block; /* the next block, counted over all files in order */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Takes the next block: its file and offset; 0 when none is left. */
static int take(int *file, off_t *offset) {
  pthread_mutex_lock(&lock);
  int64_t b = next_block++;
  pthread_mutex_unlock(&lock);
  for (int f = 0; f < nfiles; f++) {
    int64_t blocks = (sizes[f] + BLOCK - 1) / BLOCK;
    if (b < blocks) {
      *file = f;
      *offset = (off_t)b * BLOCK;
      return 1;
    }
    b -= blocks;
  }
  return 0;
}

static void *worker(void *out) {
  float *buf = aligned_alloc(64, BLOCK);
  float acc[16] = {0}; /* several lanes, so the loop vectorises */
  int f;
  off_t offset;
  while (take(&f, &offset)) {
    ssize_t n = pread(fds[f], buf, BLOCK, offset);
    if (n < 0) {
      perror("read_floor: pread");
      exit(2);
    }
    size_t count = (size_t)n / sizeof(float);
    for (size_t i = 0; i + 16 <= count; i += 16)
      for (int j = 0; j < 16; j++) acc[j] += buf[i + j];
  }
  double s = 0;
  for (int j = 0; j < 16; j++) s += acc[j];
  *(double *)out = s;
  free(buf);
  return NULL;
}

int main(int argc, char **argv) {
  int threads = 0;
  const char *env = getenv("PTINSPECT_THREADS");
  if (env && atoi(env) > 0) threads = atoi(env);
  int i = 1;
  if (i + 1 < argc && strcmp(argv[i], "-t") == 0) {
    threads = atoi(argv[i + 1]);
    i += 2;
  }
  if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (i >= argc || argc - i > MAX_FILES) {
    fprintf(stderr, "usage: read_floor [-t THREADS] FILE [FILE ...] (at most %d files)\n", MAX_FILES);
    return 64;
  }
  for (; i < argc; i++, nfiles++) {
    struct stat st;
    fds[nfiles] = open(argv[i], O_RDONLY);
    if (fds[nfiles] < 0 || fstat(fds[nfiles], &st) != 0) {
      perror(argv[i]);
      return 2;
    }
    sizes[nfiles] = st.st_size;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pthread_t *ids = calloc((size_t)threads, sizeof *ids);
  double *sums = calloc((size_t)threads, sizeof *sums);
  for (int t = 0; t < threads; t++) pthread_create(&ids[t], NULL, worker, &sums[t]);
  double total = 0;
  for (int t = 0; t < threads; t++) {
    pthread_join(ids[t], NULL);
    total += sums[t];
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("%g %.6f\n", total, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  return 0;
}
