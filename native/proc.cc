// The target's memory and file descriptors, and fd passing.
//
// Reads of the target's memory are bounded and page-wise: an unmapped page
// gives EFAULT to the caller as a value, never a crash of the tracer.
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <linux/seccomp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/ioctl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <uv.h>
#include <thread>
#include <vector>
#include <time.h>
#include <unistd.h>

namespace systrace {

namespace {
constexpr size_t kPage = 4096;
constexpr size_t kMaxRead = 1 << 20;
}  // namespace

int ReadTargetString(pid_t pid, uint64_t addr, size_t max, std::string* out) {
  if (addr == 0) return -EFAULT;
  char buf[kPage];
  while (out->size() < max) {
    size_t chunk = kPage - (addr % kPage);
    if (chunk > max - out->size()) chunk = max - out->size();
    struct iovec local = {buf, chunk};
    struct iovec remote = {reinterpret_cast<void*>(addr), chunk};
    ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n <= 0) return n < 0 ? -errno : -EFAULT;
    void* nul = memchr(buf, 0, (size_t)n);
    if (nul != nullptr) {
      out->append(buf, (size_t)(static_cast<char*>(nul) - buf));
      return 0;
    }
    out->append(buf, (size_t)n);
    addr += (uint64_t)n;
  }
  return -ENAMETOOLONG;
}

int WriteTarget(pid_t pid, uint64_t addr, const void* data, size_t len) {
  if (len == 0) return 0;
  if (addr == 0) return -EFAULT;
  struct iovec local = {const_cast<void*>(data), len};
  struct iovec remote = {reinterpret_cast<void*>(addr), len};
  ssize_t n = process_vm_writev(pid, &local, 1, &remote, 1, 0);
  if (n < 0) return -errno;
  return (size_t)n == len ? 0 : -EFAULT;
}

namespace {

// procReadString(pid, addr, max, utf8) -> string | -errno
// Stops at the first NUL; ENAMETOOLONG when none is found within max bytes.
// utf8 (paths, link texts, attribute names): EILSEQ when the bytes are not
// UTF-8, which a JS string cannot carry unchanged.
Napi::Value ReadString(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = ArgInt(info, 0);
  uint64_t addr = ArgU64(info, 1);
  int32_t max = ArgInt(info, 2);
  bool strict = info.Length() > 3 && info[3].ToBoolean();
  if (max <= 0 || (size_t)max > kMaxRead) throw Napi::RangeError::New(env, "procReadString: bad max");
  std::string out;
  int rc = ReadTargetString(pid, addr, (size_t)max, &out);
  if (rc < 0) return Napi::Number::New(env, rc);
  if (strict && !ValidUtf8(out)) return Napi::Number::New(env, -EILSEQ);
  return Napi::String::New(env, out);
}

// procReadMemory(pid, addr, len) -> Buffer | -errno (all of it or an error)
Napi::Value ReadMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = ArgInt(info, 0);
  uint64_t addr = ArgU64(info, 1);
  int32_t len = ArgInt(info, 2);
  if (len < 0 || (size_t)len > kMaxRead) throw Napi::RangeError::New(env, "procReadMemory: bad length");
  Napi::Buffer<char> out = Napi::Buffer<char>::New(env, (size_t)len);
  if (len == 0) return out;
  if (addr == 0) return Napi::Number::New(env, -EFAULT);
  struct iovec local = {out.Data(), (size_t)len};
  struct iovec remote = {reinterpret_cast<void*>(addr), (size_t)len};
  ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n < 0) return Napi::Number::New(env, -errno);
  if (n != len) return Napi::Number::New(env, -EFAULT);
  return out;
}

// procWriteMemory(pid, addr, buffer) -> 0 | -errno
Napi::Value WriteMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = ArgInt(info, 0);
  uint64_t addr = ArgU64(info, 1);
  if (!info[2].IsBuffer()) throw Napi::TypeError::New(env, "procWriteMemory: expected a Buffer");
  Napi::Buffer<char> data = info[2].As<Napi::Buffer<char>>();
  return Napi::Number::New(env, WriteTarget(pid, addr, data.Data(), data.Length()));
}

// Added in Linux 6.9: a pidfd for one thread, not only a thread-group
// leader, so a notification's tid can be used as it is.
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

// pidfdOpen(pid, thread) -> fd | -errno
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  unsigned flags = info[1].ToBoolean() ? PIDFD_THREAD : 0;
  int rc = (int)syscall(SYS_pidfd_open, ArgInt(info, 0), flags);
  return Napi::Number::New(info.Env(), rc < 0 ? -errno : rc);
}

// pidfdGetfd(pidfd, targetfd) -> fd (close-on-exec) | -errno
Napi::Value PidfdGetfd(const Napi::CallbackInfo& info) {
  int rc = (int)syscall(SYS_pidfd_getfd, ArgInt(info, 0), ArgInt(info, 1), 0);
  return Napi::Number::New(info.Env(), rc < 0 ? -errno : rc);
}

// sameMemory(pid1, pid2) -> 1 if the two share one address space, 0 if
// not, -errno. kcmp(KCMP_VM): how a vfork child is told from its parent.
Napi::Value SameMemory(const Napi::CallbackInfo& info) {
  constexpr int kKcmpVm = 1;  // KCMP_VM, linux/kcmp.h
  long rc = syscall(SYS_kcmp, ArgInt(info, 0), ArgInt(info, 1), kKcmpVm, 0, 0);
  return Napi::Number::New(info.Env(), rc < 0 ? -errno : rc == 0 ? 1 : 0);
}

// procFile(path, max) -> latin1 string | -errno: a small file of /proc
// (stat, status, maps), read whole with one open and as few reads as it
// takes. fs.readFileSync costs four times as much on the execve path, where
// three such files are read per call. ENOSPC when the file is longer than
// max bytes: a caller never judges by half a file.
Napi::Value ProcFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  size_t max = (size_t)info[1].As<Napi::Number>().Int64Value();
  constexpr size_t kMaxProcFile = 64 << 20;  // the maps text of a process with a million mappings
  if (max > kMaxProcFile) max = kMaxProcFile;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return Napi::Number::New(env, -errno);
  std::string out;
  char buf[kPage];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return Napi::Number::New(env, -e);
    }
    if (n == 0) break;
    if (out.size() + (size_t)n > max) {
      close(fd);
      return Napi::Number::New(env, -ENOSPC);
    }
    out.append(buf, (size_t)n);
  }
  close(fd);
  std::u16string text(out.size(), u'\0');  // latin1: each byte one char
  for (size_t i = 0; i < out.size(); i++) text[i] = (unsigned char)out[i];
  return Napi::String::New(env, text);
}

// Added in Linux 6.11 (linux/fs.h): ask /proc/PID/maps for the one mapping
// that covers an address, without the kernel printing every mapping as text.
struct ProcmapQuery {
  uint64_t size;
  uint64_t query_flags;
  uint64_t query_addr;
  uint64_t vma_start;
  uint64_t vma_end;
  uint64_t vma_flags;
  uint64_t vma_page_size;
  uint64_t vma_offset;
  uint64_t inode;
  uint32_t dev_major;
  uint32_t dev_minor;
  uint32_t vma_name_size;
  uint32_t build_id_size;
  uint64_t vma_name_addr;
  uint64_t build_id_addr;
};
static_assert(sizeof(ProcmapQuery) == 104, "struct procmap_query is 104 bytes");
constexpr unsigned long kProcmapQuery = _IOWR('f', 17, ProcmapQuery);
constexpr uint64_t kProcmapVmaShared = 0x08;

// procMappings(pid, addrs) -> [{lo, hi, private, major, minor, inode, file} | null] | -errno
// The mapping covering each address (null where none does), as a line of
// /proc/PID/maps would show it; inode "0" for anonymous memory. ENOTTY on
// kernels before 6.11: the caller reads the maps text instead.
Napi::Value ProcMappings(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = ArgInt(info, 0);
  Napi::Array addrs = info[1].As<Napi::Array>();
  std::string path = "/proc/" + std::to_string(pid) + "/maps";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Napi::Number::New(env, -errno);
  Napi::Array out = Napi::Array::New(env, addrs.Length());
  char name[PATH_MAX + 1];
  // argv's pointers and strings mostly share one or two mappings: each
  // mapping is asked for once.
  std::vector<std::pair<ProcmapQuery, Napi::Object>> found;
  for (uint32_t i = 0; i < addrs.Length(); i++) {
    bool lossless = false;
    uint64_t addr = addrs.Get(i).As<Napi::BigInt>().Uint64Value(&lossless);
    bool known = false;
    for (auto& [q, m] : found)
      if (lossless && addr >= q.vma_start && addr < q.vma_end) {
        out.Set(i, m);
        known = true;
        break;
      }
    if (known) continue;
    ProcmapQuery q = {};
    q.size = sizeof q;
    q.query_addr = addr;
    q.vma_name_addr = reinterpret_cast<uintptr_t>(name);
    q.vma_name_size = sizeof name;
    if (!lossless) {
      out.Set(i, env.Null());
      continue;
    }
    if (ioctl(fd, kProcmapQuery, &q) < 0) {
      int e = errno;
      if (e == ENOENT) {
        out.Set(i, env.Null());
        continue;
      }
      close(fd);
      return Napi::Number::New(env, -e);
    }
    Napi::Object m = Napi::Object::New(env);
    m.Set("lo", Napi::BigInt::New(env, q.vma_start));
    m.Set("hi", Napi::BigInt::New(env, q.vma_end));
    m.Set("private", Napi::Boolean::New(env, (q.vma_flags & kProcmapVmaShared) == 0));
    m.Set("major", Napi::Number::New(env, q.dev_major));
    m.Set("minor", Napi::Number::New(env, q.dev_minor));
    m.Set("inode", Napi::String::New(env, std::to_string(q.inode)));
    m.Set("file", Napi::String::New(env, q.vma_name_size > 0 ? std::string(name, strnlen(name, q.vma_name_size)) : std::string()));
    out.Set(i, m);
    found.emplace_back(q, m);
  }
  close(fd);
  return out;
}

// fileLock(fd, lock) -> 0 | -errno: flock(LOCK_EX) when lock, else LOCK_UN.
// Blocks: writers of one audit log take turns.
Napi::Value FileLock(const Napi::CallbackInfo& info) {
  int rc;
  do rc = flock(ArgInt(info, 0), info[1].ToBoolean() ? LOCK_EX : LOCK_UN);
  while (rc < 0 && errno == EINTR);
  return Napi::Number::New(info.Env(), rc < 0 ? -errno : 0);
}

// closeFd(fd)
Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  close(ArgInt(info, 0));
  return info.Env().Undefined();
}

// socketPair() -> [fd, fd]: AF_UNIX SOCK_SEQPACKET, close-on-exec.
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) ThrowErrno(info.Env(), "socketpair", errno);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, sv[0]);
  out.Set(1u, sv[1]);
  return out;
}

// clearCloexec(fd): so that child_process can hand it to the exec helper.
Napi::Value ClearCloexec(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0);
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) ThrowErrno(info.Env(), "fcntl", errno);
  return info.Env().Undefined();
}

// recvMessage(sock, maxBytes, nonblocking?) -> {data: Buffer, fds: number[]}
// | null (nonblocking and nothing there). EOF is an empty data Buffer.
Napi::Value RecvMessage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = ArgInt(info, 0);
  int32_t max = ArgInt(info, 1);
  int flags = MSG_CMSG_CLOEXEC | (info[2].ToBoolean() ? MSG_DONTWAIT : 0);
  if (max <= 0 || max > 65536) throw Napi::RangeError::New(env, "recvMessage: bad size");
  std::string buf((size_t)max, '\0');
  union {
    char raw[CMSG_SPACE(sizeof(int) * 4)];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {buf.data(), buf.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.raw;
  msg.msg_controllen = sizeof control.raw;
  ssize_t n;
  do n = recvmsg(sock, &msg, flags); while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && (flags & MSG_DONTWAIT)) return env.Null();
  if (n < 0) ThrowErrno(env, "recvmsg", errno);
  if (msg.msg_flags & MSG_TRUNC) {
    // A message larger than we accept: its fds (if any) are closed below
    // with the truncation error.
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t k = 0; k < count; k++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
        close(fd);
      }
    }
    ThrowErrno(env, "recvmsg", EMSGSIZE);
  }
  Napi::Array fds = Napi::Array::New(env);
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t k = 0; k < count; k++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
      fds.Set(fds.Length(), fd);
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) {
    for (uint32_t k = 0; k < fds.Length(); k++) close(fds.Get(k).As<Napi::Number>().Int32Value());
    ThrowErrno(env, "recvmsg", EMSGSIZE);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", Napi::Buffer<char>::Copy(env, buf.data(), (size_t)n));
  out.Set("fds", fds);
  return out;
}

// sendMessage(sock, Buffer, fds[]) ; blocking.
Napi::Value SendMessage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = ArgInt(info, 0);
  if (!info[1].IsBuffer()) throw Napi::TypeError::New(env, "sendMessage: expected a Buffer");
  Napi::Buffer<char> data = info[1].As<Napi::Buffer<char>>();
  Napi::Array fdArr = info[2].IsArray() ? info[2].As<Napi::Array>() : Napi::Array::New(env);
  if (fdArr.Length() > 4) throw Napi::RangeError::New(env, "sendMessage: too many fds");
  union {
    char raw[CMSG_SPACE(sizeof(int) * 4)];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {data.Data(), data.Length()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (fdArr.Length() > 0) {
    msg.msg_control = control.raw;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fdArr.Length());
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fdArr.Length());
    for (uint32_t k = 0; k < fdArr.Length(); k++) {
      int fd = fdArr.Get(k).As<Napi::Number>().Int32Value();
      memcpy(CMSG_DATA(c) + k * sizeof(int), &fd, sizeof fd);
    }
  }
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(env, "sendmsg", errno);
  return env.Undefined();
}

// unixListen(path, mode) -> fd: a SOCK_SEQPACKET listening socket, non-blocking.
Napi::Value UnixListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0);
  int mode = ArgInt(info, 1);
  struct sockaddr_un sun = {};
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof sun.sun_path) throw Napi::RangeError::New(env, "unixListen: path too long");
  memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) ThrowErrno(env, "socket", errno);
  unlink(path.c_str());
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&sun), sizeof sun) < 0 || chmod(path.c_str(), (mode_t)mode) < 0 ||
      listen(fd, 64) < 0) {
    int e = errno;
    close(fd);
    ThrowErrno(env, "bind/listen", e);
  }
  return Napi::Number::New(env, fd);
}

// unixAccept(fd) -> fd (close-on-exec, non-blocking) | -errno (EAGAIN: none waiting)
Napi::Value UnixAccept(const Napi::CallbackInfo& info) {
  int fd = accept4(ArgInt(info, 0), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  return Napi::Number::New(info.Env(), fd < 0 ? -errno : fd);
}

// unixConnect(path) -> fd | -errno: a SOCK_SEQPACKET connection.
Napi::Value UnixConnect(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0);
  struct sockaddr_un sun = {};
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof sun.sun_path) return Napi::Number::New(info.Env(), -ENAMETOOLONG);
  memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return Napi::Number::New(info.Env(), -errno);
  if (connect(fd, reinterpret_cast<struct sockaddr*>(&sun), sizeof sun) < 0) {
    int e = errno;
    close(fd);
    return Napi::Number::New(info.Env(), -e);
  }
  return Napi::Number::New(info.Env(), fd);
}

// peerCred(fd) -> {pid, uid, gid}: who is at the other end, as the kernel
// recorded it when the connection was made (SO_PEERCRED).
Napi::Value PeerCred(const Napi::CallbackInfo& info) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(ArgInt(info, 0), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) ThrowErrno(info.Env(), "getsockopt", errno);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("pid", cred.pid);
  o.Set("uid", cred.uid);
  o.Set("gid", cred.gid);
  return o;
}

// Poller: calls back on the event loop whenever fd is readable (or hung up).
class Poller : public Napi::ObjectWrap<Poller> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Poller", {InstanceMethod("stop", &Poller::Stop)});
  }
  Poller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Poller>(info) {
    Napi::Env env = info.Env();
    int fd = ArgInt(info, 0);
    if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "Poller(fd, callback)");
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    env_ = env;
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "no event loop");
    poll_ = new uv_poll_t;
    if (int rc = uv_poll_init(loop, poll_, fd); rc < 0) {
      delete poll_;
      poll_ = nullptr;
      ThrowErrno(env, "uv_poll_init", -rc);
    }
    poll_->data = this;
    uv_poll_start(poll_, UV_READABLE | UV_DISCONNECT, [](uv_poll_t* h, int, int) {
      auto* self = static_cast<Poller*>(h->data);
      Napi::HandleScope scope(self->env_);
      self->callback_.Call({});
    });
    Ref();
  }
  ~Poller() override { Close(); }

 private:
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    Close();
    return info.Env().Undefined();
  }
  void Close() {
    if (poll_ == nullptr) return;
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
    callback_.Reset();
    Unref();
  }
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::Env env_ = Napi::Env(nullptr);
};

// socketConnect(fd, sockaddr Buffer) / socketBind(fd, sockaddr Buffer) -> 0 | -errno
// Performed on a socket taken from the target with pidfd_getfd, using the
// supervisor's own copy of the address: what was checked is what is used.
Napi::Value SocketConnect(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0);
  Napi::Buffer<char> addr = info[1].As<Napi::Buffer<char>>();
  int rc = connect(fd, reinterpret_cast<const struct sockaddr*>(addr.Data()), (socklen_t)addr.Length());
  return Napi::Number::New(info.Env(), rc < 0 ? -errno : 0);
}

// socketConnectAsync(fd, sockaddr Buffer, cb(result)): connect in a thread
// of its own, for a blocking socket whose connect may take as long as the
// peer does: the event loop (and every other confined call) must not
// wait, nor libuv's small thread pool fill up with connects that hang.
// The callback gets 0 or -errno; fd stays ours to close after it.
struct ConnectJob {
  int fd;
  std::string addr;
  int result = 0;
  Napi::ThreadSafeFunction tsfn;
};

void ConnectAndAnswer(ConnectJob* j) {
  int rc;
  do rc = connect(j->fd, reinterpret_cast<const struct sockaddr*>(j->addr.data()), (socklen_t)j->addr.size());
  while (rc < 0 && errno == EINTR);
  j->result = rc < 0 ? -errno : 0;
  j->tsfn.BlockingCall(j, [](Napi::Env env, Napi::Function cb, ConnectJob* done) {
    int result = done->result;
    done->tsfn.Release();
    delete done;
    cb.Call({Napi::Number::New(env, result)});
  });
}

Napi::Value SocketConnectAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[1].IsBuffer() || !info[2].IsFunction()) throw Napi::TypeError::New(env, "socketConnectAsync: (fd, Buffer, callback)");
  Napi::Buffer<char> addr = info[1].As<Napi::Buffer<char>>();
  auto* j = new ConnectJob();
  j->fd = ArgInt(info, 0);
  j->addr.assign(addr.Data(), addr.Length());
  j->tsfn = Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "systrace-connect", 0, 1);
  std::thread(ConnectAndAnswer, j).detach();
  return env.Undefined();
}

Napi::Value SocketBind(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0);
  Napi::Buffer<char> addr = info[1].As<Napi::Buffer<char>>();
  int rc = bind(fd, reinterpret_cast<const struct sockaddr*>(addr.Data()), (socklen_t)addr.Length());
  return Napi::Number::New(info.Env(), rc < 0 ? -errno : 0);
}

// socketSend(fd, data, flags, sockaddr Buffer | undefined, listener, id,
//            tid, cb(result)) -> bytes | -errno | undefined
// sendto/sendmsg carried out on the target's socket (taken with
// pidfd_getfd) with our copy of the data and of the address. A send that
// would not block is done here and its result returned. One that must
// wait for its peer (a blocking socket, no MSG_DONTWAIT) goes on in a
// thread of its own and answers through cb, so that neither the event
// loop nor libuv's small thread pool waits with it (one blocked send per
// thread, however many there are). Waiting, it keeps the kernel's
// meaning of a blocking send as far as it can see it:
//  - a stream socket gets all of the data, a datagram goes whole;
//  - SO_SNDTIMEO ends the wait (EAGAIN, or the count sent so far);
//  - a signal the thread catches ends it too, with ERESTARTSYS (the
//    kernel then restarts the call under SA_RESTART, else EINTR), or the
//    count sent so far;
//  - it gives up once notification `id` on `listener` is no longer
//    pending (the program died);
//  - MSG_FASTOPEN's connect, begun without blocking, is waited for.
// fd stays the caller's to close once the result is in.
constexpr int kERestartSys = 512;  // ERESTARTSYS: kernel-internal, handled on the way back to user space

struct SendJob {
  int fd;
  std::string data;
  int flags;
  std::string addr;
  bool hasAddr;
  int listener;
  uint64_t id;
  int tid;
  bool stream = false;
  bool connecting = false;
  size_t done = 0;
  struct timespec deadline = {0, 0};
  double result = 0;
  Napi::ThreadSafeFunction tsfn;
};

// Sends what it can without blocking. true when the send is over (result set).
bool SendSome(SendJob& j) {
  for (;;) {
    if (j.connecting) {
      int err = 0;
      socklen_t el = sizeof err;
      struct pollfd p = {j.fd, POLLOUT, 0};
      if (poll(&p, 1, 0) <= 0) return false;
      getsockopt(j.fd, SOL_SOCKET, SO_ERROR, &err, &el);
      if (err != 0) {
        j.result = -err;
        return true;
      }
      j.connecting = false;
    }
    ssize_t n = sendto(j.fd, j.data.data() + j.done, j.data.size() - j.done, j.flags | MSG_DONTWAIT,
                       j.hasAddr ? reinterpret_cast<const struct sockaddr*>(j.addr.data()) : nullptr, j.hasAddr ? (socklen_t)j.addr.size() : 0);
    if (n >= 0) {
      j.flags &= ~MSG_FASTOPEN;  // connected now: the rest is plain data
      j.done += (size_t)n;
      if (!j.stream || j.done >= j.data.size()) {
        j.result = (double)j.done;
        return true;
      }
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EINPROGRESS && (j.flags & MSG_FASTOPEN)) {
      // A fast open without a cookie: the SYN is out, the data is not.
      j.flags &= ~MSG_FASTOPEN;
      j.connecting = true;
      return false;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
    j.result = j.done > 0 ? (double)j.done : -errno;
    return true;
  }
}

// Whether thread `tid` has a signal pending that it catches and does not block.
bool SignalCaught(int tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", tid);
  FILE* f = fopen(path, "re");
  if (!f) return false;
  unsigned long long pnd = 0, shd = 0, blk = 0, cgt = 0, v = 0;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "SigPnd: %llx", &v) == 1) pnd = v;
    else if (sscanf(line, "ShdPnd: %llx", &v) == 1) shd = v;
    else if (sscanf(line, "SigBlk: %llx", &v) == 1) blk = v;
    else if (sscanf(line, "SigCgt: %llx", &v) == 1) cgt = v;
  }
  fclose(f);
  return ((pnd | shd) & ~blk & cgt) != 0;
}

void WaitAndSend(SendJob* j) {
  long pauseMs = 1;
  while (!SendSome(*j)) {
    // Writable by poll is not always room to send (an unconnected
    // datagram socket polls writable whatever its peer's queue holds): a
    // poll that comes back at once is followed by a growing pause.
    struct pollfd p = {j->fd, POLLOUT, 0};
    if (poll(&p, 1, 200) > 0 && !j->connecting) {
      struct timespec pause = {pauseMs / 1000, (pauseMs % 1000) * 1000000L};
      nanosleep(&pause, nullptr);
      if (pauseMs < 200) pauseMs *= 2;
    }
    uint64_t id = j->id;
    if (ioctl(j->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0) {
      j->result = j->done > 0 ? (double)j->done : -EINTR;
      break;
    }
    if (SignalCaught(j->tid)) {
      j->result = j->done > 0 ? (double)j->done : -kERestartSys;
      break;
    }
    if (j->deadline.tv_sec != 0 || j->deadline.tv_nsec != 0) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (now.tv_sec > j->deadline.tv_sec || (now.tv_sec == j->deadline.tv_sec && now.tv_nsec >= j->deadline.tv_nsec)) {
        j->result = j->done > 0 ? (double)j->done : -EAGAIN;
        break;
      }
    }
  }
  j->tsfn.BlockingCall(j, [](Napi::Env env, Napi::Function cb, SendJob* done) {
    double result = done->result;
    done->tsfn.Release();
    delete done;
    cb.Call({Napi::Number::New(env, result)});
  });
}

Napi::Value SocketSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[1].IsBuffer()) throw Napi::TypeError::New(env, "socketSend: (fd, Buffer, flags, Buffer?[, listener, id, tid, callback])");
  Napi::Buffer<char> data = info[1].As<Napi::Buffer<char>>();
  auto* j = new SendJob();
  j->fd = ArgInt(info, 0);
  j->data.assign(data.Data(), data.Length());
  j->flags = ArgInt(info, 2) | MSG_NOSIGNAL;
  j->hasAddr = info[3].IsBuffer();
  if (j->hasAddr) {
    Napi::Buffer<char> a = info[3].As<Napi::Buffer<char>>();
    j->addr.assign(a.Data(), a.Length());
  }
  int fl = fcntl(j->fd, F_GETFL);
  if ((j->flags & MSG_DONTWAIT) || (fl >= 0 && (fl & O_NONBLOCK))) {
    // It would not block: one send, as the program asked.
    ssize_t n = sendto(j->fd, j->data.data(), j->data.size(), j->flags,
                       j->hasAddr ? reinterpret_cast<const struct sockaddr*>(j->addr.data()) : nullptr, j->hasAddr ? (socklen_t)j->addr.size() : 0);
    delete j;
    return Napi::Number::New(env, n < 0 ? -errno : (double)n);
  }
  if (!info[7].IsFunction()) {
    delete j;
    throw Napi::TypeError::New(env, "socketSend: a send that may block needs (listener, id, tid, callback)");
  }
  j->listener = ArgInt(info, 4);
  j->id = ArgU64(info, 5);
  j->tid = ArgInt(info, 6);
  int type = 0;
  socklen_t tl = sizeof type;
  j->stream = getsockopt(j->fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM;
  if (SendSome(*j)) {
    double r = j->result;
    delete j;
    return Napi::Number::New(env, r);
  }
  struct timeval tv = {0, 0};
  socklen_t tvl = sizeof tv;
  if (getsockopt(j->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &tvl) == 0 && (tv.tv_sec != 0 || tv.tv_usec != 0)) {
    clock_gettime(CLOCK_MONOTONIC, &j->deadline);
    j->deadline.tv_sec += tv.tv_sec;
    j->deadline.tv_nsec += tv.tv_usec * 1000L;
    if (j->deadline.tv_nsec >= 1000000000L) {
      j->deadline.tv_sec++;
      j->deadline.tv_nsec -= 1000000000L;
    }
  }
  j->tsfn = Napi::ThreadSafeFunction::New(env, info[7].As<Napi::Function>(), "systrace-send", 0, 1);
  std::thread(WaitAndSend, j).detach();
  return env.Undefined();
}

// socketCreate(domain, type, protocol) -> fd (ours, close-on-exec) | -errno
// For i386 socketcall(SYS_SOCKET), whose arguments sit in the target's
// memory: the socket is made from our copy of them and injected.
Napi::Value SocketCreate(const Napi::CallbackInfo& info) {
  int type = ArgInt(info, 1) & ~SOCK_CLOEXEC;
  int fd = socket(ArgInt(info, 0), type | SOCK_CLOEXEC, ArgInt(info, 2));
  return Napi::Number::New(info.Env(), fd < 0 ? -errno : fd);
}

// socketNonblocking(fd) -> boolean: whether O_NONBLOCK is set on the open file.
Napi::Value SocketNonblocking(const Napi::CallbackInfo& info) {
  int flags = fcntl(ArgInt(info, 0), F_GETFL);
  return Napi::Boolean::New(info.Env(), flags >= 0 && (flags & O_NONBLOCK));
}

}  // namespace

void InitProc(Napi::Env env, Napi::Object exports) {
  exports.Set("procReadString", Napi::Function::New(env, ReadString));
  exports.Set("procReadMemory", Napi::Function::New(env, ReadMemory));
  exports.Set("procWriteMemory", Napi::Function::New(env, WriteMemory));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen));
  exports.Set("pidfdGetfd", Napi::Function::New(env, PidfdGetfd));
  exports.Set("sameMemory", Napi::Function::New(env, SameMemory));
  exports.Set("procFile", Napi::Function::New(env, ProcFile));
  exports.Set("procMappings", Napi::Function::New(env, ProcMappings));
  exports.Set("fileLock", Napi::Function::New(env, FileLock));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("socketPair", Napi::Function::New(env, SocketPair));
  exports.Set("clearCloexec", Napi::Function::New(env, ClearCloexec));
  exports.Set("recvMessage", Napi::Function::New(env, RecvMessage));
  exports.Set("sendMessage", Napi::Function::New(env, SendMessage));
  exports.Set("socketConnect", Napi::Function::New(env, SocketConnect));
  exports.Set("socketConnectAsync", Napi::Function::New(env, SocketConnectAsync));
  exports.Set("socketBind", Napi::Function::New(env, SocketBind));
  exports.Set("unixListen", Napi::Function::New(env, UnixListen));
  exports.Set("unixAccept", Napi::Function::New(env, UnixAccept));
  exports.Set("unixConnect", Napi::Function::New(env, UnixConnect));
  exports.Set("peerCred", Napi::Function::New(env, PeerCred));
  exports.Set("Poller", Poller::Define(env));
  exports.Set("socketSend", Napi::Function::New(env, SocketSend));
  exports.Set("socketCreate", Napi::Function::New(env, SocketCreate));
  exports.Set("socketNonblocking", Napi::Function::New(env, SocketNonblocking));
}

}  // namespace systrace
