/*
 * broker-launch: the setuid-root entry of the systrace broker.
 *
 *   broker-launch            (no arguments; fd 3: a connected Unix socket to the tracer)
 *
 * Installed as PREFIX/broker-launch, root:root, mode 04755, by `systrace
 * broker install`. The tracer starts it once per session; it becomes root
 * for good and execs
 *
 *   NODE PREFIX/dist/broker/main.js --session --caller-uid=RUID --caller-gid=RGID
 *
 * Threat model: whoever runs this is an unprivileged user who controls
 * everything we inherit (argv, environment, fds, cwd, umask, signal
 * dispositions and mask, resource limits) and may have hard-linked or
 * copied nothing useful (a copy is not setuid; a hard link into their own
 * directory is caught by the ownership check of our own directory below).
 * Nothing inherited is used: the caller's identity comes from the kernel
 * (the real uid and gid), the code we run is checked to be root's alone,
 * and the rest is reset or discarded. The broker itself then decides what
 * the caller may have, under the administrator's policy.
 *
 * Any failure: one line on stderr and exit 125 (systrace's own failure).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef NODE_PATH
#define NODE_PATH "/usr/bin/node"
#endif

#define SOCK_FD 3
#define EXIT_FAILED 125
#define BROKER_MAIN "dist/broker/main.js"
/* The installed tree is a few thousand files; a bigger one is not ours. */
#define MAX_TREE_ENTRIES 100000

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char* fmt, ...) {
  va_list ap;
  fputs("systrace broker-launch: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  _exit(EXIT_FAILED);
}

__attribute__((noreturn, format(printf, 1, 2))) static void die_with_error(const char* fmt, ...) {
  int saved = errno;
  va_list ap;
  fputs("systrace broker-launch: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, ": %s\n", strerror(saved));
  _exit(EXIT_FAILED);
}

/*
 * Why a path is not safe to run as root, or NULL. Safe means: owned by root
 * and not writable by group or others, so that only root can change what
 * the name refers to or what the file holds. A sticky world-writable
 * directory (/tmp) is not safe: others cannot replace root's entry there,
 * but they can create the name before root does.
 */
static const char* unsafe_stat(const struct stat* st) {
  static char why[96];
  if (st->st_uid != 0) {
    snprintf(why, sizeof why, "is owned by uid %u, not root", (unsigned)st->st_uid);
    return why;
  }
  if (st->st_mode & S_IWOTH) {
    snprintf(why, sizeof why, "is writable by others (mode %04o)", (unsigned)(st->st_mode & 07777));
    return why;
  }
  if (st->st_mode & S_IWGRP) {
    snprintf(why, sizeof why, "is writable by its group, gid %u (mode %04o)", (unsigned)st->st_gid,
             (unsigned)(st->st_mode & 07777));
    return why;
  }
  return NULL;
}

/*
 * Resolves PATH (every symlink) into RESOLVED and checks the result and each
 * directory above it, from / down, with lstat. Because we later use the
 * resolved name, never PATH, the symlinks that led there do not matter; and
 * because every component of the resolved name is root's and closed to
 * others, nobody but root can change it between this check and execve.
 */
static void check_component(const char* what, const char* resolved, const char* part) {
  struct stat st;
  if (lstat(part, &st) < 0) die_with_error("%s: %s", what, part);
  if (S_ISLNK(st.st_mode)) die("%s: %s is a symbolic link after realpath (changed under us?)", what, part);
  const char* why = unsafe_stat(&st);
  if (why) die("unsafe installation: %s %s: %s %s", what, resolved, part, why);
}

static void check_chain(const char* what, const char* path, char resolved[PATH_MAX]) {
  if (realpath(path, resolved) == NULL) die_with_error("%s %s", what, path);
  check_component(what, resolved, "/");
  char part[PATH_MAX];
  size_t len = strlen(resolved);
  for (size_t i = 1; i <= len; i++) {
    if (resolved[i] != '/' && resolved[i] != '\0') continue;
    memcpy(part, resolved, i);
    part[i] = '\0';
    check_component(what, resolved, part);
  }
}

/*
 * Every entry of the installed tree must be root's and closed to others
 * too: node loads dist/ and node_modules/ from it as root, so one writable
 * .js file anywhere in it is root for whoever can write it. Symbolic links
 * are refused outright (install copies real files): a root-owned link can
 * still point somewhere that is not root's.
 */
static char tree_bad[PATH_MAX + 160];
static long tree_entries;

static int tree_entry(const char* fpath, const struct stat* st, int type, struct FTW* ftw) {
  (void)ftw;
  if (++tree_entries > MAX_TREE_ENTRIES) {
    snprintf(tree_bad, sizeof tree_bad, "more than %d entries: not an installation of systrace", MAX_TREE_ENTRIES);
    return 1;
  }
  if (type == FTW_NS || type == FTW_DNR) {
    snprintf(tree_bad, sizeof tree_bad, "%s cannot be read", fpath);
    return 1;
  }
  if (type == FTW_SL || type == FTW_SLN) {
    snprintf(tree_bad, sizeof tree_bad, "%s is a symbolic link", fpath);
    return 1;
  }
  const char* why = unsafe_stat(st);
  if (why) {
    snprintf(tree_bad, sizeof tree_bad, "%s %s", fpath, why);
    return 1;
  }
  return 0;
}

/* Stops here unless fd is open; if it is not, /dev/null takes its place. */
static void ensure_open(int fd) {
  if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) return;
  /*
   * A closed 0, 1 or 2 would be taken by the next file the broker opens
   * (its admin policy, the audit log), and then written to as stdout or
   * stderr. open returns the lowest free number, which is fd here.
   */
  int n = open("/dev/null", O_RDWR);
  if (n != fd) die("cannot put /dev/null on closed fd %d", fd);
}

static void close_above(int keep) {
  /* close_range(2): Linux 5.9. Older kernels: close them one by one. */
#ifdef SYS_close_range
  if (syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0) == 0) return;
#endif
  struct rlimit rl;
  long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY ? (long)rl.rlim_max : 65536;
  for (long fd = keep + 1; fd < max; fd++) close((int)fd);
}

/*
 * The caller's resource limits would follow us into the broker: a tiny
 * RLIMIT_FSIZE or RLIMIT_AS could make it fail halfway through an audit
 * record or a privileged call. As root we may raise them; we set our own.
 */
static void reset_limits(void) {
  static const struct {
    int resource;
    const char* name;
    rlim_t value;
  } limits[] = {
      {RLIMIT_FSIZE, "RLIMIT_FSIZE", RLIM_INFINITY}, {RLIMIT_AS, "RLIMIT_AS", RLIM_INFINITY},
      {RLIMIT_DATA, "RLIMIT_DATA", RLIM_INFINITY},   {RLIMIT_CPU, "RLIMIT_CPU", RLIM_INFINITY},
      {RLIMIT_CORE, "RLIMIT_CORE", 0},               {RLIMIT_NOFILE, "RLIMIT_NOFILE", 4096},
      {RLIMIT_STACK, "RLIMIT_STACK", 8 << 20},
  };
  for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
    struct rlimit rl = {limits[i].value, limits[i].value};
    if (setrlimit(limits[i].resource, &rl) < 0) die_with_error("setrlimit %s", limits[i].name);
  }
}

int main(int argc, char** argv) {
  (void)argv;
  /* Phase 1: who is asking. The real ids are the kernel's word on it. */
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0) die_with_error("getresuid");
  if (euid != 0)
    die("not running as root (euid %u): install with `systrace broker install`, which makes this file setuid root",
        (unsigned)euid);
  if (argc != 1) die("takes no arguments: it is started by systrace, with the session socket as fd 3");

  /*
   * Phase 2: a sane process before anything else runs. umask: the broker
   * creates the audit log; the caller's umask must not make it writable.
   * Signals: ignored dispositions and the blocked mask survive execve, and
   * a broker that cannot be stopped by SIGTERM, or dies of SIGPIPE
   * unexpectedly, is the caller's choice, not ours.
   */
  umask(022);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    signal(sig, SIG_DFL); /* fails harmlessly for the numbers glibc reserves */
  }
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) die_with_error("sigprocmask");
  ensure_open(0);
  ensure_open(1);
  ensure_open(2);
  if (chdir("/") < 0) die_with_error("chdir /");

  /* Phase 3: fd 3 is the session; only a Unix socket will do. */
  struct stat sst;
  if (fstat(SOCK_FD, &sst) < 0) die("fd 3 is not open: broker-launch is started by systrace, with the session socket as fd 3");
  if (!S_ISSOCK(sst.st_mode)) die("fd 3 is not a socket: broker-launch is started by systrace");
  int domain = 0;
  socklen_t dlen = sizeof domain;
  if (getsockopt(SOCK_FD, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0) die_with_error("getsockopt fd 3");
  if (domain != AF_UNIX) die("fd 3 is not a Unix socket (domain %d)", domain);

  /*
   * Phase 4: the installation. Our own directory is the prefix: the kernel
   * names our executable in /proc/self/exe (no symlink, no argv[0] the
   * caller could choose). A hard link of this file into a directory the
   * caller owns would keep setuid, so the directory itself is checked.
   */
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0) die_with_error("readlink /proc/self/exe (is /proc mounted?)");
  if ((size_t)n >= sizeof self - 1) die("/proc/self/exe: path too long");
  self[n] = '\0';
  char self_real[PATH_MAX];
  check_chain("launcher", self, self_real);
  char* slash = strrchr(self_real, '/');
  if (slash == NULL || slash == self_real) die("launcher %s: not in an installation directory", self_real);
  char prefix[PATH_MAX];
  memcpy(prefix, self_real, (size_t)(slash - self_real));
  prefix[slash - self_real] = '\0';

  char main_js[PATH_MAX];
  if (snprintf(main_js, sizeof main_js, "%s/%s", prefix, BROKER_MAIN) >= (int)sizeof main_js) die("path too long");
  char main_real[PATH_MAX];
  check_chain("broker code", main_js, main_real);
  if (nftw(prefix, tree_entry, 32, FTW_PHYS) != 0) {
    if (tree_bad[0]) die("unsafe installation under %s: %s", prefix, tree_bad);
    die_with_error("walking %s", prefix);
  }
  char node_real[PATH_MAX];
  check_chain("node", NODE_PATH, node_real);
  struct stat nst;
  if (stat(node_real, &nst) < 0 || !S_ISREG(nst.st_mode) || !(nst.st_mode & S_IXUSR))
    die("node %s is not an executable file", node_real);

  /* Phase 5: root for good, with nothing of the caller's left. */
  reset_limits();
  if (setgroups(0, NULL) < 0) die_with_error("setgroups");
  if (setresgid(0, 0, 0) < 0) die_with_error("setresgid");
  if (setresuid(0, 0, 0) < 0) die_with_error("setresuid");
  close_above(SOCK_FD);

  char uid_arg[48], gid_arg[48];
  snprintf(uid_arg, sizeof uid_arg, "--caller-uid=%u", (unsigned)ruid);
  snprintf(gid_arg, sizeof gid_arg, "--caller-gid=%u", (unsigned)rgid);
  static char session_arg[] = "--session";
  char* const args[] = {node_real, main_real, session_arg, uid_arg, gid_arg, NULL};
  /* The caller's environment is theirs (NODE_OPTIONS, LD_PRELOAD ...): none of it. */
  static char env_path[] = "PATH=/usr/bin:/bin", env_lang[] = "LANG=C";
  char* const env[] = {env_path, env_lang, NULL};
  execve(node_real, args, env);
  die_with_error("execve %s", node_real);
}
