/* export-bpf FILE: write an allow-all seccomp filter as raw BPF
 * (struct sock_filter[]) to FILE, for bwrap --seccomp FD.
 *
 * libseccomp's prologue (arch check, then the default action) is the same
 * shape as test/fixtures/seccomp-allow-all and systrace's own filter, so the
 * bubblewrap row differs from the seccomp-allow-all row by bwrap alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: export-bpf FILE\n");
    return 2;
  }
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == NULL) {
    fprintf(stderr, "export-bpf: seccomp_init failed\n");
    return 1;
  }
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    fprintf(stderr, "export-bpf: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  int rc = seccomp_export_bpf(ctx, fd);
  seccomp_release(ctx);
  if (rc < 0 || close(fd) < 0) {
    fprintf(stderr, "export-bpf: seccomp_export_bpf: %s\n", strerror(rc < 0 ? -rc : errno));
    return 1;
  }
  return 0;
}
