// Filename normalisation against the target's view, and the path calls the
// supervisor performs on the target's behalf.
//
// Normalisation resolves `.`, `..` and symlinks against the target's cwd or
// dirfd (read from /proc/TID, never the tracer's own), rewriting
// /proc/self and /proc/thread-self to the target's pids at each step.
//
// Every emulated call then works on the normalised path with
// RESOLVE_NO_SYMLINKS: the path has no symlink left in it, so a symlink met
// on the way means someone swapped a component after the check, and the
// call fails with ELOOP instead of reaching another object.
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stddef.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <vector>

namespace systrace {

namespace {

constexpr int kMaxLinks = 40;  // the kernel's own limit (MAXSYMLINKS)

struct Fd {
  int fd = -1;
  ~Fd() { if (fd >= 0) close(fd); }
};

bool ReadLink(const std::string& path, std::string* out) {
  char buf[PATH_MAX + 1];
  ssize_t n = readlink(path.c_str(), buf, PATH_MAX);
  if (n < 0) return false;
  out->assign(buf, (size_t)n);
  return true;
}

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

std::string Join(const std::vector<std::string>& parts) {
  if (parts.empty()) return "/";
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out;
}

// Result codes of Resolve, besides a path.
enum class Resolved { kOk, kMissing, kError };

// Resolve `path` for task `tid` of process `tgid`. `base` is the absolute
// directory a relative path starts from. With followLast=false the last
// component is kept as it is (lstat, unlink, rename, O_NOFOLLOW ...).
// On kMissing a component before the last does not exist (or is not a
// directory): the path cannot be normalised.
int TgidOf(int tid) {
  FILE* f = fopen(("/proc/" + std::to_string(tid) + "/status").c_str(), "re");
  if (f == nullptr) return tid;
  char line[256];
  int tgid = tid;
  while (fgets(line, sizeof line, f) != nullptr) {
    if (strncmp(line, "Tgid:", 5) == 0) {
      tgid = atoi(line + 5);
      break;
    }
  }
  fclose(f);
  return tgid;
}

Resolved Resolve(int tgid, int tid, const std::string& base, const std::string& path, bool followLast,
                 std::string* out, int* err, std::vector<std::string>* dirs = nullptr, std::string* magic = nullptr) {
  std::vector<std::string> done;
  std::vector<std::string> todo;  // reversed: back() is the next component
  auto pushTodo = [&todo](const std::string& p) {
    std::vector<std::string> parts = Split(p);
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo.push_back(*it);
  };
  pushTodo(path);
  if (path.empty() || path[0] != '/') done = Split(base);
  int links = 0;
  while (!todo.empty()) {
    std::string c = todo.back();
    todo.pop_back();
    if (c == ".") continue;
    if (c == "..") {
      if (!done.empty()) done.pop_back();
      continue;
    }
    // The target's /proc/self is not ours: name its pids instead.
    if (done.size() == 1 && done[0] == "proc" && (c == "self" || c == "thread-self")) {
      if (tgid <= 0) tgid = TgidOf(tid);
      if (c == "self") c = std::to_string(tgid);
      else if (c == "thread-self") {
        done.push_back(std::to_string(tgid));
        done.push_back("task");
        c = std::to_string(tid);
      }
    }
    done.push_back(c);
    if (dirs != nullptr) dirs->push_back(Join(done));  // every name looked up, in its directory
    bool last = todo.empty();
    if (last && !followLast) break;
    std::string cur = Join(done);
    struct stat st;
    if (lstat(cur.c_str(), &st) < 0) {
      if (errno == ENOENT && last) break;  // a name to be created
      if (errno != ENOENT && errno != ENOTDIR) {
        *err = errno;
        return Resolved::kError;
      }
      // A directory on the way does not exist: there is nothing left to
      // resolve, so the rest is normalised lexically. The call itself will
      // fail as the kernel decides (ENOENT, ENOTDIR) if it is permitted.
      *err = errno;
      while (!todo.empty()) {
        std::string r = todo.back();
        todo.pop_back();
        if (r == ".") continue;
        if (r == "..") {
          if (!done.empty()) done.pop_back();
        } else {
          done.push_back(r);
        }
      }
      *out = Join(done);
      return Resolved::kMissing;
    }
    if (S_ISLNK(st.st_mode)) {
      if (++links > kMaxLinks) {
        *err = ELOOP;
        return Resolved::kError;
      }
      std::string target;
      if (!ReadLink(cur, &target)) {
        *err = errno;
        return Resolved::kError;
      }
      if (target.empty() || target[0] != '/') {
        if (target.find(':') != std::string::npos && cur.rfind("/proc/", 0) == 0) {
          // A /proc magic link to something that is not a path (pipe:[N],
          // socket:[N], anon_inode:...): the link itself is the name.
          if (magic != nullptr) *magic = target;
          continue;
        }
        done.pop_back();
      } else {
        done.clear();
      }
      pushTodo(target);
    } else if (!last && !S_ISDIR(st.st_mode)) {
      *err = ENOTDIR;
      while (!todo.empty()) {
        done.push_back(todo.back());
        todo.pop_back();
      }
      *out = Join(done);
      return Resolved::kMissing;
    }
  }
  *out = Join(done);
  // A trailing slash asks for a directory: "file/" is ENOTDIR to the
  // kernel, for stat as for unlink (which must not remove the file), and
  // so is "link/" where the last symlink is not followed (unlink, rmdir,
  // rename; lstat and readlink would follow it and get ENOTDIR here
  // instead: an error either way, never another object). A name that
  // does not exist yet is left to the call (mkdir "new/" is fine).
  if (path.size() > 1 && path.back() == '/' && !done.empty()) {
    struct stat st;
    if (lstat(out->c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
      *err = ENOTDIR;
      return Resolved::kMissing;
    }
  }
  return Resolved::kOk;
}

// Where a relative path starts for task tid: its cwd, or the directory its
// dirfd is open on (0, or -errno as the kernel would give: EBADF for an fd
// that is not open, ENOTDIR for one that names no directory path).
int BaseOf(int tid, int dirfd, std::string* base) {
  std::string link = "/proc/" + std::to_string(tid) + (dirfd == AT_FDCWD ? "/cwd" : "/fd/" + std::to_string(dirfd));
  if (!ReadLink(link, base)) return errno == ENOENT ? -EBADF : -errno;
  if (base->empty() || (*base)[0] != '/') return -ENOTDIR;
  return 0;
}

// resolvePath(tgid, tid, dirfd, path, followLast) -> (tgid 0: looked up when needed)
//   {path: string} | {missing: string, errno: number} | -errno
// `missing`: a directory on the way does not exist; the path is normalised
// as far as it goes and lexically after that, with the errno the kernel
// would give.
// dirfd is the target's (AT_FDCWD = -100 for its cwd).
Napi::Value ResolvePath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int tgid = ArgInt(info, 0);
  int tid = ArgInt(info, 1);
  int dirfd = ArgInt(info, 2);
  std::string path = ArgString(info, 3);
  bool followLast = info[4].ToBoolean();
  std::string base = "/";
  if (path.empty() || path[0] != '/') {
    int rc = BaseOf(tid, dirfd, &base);
    if (rc < 0) return Napi::Number::New(env, rc);
  }
  std::string out;
  int err = 0;
  bool wantDirs = info.Length() > 5 && info[5].ToBoolean();
  std::vector<std::string> dirs;
  std::string magic;
  Resolved r = Resolve(tgid, tid, base, path, followLast, &out, &err, wantDirs ? &dirs : nullptr, &magic);
  Napi::Object o = Napi::Object::New(env);
  if (wantDirs) {
    Napi::Array d = Napi::Array::New(env, dirs.size());
    for (size_t k = 0; k < dirs.size(); k++) d.Set((uint32_t)k, dirs[k]);
    o.Set("dirs", d);
  }
  if (!magic.empty()) o.Set("magic", magic);
  if (r == Resolved::kError) return Napi::Number::New(env, -err);
  // A cwd, dirfd or symlink text that is not UTF-8: see ValidUtf8.
  if (!ValidUtf8(out) || !ValidUtf8(magic)) return Napi::Number::New(env, -EILSEQ);
  if (r == Resolved::kMissing) {
    o.Set("missing", out);
    o.Set("errno", err);
    return o;
  }
  o.Set("path", out);
  return o;
}

int Openat2(int dirfd, const std::string& path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = flags;
  how.mode = mode;
  how.resolve = resolve;
  return (int)syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
}

// Paths under /proc/PID/ may end in a magic link the policy named as such;
// every other normalised path has no symlink left in it.
uint64_t ResolveFlags(const std::string& path) {
  return path.rfind("/proc/", 0) == 0 ? 0 : RESOLVE_NO_SYMLINKS;
}

// openResolved(path, flags, mode) -> fd | -errno. The fd is ours
// (close-on-exec); the caller injects it with ADDFD and closes it.
Napi::Value OpenResolved(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0);
  uint64_t flags = (uint64_t)(uint32_t)ArgInt(info, 1);
  uint64_t mode = (uint64_t)(uint32_t)ArgInt(info, 2);
  if (!(flags & (O_CREAT | __O_TMPFILE))) mode = 0;  // openat2 insists
  int fd = Openat2(AT_FDCWD, path, flags | O_CLOEXEC, mode, ResolveFlags(path));
  if (fd < 0) return Napi::Number::New(info.Env(), -errno);
  if (info.Length() > 3 && info[3].IsString()) {
    // A /proc magic link that was checked as a name (pipe:[N] ...): the
    // object opened must still be that one, not whatever another thread
    // dup2()ed onto the descriptor since.
    std::string expect = ArgString(info, 3);
    std::string got;
    if (!ReadLink("/proc/self/fd/" + std::to_string(fd), &got) || got != expect) {
      close(fd);
      return Napi::Number::New(info.Env(), -EACCES);
    }
  }
  return Napi::Number::New(info.Env(), fd);
}

// Opens the directory that holds the last component, with no symlink on
// the way, and gives the last component's name.
int OpenParent(const std::string& path, std::string* name) {
  size_t slash = path.rfind('/');
  std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  *name = path.substr(slash + 1);
  if (name->empty()) *name = ".";
  return Openat2(AT_FDCWD, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, ResolveFlags(dir));
}

// pathCall(op, path, a, b, path2|name, buffer) -> number (result or -errno) | Buffer
// The closed set of path operations the supervisor performs for a target.
Napi::Value PathCall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string op = ArgString(info, 0);
  std::string path = ArgString(info, 1);
  int64_t a = info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : 0;
  int64_t b = info[3].IsNumber() ? info[3].As<Napi::Number>().Int64Value() : 0;
  auto result = [&env](int rc) { return Napi::Number::New(env, rc < 0 ? -errno : rc); };
  // Shared with the listener's fast path (they open the parent themselves).
  if (op == "stat" || op == "lstat") {
    struct stat st;
    int rc = StatNormalised(path, &st);
    if (rc < 0) return Napi::Number::New(env, rc);
    return Napi::Buffer<char>::Copy(env, reinterpret_cast<char*>(&st), sizeof st);
  }
  if (op == "readlink") {
    char buf[PATH_MAX];
    ssize_t n = ReadlinkNormalised(path, buf, sizeof buf);
    if (n < 0) return Napi::Number::New(env, (double)n);
    return Napi::Buffer<char>::Copy(env, buf, (size_t)n);
  }

  std::string name;
  Fd dir;
  dir.fd = OpenParent(path, &name);
  if (dir.fd < 0) return Napi::Number::New(env, -errno);

  if (op == "statx") {
    struct statx stx;
    if (statx(dir.fd, name.c_str(), AT_SYMLINK_NOFOLLOW | (int)(b & AT_STATX_SYNC_TYPE), (unsigned)a, &stx) < 0)
      return Napi::Number::New(env, -errno);
    return Napi::Buffer<char>::Copy(env, reinterpret_cast<char*>(&stx), sizeof stx);
  }
  if (op == "access") return result(faccessat(dir.fd, name.c_str(), (int)a, AT_SYMLINK_NOFOLLOW | (int)(b & AT_EACCESS)));
  if (op == "unlink") return result(unlinkat(dir.fd, name.c_str(), 0));
  if (op == "rmdir") return result(unlinkat(dir.fd, name.c_str(), AT_REMOVEDIR));
  if (op == "mkdir") return result(mkdirat(dir.fd, name.c_str(), (mode_t)a));
  if (op == "mknod") return result(mknodat(dir.fd, name.c_str(), (mode_t)a, (dev_t)b));
  if (op == "symlink") {
    // path is where the link goes; path2 (info[4]) is its text, not resolved.
    std::string text = ArgString(info, 4);
    return result(symlinkat(text.c_str(), dir.fd, name.c_str()));
  }
  if (op == "rename" || op == "link") {
    std::string path2 = ArgString(info, 4);
    std::string name2;
    Fd dir2;
    dir2.fd = OpenParent(path2, &name2);
    if (dir2.fd < 0) return Napi::Number::New(env, -errno);
    if (op == "rename")
      return result((int)syscall(SYS_renameat2, dir.fd, name.c_str(), dir2.fd, name2.c_str(), (unsigned)a));
    return result(linkat(dir.fd, name.c_str(), dir2.fd, name2.c_str(), 0));
  }
  // The rest act on the object itself: take it by an O_PATH fd that no
  // symlink led to, then act on that fd.
  Fd obj;
  obj.fd = openat(dir.fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (obj.fd < 0) return Napi::Number::New(env, -errno);
  std::string viaFd = "/proc/self/fd/" + std::to_string(obj.fd);
  if (op == "lgetxattr" || op == "llistxattr" || op == "lsetxattr" || op == "lremovexattr") {
    // lgetxattr & co. on a symlink: the magic link below would lead on to
    // its target. Linux keeps no user attributes on symlinks anyway.
    struct stat st;
    if (fstat(obj.fd, &st) == 0 && S_ISLNK(st.st_mode)) return Napi::Number::New(env, -EOPNOTSUPP);
    op = op.substr(1);
  }
  if (op == "chmod") return result(chmod(viaFd.c_str(), (mode_t)a));
  if (op == "chown") return result(fchownat(obj.fd, "", (uid_t)a, (gid_t)b, AT_EMPTY_PATH));
  if (op == "truncate") {
    Fd w;
    w.fd = open(viaFd.c_str(), O_WRONLY | O_CLOEXEC);
    if (w.fd < 0) return Napi::Number::New(env, -errno);
    return result(ftruncate(w.fd, (off_t)a));
  }
  if (op == "utimens") {
    // info[5]: two struct timespec (x86_64 layout) or undefined for "now".
    const struct timespec* times = nullptr;
    if (info[5].IsBuffer()) {
      Napi::Buffer<char> t = info[5].As<Napi::Buffer<char>>();
      if (t.Length() != 2 * sizeof(struct timespec)) throw Napi::RangeError::New(env, "pathCall utimens: bad times");
      times = reinterpret_cast<const struct timespec*>(t.Data());
    }
    return result(utimensat(obj.fd, "", times, AT_EMPTY_PATH));
  }
  if (op == "statfs") {
    struct statfs sfs;
    if (fstatfs(obj.fd, &sfs) < 0) return Napi::Number::New(env, -errno);
    return Napi::Buffer<char>::Copy(env, reinterpret_cast<char*>(&sfs), sizeof sfs);
  }
  if (op == "getxattr" || op == "setxattr" || op == "listxattr" || op == "removexattr") {
    // Through the magic link of our O_PATH fd: exactly that inode, and the
    // f*xattr calls do not take O_PATH fds.
    std::string attr = info[4].IsString() ? ArgString(info, 4) : "";
    if (op == "getxattr" || op == "listxattr") {
      size_t size = (size_t)a;
      if (size > 65536) size = 65536;
      std::string buf(size, '\0');
      ssize_t n = op == "getxattr" ? getxattr(viaFd.c_str(), attr.c_str(), size ? buf.data() : nullptr, size)
                                   : listxattr(viaFd.c_str(), size ? buf.data() : nullptr, size);
      if (n < 0) return Napi::Number::New(env, -errno);
      if (size == 0) return Napi::Number::New(env, (double)n);
      return Napi::Buffer<char>::Copy(env, buf.data(), (size_t)n);
    }
    if (op == "removexattr") return result(removexattr(viaFd.c_str(), attr.c_str()));
    if (!info[5].IsBuffer()) throw Napi::TypeError::New(env, "pathCall setxattr: value must be a Buffer");
    Napi::Buffer<char> value = info[5].As<Napi::Buffer<char>>();
    return result(setxattr(viaFd.c_str(), attr.c_str(), value.Data(), value.Length(), (int)a));
  }
  if (op == "inotify_add_watch") {
    // a: our duplicate of the target's inotify fd; b: the mask. The watch
    // lands on the target's inotify instance, which the fd shares.
    return result(inotify_add_watch((int)a, viaFd.c_str(), (uint32_t)b & ~IN_DONT_FOLLOW));
  }
  if (op == "chdir") {
    // Nothing to perform here: a chdir cannot be done for another process.
    // The caller only needs to know the directory is enterable.
    return result(faccessat(obj.fd, "", X_OK, AT_EMPTY_PATH));
  }
  throw Napi::Error::New(env, "pathCall: unknown operation " + op);
}

// fdStat(fd) -> Buffer(struct stat) | -errno, for fstat-shaped calls on an
// fd taken from the target.
Napi::Value FdStat(const Napi::CallbackInfo& info) {
  struct stat st;
  if (fstat(ArgInt(info, 0), &st) < 0) return Napi::Number::New(info.Env(), -errno);
  return Napi::Buffer<char>::Copy(info.Env(), reinterpret_cast<char*>(&st), sizeof st);
}

Napi::Value FdStatx(const Napi::CallbackInfo& info) {
  struct statx stx;
  int fd = ArgInt(info, 0);
  if (statx(fd, "", AT_EMPTY_PATH | (ArgInt(info, 2) & AT_STATX_SYNC_TYPE), (unsigned)ArgInt(info, 1), &stx) < 0)
    return Napi::Number::New(info.Env(), -errno);
  return Napi::Buffer<char>::Copy(info.Env(), reinterpret_cast<char*>(&stx), sizeof stx);
}

// fdUtimens(fd, times Buffer | undefined) -> 0 | -errno
Napi::Value FdUtimens(const Napi::CallbackInfo& info) {
  const struct timespec* times = nullptr;
  if (info[1].IsBuffer()) {
    Napi::Buffer<char> t = info[1].As<Napi::Buffer<char>>();
    if (t.Length() != 2 * sizeof(struct timespec)) throw Napi::RangeError::New(info.Env(), "fdUtimens: bad times");
    times = reinterpret_cast<const struct timespec*>(t.Data());
  }
  int rc = futimens(ArgInt(info, 0), times);
  return Napi::Number::New(info.Env(), rc < 0 ? -errno : 0);
}

// unixPathVia(path, forBind) -> {fd, addr: Buffer} | -errno
// A unix socket path the supervisor checked, made into an address that
// reaches exactly that object: for connect, an O_PATH fd of the socket
// itself (reached with no symlink) as /proc/self/fd/N; for bind (the name
// does not exist yet), the directory's O_PATH fd as /proc/self/fd/N/name.
// The caller closes fd once the call is done.
Napi::Value UnixPathVia(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0);
  bool forBind = info[1].ToBoolean();
  std::string via;
  int fd;
  if (forBind) {
    std::string name;
    fd = OpenParent(path, &name);
    if (fd < 0) return Napi::Number::New(env, -errno);
    via = "/proc/self/fd/" + std::to_string(fd) + "/" + name;
  } else {
    fd = Openat2(AT_FDCWD, path, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, ResolveFlags(path));
    if (fd < 0) return Napi::Number::New(env, -errno);
    via = "/proc/self/fd/" + std::to_string(fd);
  }
  struct sockaddr_un sun = {};
  sun.sun_family = AF_UNIX;
  if (via.size() >= sizeof sun.sun_path) {
    close(fd);
    return Napi::Number::New(env, -ENAMETOOLONG);
  }
  memcpy(sun.sun_path, via.c_str(), via.size() + 1);
  Napi::Object o = Napi::Object::New(env);
  o.Set("fd", fd);
  o.Set("addr", Napi::Buffer<char>::Copy(env, reinterpret_cast<char*>(&sun), offsetof(struct sockaddr_un, sun_path) + via.size() + 1));
  return o;
}

Napi::Value Umask(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), umask((mode_t)ArgInt(info, 0)));
}

}  // namespace

// The listener's fast path (notify.cc) normalises as resolvePath does, and
// acts through the same functions as pathCall, without a trip through JS.
bool FastResolve(int tid, int dirfd, const std::string& path, bool followLast, std::string* out) {
  if (path.empty()) return false;
  std::string base = "/";
  if (path[0] != '/' && BaseOf(tid, dirfd, &base) < 0) return false;
  int err = 0;
  std::string magic;
  return Resolve(0, tid, base, path, followLast, out, &err, nullptr, &magic) == Resolved::kOk && magic.empty();
}

// The normalised path has its last symlink resolved already for stat, and
// kept for lstat: both look at exactly that name, no following.
int StatNormalised(const std::string& path, struct stat* st) {
  std::string name;
  Fd dir;
  dir.fd = OpenParent(path, &name);
  if (dir.fd < 0) return -errno;
  return fstatat(dir.fd, name.c_str(), st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

ssize_t ReadlinkNormalised(const std::string& path, char* buf, size_t size) {
  std::string name;
  Fd dir;
  dir.fd = OpenParent(path, &name);
  if (dir.fd < 0) return -errno;
  ssize_t n = readlinkat(dir.fd, name.c_str(), buf, size);
  return n < 0 ? -errno : n;
}

void InitPath(Napi::Env env, Napi::Object exports) {
  exports.Set("resolvePath", Napi::Function::New(env, ResolvePath));
  exports.Set("openResolved", Napi::Function::New(env, OpenResolved));
  exports.Set("pathCall", Napi::Function::New(env, PathCall));
  exports.Set("fdStat", Napi::Function::New(env, FdStat));
  exports.Set("fdStatx", Napi::Function::New(env, FdStatx));
  exports.Set("fdUtimens", Napi::Function::New(env, FdUtimens));
  exports.Set("unixPathVia", Napi::Function::New(env, UnixPathVia));
  exports.Set("setUmask", Napi::Function::New(env, Umask));
}

}  // namespace systrace
