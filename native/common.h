// Shared declarations of the addon: error reporting and kernel constants
// that Debian 12's headers (Linux 6.1) do not have yet.
#pragma once
#include <napi.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <string>
#include <sys/stat.h>
#include <sys/types.h>

// Added in Linux 6.6: wake the target on the supervisor's CPU, which makes a
// notification round trip about ten times cheaper.
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
// Added in Linux 5.19: a target waiting for its answer ignores non-fatal
// signals once the supervisor has received the call, so an emulated call is
// never restarted (and so never performed twice).
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

namespace systrace {

// The one place errno becomes a JS exception: an instance of the NativeError
// class that tracer/native.ts hands to `setErrorClass`, carrying `code`,
// `errno` and `syscall`.
[[noreturn]] void ThrowErrno(Napi::Env env, const char* syscall, int err);
void SetErrorClass(const Napi::CallbackInfo& info);
const char* ErrnoName(int err);

// Argument helpers: validate again what the JS layer validated.
int32_t ArgInt(const Napi::CallbackInfo& info, size_t i);
uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i);
std::string ArgString(const Napi::CallbackInfo& info, size_t i);

// proc.cc: the target's NUL-terminated string at addr (at most max bytes;
// -ENAMETOOLONG without a NUL), and a write of len bytes at addr (all of
// them or -errno; -EFAULT for a short write). 0 on success.
int ReadTargetString(pid_t pid, uint64_t addr, size_t max, std::string* out);
int WriteTarget(pid_t pid, uint64_t addr, const void* data, size_t len);

// path.cc: normalise as resolvePath does, for the listener's fast path
// (false: anything but a plain resolved path); and stat or readlink a
// normalised path, for pathCall and the fast path alike (-errno on
// failure).
bool FastResolve(int tid, int dirfd, const std::string& path, bool followLast, std::string* out);
int StatNormalised(const std::string& path, struct stat* st);
ssize_t ReadlinkNormalised(const std::string& path, char* buf, size_t size);

// Whether s is well-formed UTF-8. JS carries paths as strings: a name that
// is not UTF-8 would reach it changed (U+FFFD), and then name another file.
// Such paths are refused (EILSEQ) where they are read, never mangled.
inline bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  const size_t len = s.size();
  while (i < len) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= len) return false;  // continuation bytes i+1 .. i+n must exist
    for (size_t k = 1; k <= n; k++) {
      unsigned char d = (unsigned char)s[i + k];
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}

void InitFilter(Napi::Env env, Napi::Object exports);
void InitNotify(Napi::Env env, Napi::Object exports);
void InitProc(Napi::Env env, Napi::Object exports);
void InitPath(Napi::Env env, Napi::Object exports);
void InitLandlock(Napi::Env env, Napi::Object exports);

}  // namespace systrace
