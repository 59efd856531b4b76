/*
 * systrace-launch: the exec helper.
 *
 *   systrace-launch FILE ARGV0 [ARG...]     (fd 3: SOCK_SEQPACKET to the tracer)
 *
 * Installs the tracer's BPF filter with a new listener, hands the listener
 * to the tracer, and execs FILE, so that the program's very first execve is
 * already under the policy.
 *
 * Why a second thread: once a filter is installed, every system call of
 * that thread is subject to the policy, including the sendmsg that hands
 * the listener over, which the policy may well deny. Filters are per
 * thread, so a worker thread installs the filter on itself only, the
 * unfiltered main thread passes the listener on, and the worker (which
 * needs no system call to wait) then execs. execve from the worker kills
 * the main thread and keeps the worker's filter and no_new_privs.
 *
 * Protocol on fd 3: tracer -> helper: "F" (no Landlock), or "R" with
 * SCM_RIGHTS(Landlock ruleset); then the BPF program (struct
 * sock_filter[]); helper -> tracer: "L" + SCM_RIGHTS(listener); tracer ->
 * helper: "G". The header says whether a ruleset must come: a filter that
 * lets read-only opens through counts on it, so "R" without an fd (or an
 * fd without "R") is a failure, never a run without Landlock.
 *
 * The worker restricts itself with the Landlock ruleset before it installs
 * the seccomp filter (which may well deny landlock_restrict_self), so that
 * both bind the program from its first instruction.
 * Any failure before exec: a message on stderr and exit 125.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Added in Linux 5.13; glibc names it from 2.34 on. */
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif

/* Added in Linux 5.19; Debian 12's headers have it, older ones may not. */
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

#define SOCK_FD 3
#define MAX_FILTER_INSNS 4096 /* BPF_MAXINSNS: the kernel's own cap */
#define EXIT_FAILED 125

static struct sock_filter insns[MAX_FILTER_INSNS];
static struct sock_fprog prog;
static int ruleset_fd = -1; /* Landlock, or -1 */
static const char* exec_file;
static char** exec_argv;

static atomic_int listener_fd = -1; /* set by the worker: >= 0 fd, < -1 -errno-1 */
static const char* failed_step = "installing the seccomp filter";
static atomic_int go;               /* set by main once the tracer has the listener */

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char* fmt, ...) {
  va_list ap;
  fputs("systrace-launch: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  _exit(EXIT_FAILED);
}

static void* worker(void* unused) {
  (void)unused;
  sigset_t all;
  sigemptyset(&all);
  pthread_sigmask(SIG_SETMASK, &all, NULL);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    atomic_store(&listener_fd, -errno - 1);
    return NULL;
  }
  if (ruleset_fd >= 0 && syscall(SYS_landlock_restrict_self, ruleset_fd, 0) < 0) {
    failed_step = "restricting with the Landlock ruleset";
    atomic_store(&listener_fd, -errno - 1);
    return NULL;
  }
  unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (fd < 0 && errno == EINVAL) {
    flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  }
  if (fd < 0) {
    atomic_store(&listener_fd, -errno - 1);
    return NULL;
  }
  atomic_store(&listener_fd, (int)fd);
  /* From here on every system call is the policy's: wait without any. */
  while (!atomic_load(&go)) __builtin_ia32_pause();
  syscall(SYS_execve, exec_file, exec_argv, environ);
  /* The tracer checked FILE before starting us; this is a denial or a race. */
  syscall(SYS_exit_group, errno == ENOENT ? 127 : 126);
  return NULL;
}

static void send_listener(int fd) {
  union {
    char raw[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {.iov_base = "L", .iov_len = 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.raw, .msg_controllen = sizeof control.raw};
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (sendmsg(SOCK_FD, &msg, MSG_NOSIGNAL) < 0) die("sending the listener: %s", strerror(errno));
}

int main(int argc, char** argv) {
  if (argc < 3) die("usage: systrace-launch FILE ARGV0 [ARG...] (started by systrace, fd 3 connected)");
  if (fcntl(SOCK_FD, F_GETFD) < 0) die("fd 3 is not open: this helper is started by systrace");
  exec_file = argv[1];
  exec_argv = argv + 2;
  signal(SIGPIPE, SIG_DFL);

  ssize_t n;
  char header = 0;
  union {
    char raw[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct iovec hiov = {.iov_base = &header, .iov_len = 1};
  struct msghdr msg = {.msg_iov = &hiov, .msg_iovlen = 1, .msg_control = control.raw, .msg_controllen = sizeof control.raw};
  do n = recvmsg(SOCK_FD, &msg, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
  if (n < 0) die("reading the header: %s", strerror(errno));
  if (msg.msg_flags & MSG_CTRUNC) die("more than one fd came with the header");
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
      memcpy(&ruleset_fd, CMSG_DATA(c), sizeof ruleset_fd);
  }
  if (n != 1 || (header != 'F' && header != 'R')) die("malformed header");
  if ((header == 'R') != (ruleset_fd >= 0)) die(header == 'R' ? "the Landlock ruleset did not come" : "an fd came that was not asked for");
  do n = recv(SOCK_FD, insns, sizeof insns, 0); while (n < 0 && errno == EINTR);
  if (n < 0) die("reading the filter: %s", strerror(errno));
  if (n == 0 || n % sizeof(struct sock_filter) != 0) die("malformed filter (%zd bytes)", n);
  prog.len = (unsigned short)(n / sizeof(struct sock_filter));
  prog.filter = insns;

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs: %s", strerror(errno));
  pthread_t t;
  int rc = pthread_create(&t, NULL, worker, NULL);
  if (rc != 0) die("pthread_create: %s", strerror(rc));

  int fd;
  struct timespec nap = {0, 50 * 1000};
  for (int i = 0; (fd = atomic_load(&listener_fd)) == -1; i++) {
    if (i > 200000) die("the filter thread did not report");
    nanosleep(&nap, NULL);
  }
  if (fd < -1) die("%s: %s", failed_step, strerror(-fd - 1));
  send_listener(fd);

  char ack = 0;
  do n = recv(SOCK_FD, &ack, 1, 0); while (n < 0 && errno == EINTR);
  if (n != 1 || ack != 'G') die("the tracer did not take the listener");
  /* The program must hold neither the listener nor the tracer's socket. */
  close(fd);
  close(SOCK_FD);
  if (ruleset_fd >= 0) close(ruleset_fd);
  atomic_store(&go, 1);
  for (;;) pause(); /* execve in the worker ends this thread */
}
