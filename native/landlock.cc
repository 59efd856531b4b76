// Landlock as a second kernel target of the compiler: the ruleset the exec
// helper installs on itself before the seccomp filter, so that read-only
// opens of the files a policy permits are decided by the kernel with no
// notification (tracer/policy/compile.ts: landlockPlan).
//
// Built here, in the tracer, with the user's own rights (as the program
// would open the paths); the helper only restricts itself with it.
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <linux/openat2.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

// Added in Linux 5.13 (glibc names them from 2.34 on).
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif

namespace systrace {

namespace {

// Rights a rule on a file (not a directory) may carry: landlock_add_rule
// refuses directory rights there (EINVAL).
constexpr uint64_t kFileRights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
                                 (1ULL << 14) /* TRUNCATE, Linux 6.2 */ | (1ULL << 15) /* IOCTL_DEV, Linux 6.10 */;

// Network rights and rules: Linux 6.7 (ABI 4); Debian 12's headers predate
// them. The ruleset attribute grew a second field for them.
struct RulesetAttrNet {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
};
constexpr int kRuleNetPort = 2;  // LANDLOCK_RULE_NET_PORT
struct NetPortAttr {
  uint64_t allowed_access;
  uint64_t port;
};

// The ABI version, or 0 when the kernel has no Landlock or it is disabled.
Napi::Value LandlockAbi(const Napi::CallbackInfo& info) {
  long v = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return Napi::Number::New(info.Env(), v < 0 ? 0 : (double)v);
}

// landlockRuleset(handled, rules, net?) -> { fd, skipped: [{ index, path, why }] }
//   rules: [{ path, access (bigint), kind }]
//   net: { handled (bigint), ports: [{ port, access (bigint) }] }: TCP
//   bind and connect rights, and the ports each is granted on.
//   kind: 'tree' (inpath: the path and all beneath it), 'file' (eq: that
//   one file), 'below' (match "D/*": only what is under directory D).
// Each path is opened with RESOLVE_NO_SYMLINKS: policies are matched on
// paths with every symlink resolved, so a rule whose own path passes
// through a symlink matches nothing there, and must grant nothing here.
// A 'file' rule on a directory would grant everything beneath it, and a
// 'below' rule on a file would grant a file the pattern does not match:
// both are skipped (stricter, never looser). So is a path that does not
// exist.
Napi::Value LandlockRuleset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t handled = ArgU64(info, 0);
  if (!info[1].IsArray()) throw Napi::TypeError::New(env, "landlockRuleset: rules must be an array");
  Napi::Array rules = info[1].As<Napi::Array>();
  bool hasNet = info.Length() > 2 && info[2].IsObject();
  RulesetAttrNet attr = {};
  attr.handled_access_fs = handled;
  Napi::Array ports = Napi::Array::New(env);
  if (hasNet) {
    Napi::Object net = info[2].As<Napi::Object>();
    bool lossless = false;
    attr.handled_access_net = net.Get("handled").As<Napi::BigInt>().Uint64Value(&lossless);
    if (!net.Get("ports").IsArray()) throw Napi::TypeError::New(env, "landlockRuleset: net.ports must be an array");
    ports = net.Get("ports").As<Napi::Array>();
  }
  // The old size when no network right is handled: kernels before 6.7
  // refuse the longer attribute.
  size_t size = hasNet ? sizeof attr : sizeof(struct landlock_ruleset_attr);
  long rs = syscall(SYS_landlock_create_ruleset, &attr, size, 0);
  if (rs < 0) ThrowErrno(env, "landlock_create_ruleset", errno);
  int fd = (int)rs;
  Napi::Array skipped = Napi::Array::New(env);
  uint32_t i = 0;
  auto skip = [&](const std::string& path, const std::string& why) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", i);
    o.Set("path", path);
    o.Set("why", why);
    skipped.Set(skipped.Length(), o);
  };
  try {
    for (i = 0; i < rules.Length(); i++) {
      Napi::Object r = rules.Get(i).As<Napi::Object>();
      std::string path = r.Get("path").As<Napi::String>().Utf8Value();
      bool lossless = false;
      uint64_t access = r.Get("access").As<Napi::BigInt>().Uint64Value(&lossless);
      std::string kind = r.Get("kind").As<Napi::String>().Utf8Value();
      if (kind != "tree" && kind != "file" && kind != "below") throw Napi::Error::New(env, "landlockRuleset: unknown kind " + kind);
      if (path.empty() || path[0] != '/') throw Napi::Error::New(env, "landlockRuleset: not an absolute path: " + path);
      // A NUL inside would make c_str() name a shorter path: another file.
      if (path.find('\0') != std::string::npos) throw Napi::Error::New(env, "landlockRuleset: a NUL in a path");
      struct open_how how = {};
      how.flags = O_PATH | O_CLOEXEC;
      how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
      long pfd = syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof how);
      if (pfd < 0) {
        int e = errno;
        skip(path, e == ELOOP ? "passes through a symlink: the policy's resolved paths never do" : std::string("cannot be opened: ") + ErrnoName(e));
        continue;
      }
      struct stat st;
      if (fstat((int)pfd, &st) < 0) {
        int e = errno;
        close((int)pfd);
        ThrowErrno(env, "fstat", e);
      }
      if (S_ISDIR(st.st_mode) ? kind == "file" : kind == "below") {
        close((int)pfd);
        skip(path, kind == "file" ? "a directory named by eq: Landlock would grant what is under it too"
                                  : "not a directory: the pattern matches nothing under it");
        continue;
      }
      if (!S_ISDIR(st.st_mode)) access &= kFileRights;
      if (access == 0) {
        close((int)pfd);
        continue;
      }
      struct landlock_path_beneath_attr pb = {};
      pb.allowed_access = access;
      pb.parent_fd = (int)pfd;
      long ok = syscall(SYS_landlock_add_rule, fd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
      int e = errno;
      close((int)pfd);
      if (ok < 0) ThrowErrno(env, "landlock_add_rule", e);
    }
    for (uint32_t k = 0; k < ports.Length(); k++) {
      Napi::Object r = ports.Get(k).As<Napi::Object>();
      double port = r.Get("port").As<Napi::Number>().DoubleValue();
      if (!(port >= 0 && port <= 65535) || port != (double)(uint32_t)port) throw Napi::RangeError::New(env, "landlockRuleset: a port must be 0..65535");
      bool lossless = false;
      NetPortAttr np = {};
      np.allowed_access = r.Get("access").As<Napi::BigInt>().Uint64Value(&lossless);
      np.port = (uint64_t)port;
      if (syscall(SYS_landlock_add_rule, fd, kRuleNetPort, &np, 0) < 0) ThrowErrno(env, "landlock_add_rule (port)", errno);
    }
  } catch (...) {
    close(fd);  // nothing half-built leaves here
    throw;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", fd);
  out.Set("skipped", skipped);
  return out;
}

// socketKind(fd) -> { domain, type, protocol, cloexec } for a socket, or
// null when fd is not one (or not open). What the program would inherit.
Napi::Value SocketKind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0);
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return env.Null();
  int v[3];
  const int opts[3] = {SO_DOMAIN, SO_TYPE, SO_PROTOCOL};
  for (int i = 0; i < 3; i++) {
    socklen_t len = sizeof v[i];
    if (getsockopt(fd, SOL_SOCKET, opts[i], &v[i], &len) < 0) {
      if (errno == ENOTSOCK || errno == EBADF) return env.Null();
      ThrowErrno(env, "getsockopt", errno);
    }
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("domain", v[0]);
  o.Set("type", v[1]);
  o.Set("protocol", v[2]);
  o.Set("cloexec", (flags & FD_CLOEXEC) != 0);
  return o;
}

}  // namespace

void InitLandlock(Napi::Env env, Napi::Object exports) {
  exports.Set("landlockAbi", Napi::Function::New(env, LandlockAbi));
  exports.Set("landlockRuleset", Napi::Function::New(env, LandlockRuleset));
  exports.Set("socketKind", Napi::Function::New(env, SocketKind));
}

}  // namespace systrace
