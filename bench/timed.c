/* timed PROGRAM ARG...: runs PROGRAM (an absolute path: no PATH search, so
 * no failed execs of its own) as a child, waits for it, and prints
 * "TIMED NS STATUS" on stderr: NS the time from just before the fork to
 * just after the wait (CLOCK_MONOTONIC through the vDSO: no system call, so
 * no filter sees it), STATUS the child's exit status (or 128+signal).
 * Under a sandbox, that is the program's whole life inside it (fork, exec,
 * loader, run, exit) and none of the sandbox's own start or end: the
 * programs' "start-up excluded" rows, without subtracting one noisy start
 * from another. Static, so it adds no loader of its own. Exit status: the
 * child's; 127 when the exec fails.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
  if (argc < 2 || argv[1][0] != '/') {
    fprintf(stderr, "usage: timed /ABSOLUTE/PROGRAM ARG...\n");
    return 2;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "timed: fork: %s\n", strerror(errno));
    return 2;
  }
  if (pid == 0) {
    execv(argv[1], argv + 1);
    fprintf(stderr, "timed: %s: %s\n", argv[1], strerror(errno));
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) {
      fprintf(stderr, "timed: waitpid: %s\n", strerror(errno));
      return 2;
    }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  fprintf(stderr, "TIMED %lld %d\n", ns, code);
  return code;
}
