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

// The ABI version, or 0 when the kernel has no Landlock or it is disabled.
Napi::Value LandlockAbi(const Napi::CallbackInfo& info) {
  long v = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return Napi::Number::New(info.Env(), v < 0 ? 0 : (double)v);
}

// landlockRuleset(handled, rules) -> { fd, skipped: [{ index, path, why }] }
//   rules: [{ path, access (bigint), kind }]
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
  struct landlock_ruleset_attr attr = {};
  attr.handled_access_fs = handled;
  long rs = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
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
  } catch (...) {
    close(fd);  // nothing half-built leaves here
    throw;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", fd);
  out.Set("skipped", skipped);
  return out;
}

}  // namespace

void InitLandlock(Napi::Env env, Napi::Object exports) {
  exports.Set("landlockAbi", Napi::Function::New(env, LandlockAbi));
  exports.Set("landlockRuleset", Napi::Function::New(env, LandlockRuleset));
}

}  // namespace systrace
