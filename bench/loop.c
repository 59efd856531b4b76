/* loop OP ARG... N: one system call in a loop, made with syscall(2) so that
 * exactly that call is measured (no libc wrapper choosing another).
 *   loop getpid N
 *   loop openclose PATH N     openat(AT_FDCWD, PATH, O_RDONLY) + close
 *   loop stat PATH N          newfstatat(AT_FDCWD, PATH, &st, 0): glibc's stat()
 * Prints "OK N NS" on success, NS the loop's own elapsed time (CLOCK_MONOTONIC,
 * read through the vDSO: no system call, so no filter sees it), so start-up
 * (node, the filter, the loader) stays out of the measurement; "ERR ..." on
 * the first failure (exit 1). Static, so no loader runs before main.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *op, long i)
{
  printf("ERR %s %s after %ld\n", op, strerror(errno), i);
  return 1;
}

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: loop getpid N | openclose PATH N | stat PATH N\n");
    return 2;
  }
  const char *op = argv[1];
  long n = strtol(argv[argc - 1], NULL, 10);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (strcmp(op, "getpid") == 0) {
    for (long i = 0; i < n; i++)
      syscall(SYS_getpid);
  } else if (strcmp(op, "openclose") == 0 && argc == 4) {
    for (long i = 0; i < n; i++) {
      long fd = syscall(SYS_openat, AT_FDCWD, argv[2], O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        return fail(op, i);
      syscall(SYS_close, (int)fd);
    }
  } else if (strcmp(op, "stat") == 0 && argc == 4) {
    struct stat st;
    for (long i = 0; i < n; i++)
      if (syscall(SYS_newfstatat, AT_FDCWD, argv[2], &st, 0) < 0)
        return fail(op, i);
  } else {
    fprintf(stderr, "loop: unknown op %s\n", op);
    return 2;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
  printf("OK %ld %lld\n", n, ns);
  return 0;
}
