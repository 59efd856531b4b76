// Seccomp user notifications on the event loop itself.
//
// The listener fd is polled with uv_poll and every pending notification is
// received and handed to JS in the same loop turn, which answers it
// synchronously when it can: one wake-up per call, no thread hop (a poll
// thread plus a thread-safe function measured about 6x slower here).
#include "common.h"
#include <uv.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <limits.h>
#include <unordered_set>
#include <vector>

namespace systrace {

namespace {

// At most this many notifications are handled per wake-up, so that one
// busy target cannot starve timers and child-exit events on the loop.
constexpr int kMaxPerWakeup = 64;

// linux/audit.h: the x86_64 ABI (the fast path serves no other).
constexpr uint32_t kArchX86_64 = 0xc000003e;

// The fast path: calls the policy decides on their path alone by files and
// trees (tracer/policy/compile.ts: fastPlan), answered here when the
// normalised path is one the policy permits. Everything else (a denial to
// report, a missing directory, /proc, odd flags, an unreadable argument)
// goes to JS as before, untouched: nothing is performed before that.
enum class FastOp { kNewfstatat, kStat, kLstat, kReadlink, kReadlinkat };

// The permitted reads by kind, for lookups in the path's depth rather than
// the policy's length (a learned policy names thousands of files).
struct FastCall {
  int nr;
  FastOp op;
  std::unordered_set<std::string> files;  // the path itself
  std::unordered_set<std::string> trees;  // the path and all beneath it
  std::unordered_set<std::string> below;  // only what is beneath the path
  double handled = 0;

  bool Covers(const std::string& p) const {
    if (files.count(p) || trees.count(p)) return true;
    // Every proper ancestor of p, longest first, down to "/".
    std::string a = p;
    while (a.size() > 1) {
      size_t slash = a.rfind('/');
      a.resize(slash == 0 ? 1 : slash);
      if (trees.count(a) || below.count(a)) return true;
    }
    return false;
  }
};

class Listener : public Napi::ObjectWrap<Listener> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Listener", {
      InstanceMethod("start", &Listener::Start),
      InstanceMethod("stop", &Listener::Stop),
      InstanceMethod("setFast", &Listener::SetFast),
      InstanceMethod("fastCounts", &Listener::FastCounts),
      InstanceMethod("stopFast", &Listener::StopFast),
    });
  }

  explicit Listener(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Listener>(info) {
    fd_ = ArgInt(info, 0);
    if (fd_ < 0) throw Napi::RangeError::New(info.Env(), "Listener: bad fd");
  }

  ~Listener() override { Close(); }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "start: expected a callback");
    if (poll_ != nullptr) throw Napi::Error::New(env, "start: already started");
    callback_ = Napi::Persistent(info[0].As<Napi::Function>());
    env_ = env;
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "no event loop");
    poll_ = new uv_poll_t;
    int rc = uv_poll_init(loop, poll_, fd_);
    if (rc < 0) {
      delete poll_;
      poll_ = nullptr;
      ThrowErrno(env, "uv_poll_init", -rc);
    }
    poll_->data = this;
    rc = uv_poll_start(poll_, UV_READABLE | UV_DISCONNECT, OnReadable);
    if (rc < 0) ThrowErrno(env, "uv_poll_start", -rc);
    Ref();  // stay alive while polling
    return env.Undefined();
  }

  // setFast([{ nr, op, reads: [{ path, kind }] }]): replaces the fast path.
  Napi::Value SetFast(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "setFast: expected an array");
    Napi::Array calls = info[0].As<Napi::Array>();
    std::vector<FastCall> out;
    for (uint32_t i = 0; i < calls.Length(); i++) {
      Napi::Object c = calls.Get(i).As<Napi::Object>();
      FastCall fc;
      fc.nr = c.Get("nr").As<Napi::Number>().Int32Value();
      std::string op = c.Get("op").As<Napi::String>().Utf8Value();
      if (op == "newfstatat") fc.op = FastOp::kNewfstatat;
      else if (op == "stat") fc.op = FastOp::kStat;
      else if (op == "lstat") fc.op = FastOp::kLstat;
      else if (op == "readlink") fc.op = FastOp::kReadlink;
      else if (op == "readlinkat") fc.op = FastOp::kReadlinkat;
      else throw Napi::Error::New(env, "setFast: unknown op " + op);
      Napi::Array reads = c.Get("reads").As<Napi::Array>();
      for (uint32_t k = 0; k < reads.Length(); k++) {
        Napi::Object r = reads.Get(k).As<Napi::Object>();
        std::string path = r.Get("path").As<Napi::String>().Utf8Value();
        std::string kind = r.Get("kind").As<Napi::String>().Utf8Value();
        if (path.empty() || path[0] != '/' || path.find('\0') != std::string::npos) throw Napi::Error::New(env, "setFast: bad path " + path);
        if (kind == "tree") fc.trees.insert(path);
        else if (kind == "file") fc.files.insert(path);
        else if (kind == "below") fc.below.insert(path);
        else throw Napi::Error::New(env, "setFast: unknown kind " + kind);
      }
      out.push_back(std::move(fc));
    }
    fast_ = std::move(out);
    return env.Undefined();
  }

  // stopFast(): every call goes to JS from now on (the counts stay).
  Napi::Value StopFast(const Napi::CallbackInfo& info) {
    fastOff_ = true;
    return info.Env().Undefined();
  }

  // fastCounts() -> how many calls each setFast entry answered, in order.
  Napi::Value FastCounts(const Napi::CallbackInfo& info) {
    Napi::Array a = Napi::Array::New(info.Env(), fast_.size());
    for (size_t i = 0; i < fast_.size(); i++) a.Set((uint32_t)i, fast_[i].handled);
    return a;
  }

  // true when the call was answered (or its caller is gone) here.
  bool TryFast(const struct seccomp_notif& req) {
    if (fastOff_ || fast_.empty() || req.data.arch != kArchX86_64) return false;
    FastCall* fc = nullptr;
    for (auto& c : fast_) {
      if (c.nr == req.data.nr) fc = &c;
    }
    if (fc == nullptr) return false;
    const auto* a = req.data.args;
    int dirfd = AT_FDCWD;
    uint64_t addr = 0, buf = 0;
    size_t size = 0;
    bool follow = true;
    bool link = false;
    switch (fc->op) {
      case FastOp::kNewfstatat: {
        int flags = (int)a[3];
        if (flags & ~AT_SYMLINK_NOFOLLOW) return false;  // AT_EMPTY_PATH and the rest: JS
        dirfd = (int)a[0];
        addr = a[1];
        buf = a[2];
        follow = !(flags & AT_SYMLINK_NOFOLLOW);
        break;
      }
      case FastOp::kStat:
      case FastOp::kLstat:
        addr = a[0];
        buf = a[1];
        follow = fc->op == FastOp::kStat;
        break;
      case FastOp::kReadlink:
      case FastOp::kReadlinkat: {
        bool at = fc->op == FastOp::kReadlinkat;
        int n = (int)a[at ? 3 : 2];
        if (n <= 0) return false;
        dirfd = at ? (int)a[0] : AT_FDCWD;
        addr = a[at ? 1 : 0];
        buf = a[at ? 2 : 1];
        size = (size_t)n;
        follow = false;
        link = true;
        break;
      }
    }
    std::string raw;
    if (ReadTargetString(req.pid, addr, PATH_MAX, &raw) < 0 || raw.empty() || !ValidUtf8(raw)) return false;
    std::string path;
    if (!FastResolve(req.pid, dirfd, raw, follow, &path) || !ValidUtf8(path)) return false;
    // /proc: the target's own pid shows as /proc/self to the policy.
    if (path == "/proc" || path.rfind("/proc/", 0) == 0) return false;
    if (!fc->Covers(path)) return false;  // JS decides, reports and answers
    // What was read from /proc/TID and the target's memory means something
    // only if TID is still the task that made this call.
    uint64_t id = req.id;
    if (ioctl(fd_, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0) return true;
    struct seccomp_notif_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.id = req.id;
    if (!link) {
      struct stat st;
      int rc = StatNormalised(path, &st);
      if (rc == 0) rc = WriteTarget(req.pid, buf, &st, sizeof st);
      resp.error = rc;
    } else {
      char out[PATH_MAX];
      ssize_t n = ReadlinkNormalised(path, out, sizeof out);
      if (n < 0) {
        resp.error = (int)n;
      } else {
        size_t m = (size_t)n < size ? (size_t)n : size;
        int rc = WriteTarget(req.pid, buf, out, m);
        if (rc < 0) resp.error = rc;
        else resp.val = (int64_t)m;
      }
    }
    ioctl(fd_, SECCOMP_IOCTL_NOTIF_SEND, &resp);  // ENOENT: the target is gone
    fc->handled++;
    return true;
  }

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

  static void OnReadable(uv_poll_t* handle, int status, int events) {
    static_cast<Listener*>(handle->data)->Drain();
  }

  void Drain() {
    Napi::HandleScope scope(env_);
    for (int i = 0; i < kMaxPerWakeup && poll_ != nullptr; i++) {
      struct pollfd p = {fd_, POLLIN, 0};
      int n = poll(&p, 1, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      if (!(p.revents & POLLIN)) {
        if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) {
          // No task uses the filter any more: tell JS once, and stop.
          Napi::FunctionReference cb = std::move(callback_);
          Close();
          cb.Call({env_.Null()});
        }
        return;
      }
      struct seccomp_notif req;
      memset(&req, 0, sizeof req);
      if (ioctl(fd_, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
        // ENOENT: the target died (or its call was interrupted) between the
        // poll and the receive. Nothing to answer.
        if (errno == ENOENT || errno == EINTR) continue;
        return;
      }
      if (TryFast(req)) continue;
      Napi::Object n_ = Napi::Object::New(env_);
      n_.Set("id", Napi::BigInt::New(env_, (uint64_t)req.id));
      n_.Set("pid", Napi::Number::New(env_, req.pid));
      n_.Set("nr", Napi::Number::New(env_, req.data.nr));
      n_.Set("arch", Napi::Number::New(env_, req.data.arch));
      n_.Set("ip", Napi::BigInt::New(env_, (uint64_t)req.data.instruction_pointer));
      Napi::Array args = Napi::Array::New(env_, 6);
      for (uint32_t k = 0; k < 6; k++) args.Set(k, Napi::BigInt::New(env_, (uint64_t)req.data.args[k]));
      n_.Set("args", args);
      callback_.Call({n_});
      if (env_.IsExceptionPending()) return;
    }
  }

  int fd_ = -1;
  std::vector<FastCall> fast_;
  bool fastOff_ = false;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::Env env_ = Napi::Env(nullptr);
};

// notifyRespond(fd, id, val, error, flags) -> 0 | -errno (ENOENT: target gone)
Napi::Value Respond(const Napi::CallbackInfo& info) {
  struct seccomp_notif_resp resp;
  memset(&resp, 0, sizeof resp);
  int fd = ArgInt(info, 0);
  resp.id = ArgU64(info, 1);
  resp.val = (int64_t)ArgU64(info, 2);
  resp.error = ArgInt(info, 3);
  resp.flags = (uint32_t)ArgInt(info, 4);
  int rc = ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  return Napi::Number::New(info.Env(), rc < 0 ? -errno : 0);
}

// notifyIdValid(fd, id) -> boolean
Napi::Value IdValid(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0);
  uint64_t id = ArgU64(info, 1);
  return Napi::Boolean::New(info.Env(), ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0);
}

// notifyAddFd(fd, id, srcfd, cloexec, send) -> target fd | -errno
Napi::Value AddFd(const Napi::CallbackInfo& info) {
  struct seccomp_notif_addfd add;
  memset(&add, 0, sizeof add);
  int fd = ArgInt(info, 0);
  add.id = ArgU64(info, 1);
  add.srcfd = (uint32_t)ArgInt(info, 2);
  add.newfd_flags = info[3].ToBoolean() ? O_CLOEXEC : 0;
  add.flags = info[4].ToBoolean() ? SECCOMP_ADDFD_FLAG_SEND : 0;
  int rc = ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
  return Napi::Number::New(info.Env(), rc < 0 ? -errno : rc);
}

// notifySetFlags(fd, flags) -> 0 | -errno
Napi::Value SetFlags(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0);
  unsigned long flags = (unsigned long)ArgInt(info, 1);
  int rc = ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, flags);
  return Napi::Number::New(info.Env(), rc < 0 ? -errno : 0);
}

}  // namespace

void InitNotify(Napi::Env env, Napi::Object exports) {
  exports.Set("Listener", Listener::Define(env));
  exports.Set("notifyRespond", Napi::Function::New(env, Respond));
  exports.Set("notifyIdValid", Napi::Function::New(env, IdValid));
  exports.Set("notifyAddFd", Napi::Function::New(env, AddFd));
  exports.Set("notifySetFlags", Napi::Function::New(env, SetFlags));
  exports.Set("SYNC_WAKE_UP", Napi::Number::New(env, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP));
  exports.Set("FLAG_CONTINUE", Napi::Number::New(env, SECCOMP_USER_NOTIF_FLAG_CONTINUE));
}

}  // namespace systrace
