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

namespace systrace {

namespace {

// At most this many notifications are handled per wake-up, so that one
// busy target cannot starve timers and child-exit events on the loop.
constexpr int kMaxPerWakeup = 64;

class Listener : public Napi::ObjectWrap<Listener> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Listener", {
      InstanceMethod("start", &Listener::Start),
      InstanceMethod("stop", &Listener::Stop),
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
