// Rule IR -> libseccomp filter -> BPF bytes and readable PFC text.
//
// Each architecture gets a context of its own, filled with that
// architecture's syscall numbers exactly as given, and the contexts are
// merged: libseccomp then emits the arch test first and sends any other
// architecture (and, for x86_64, the x32 numbers) to the bad-arch action.
#include "common.h"
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>
#include <errno.h>
#include <memory>
#include <stdlib.h>
#include <vector>

namespace systrace {

namespace {

struct Ctx {
  scmp_filter_ctx ctx = nullptr;
  ~Ctx() { if (ctx) seccomp_release(ctx); }
};

struct Fd {
  int fd = -1;
  ~Fd() { if (fd >= 0) close(fd); }
};

uint32_t ArchToken(Napi::Env env, const std::string& name) {
  if (name == "x86_64") return SCMP_ARCH_X86_64;
  if (name == "x86") return SCMP_ARCH_X86;
  throw Napi::Error::New(env, "filterBuild: unsupported arch " + name);
}

enum scmp_compare CompareOp(Napi::Env env, const std::string& op) {
  if (op == "eq") return SCMP_CMP_EQ;
  if (op == "ne") return SCMP_CMP_NE;
  if (op == "lt") return SCMP_CMP_LT;
  if (op == "le") return SCMP_CMP_LE;
  if (op == "gt") return SCMP_CMP_GT;
  if (op == "ge") return SCMP_CMP_GE;
  if (op == "masked_eq") return SCMP_CMP_MASKED_EQ;
  throw Napi::Error::New(env, "filterBuild: unknown comparison " + op);
}

uint64_t BigU64(Napi::Env env, Napi::Value v) {
  if (v.IsBigInt()) {
    bool lossless = true;
    uint64_t r = v.As<Napi::BigInt>().Uint64Value(&lossless);
    return r;
  }
  if (v.IsNumber()) return (uint64_t)v.As<Napi::Number>().Int64Value();
  throw Napi::TypeError::New(env, "filterBuild: datum must be a bigint");
}

std::string ReadAll(Napi::Env env, int fd) {
  std::string out;
  if (lseek(fd, 0, SEEK_SET) < 0) ThrowErrno(env, "lseek", errno);
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno(env, "read", errno);
    }
    if (n == 0) break;
    out.append(buf, (size_t)n);
  }
  return out;
}

// filterBuild({defaultAction, badArchAction, arches: [{arch, rules: [{nr, action, cmps: [{arg, op, a, b}]}]}]})
//   -> {bpf: Buffer, pfc: string}
Napi::Value FilterBuild(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "filterBuild: expected a spec object");
  Napi::Object spec = info[0].As<Napi::Object>();
  uint32_t defaultAction = spec.Get("defaultAction").As<Napi::Number>().Uint32Value();
  uint32_t badArchAction = spec.Get("badArchAction").As<Napi::Number>().Uint32Value();
  Napi::Array arches = spec.Get("arches").As<Napi::Array>();
  if (arches.Length() == 0) throw Napi::Error::New(env, "filterBuild: no architecture");

  Ctx merged;
  Napi::Array skipped = Napi::Array::New(env);
  for (uint32_t i = 0; i < arches.Length(); i++) {
    Napi::Object a = arches.Get(i).As<Napi::Object>();
    uint32_t token = ArchToken(env, a.Get("arch").As<Napi::String>().Utf8Value());
    Ctx one;
    one.ctx = seccomp_init(defaultAction);
    if (!one.ctx) throw Napi::Error::New(env, "seccomp_init failed");
    int rc;
    if ((rc = seccomp_attr_set(one.ctx, SCMP_FLTATR_ACT_BADARCH, badArchAction)) < 0) ThrowErrno(env, "seccomp_attr_set", -rc);
    // No libseccomp-level TSYNC or NNP: the exec helper installs the BPF itself.
    if ((rc = seccomp_attr_set(one.ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0) ThrowErrno(env, "seccomp_attr_set", -rc);
    // Level 2: the syscalls of each arch in a binary tree, so that a call
    // costs about log2(rules) comparisons, not one per rule before it.
    if ((rc = seccomp_attr_set(one.ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0) ThrowErrno(env, "seccomp_attr_set", -rc);
    if (token != seccomp_arch_native()) {
      if ((rc = seccomp_arch_add(one.ctx, token)) < 0) ThrowErrno(env, "seccomp_arch_add", -rc);
      if ((rc = seccomp_arch_remove(one.ctx, SCMP_ARCH_NATIVE)) < 0) ThrowErrno(env, "seccomp_arch_remove", -rc);
    }
    Napi::Array rules = a.Get("rules").As<Napi::Array>();
    for (uint32_t j = 0; j < rules.Length(); j++) {
      Napi::Object r = rules.Get(j).As<Napi::Object>();
      int nr = r.Get("nr").As<Napi::Number>().Int32Value();
      uint32_t action = r.Get("action").As<Napi::Number>().Uint32Value();
      std::vector<struct scmp_arg_cmp> cmps;
      Napi::Value cv = r.Get("cmps");
      if (cv.IsArray()) {
        Napi::Array ca = cv.As<Napi::Array>();
        for (uint32_t k = 0; k < ca.Length(); k++) {
          Napi::Object c = ca.Get(k).As<Napi::Object>();
          struct scmp_arg_cmp cmp = {};
          cmp.arg = c.Get("arg").As<Napi::Number>().Uint32Value();
          if (cmp.arg > 5) throw Napi::RangeError::New(env, "filterBuild: argument index out of range");
          cmp.op = CompareOp(env, c.Get("op").As<Napi::String>().Utf8Value());
          cmp.datum_a = BigU64(env, c.Get("a"));
          cmp.datum_b = c.Has("b") ? BigU64(env, c.Get("b")) : 0;
          cmps.push_back(cmp);
        }
      }
      // libseccomp takes syscall numbers in the native (x86_64) numbering
      // and translates them, by name, into each arch of the context: an
      // i386 number must first become its name, then the native number
      // (or libseccomp's negative stand-in for calls x86_64 lacks).
      int sys = nr;
      if (token != seccomp_arch_native()) {
        char* name = seccomp_syscall_resolve_num_arch(token, nr);
        sys = name ? seccomp_syscall_resolve_name(name) : __NR_SCMP_ERROR;
        free(name);
        if (sys == __NR_SCMP_ERROR) {
          skipped.Set(skipped.Length(), "32:" + std::to_string(nr));
          continue;
        }
      }
      rc = seccomp_rule_add_exact_array(one.ctx, action, sys, (unsigned)cmps.size(), cmps.data());
      if (rc == -EFAULT || rc == -EDOM) {
        // libseccomp 2.5 refuses numbers it does not know for the arch
        // (calls newer than it, and i386's direct socket calls, which it
        // multiplexes with socketcall): they keep the filter's default
        // action, and the caller is told which.
        skipped.Set(skipped.Length(), std::to_string(token == SCMP_ARCH_X86 ? 32 : 64) + ":" + std::to_string(nr));
        continue;
      }
      if (rc < 0) {
        std::string msg = "seccomp_rule_add (syscall " + std::to_string(nr) + "): " + strerror(-rc);
        throw Napi::Error::New(env, msg);
      }
    }
    if (merged.ctx == nullptr) {
      merged.ctx = one.ctx;
      one.ctx = nullptr;
    } else {
      if ((rc = seccomp_merge(merged.ctx, one.ctx)) < 0) ThrowErrno(env, "seccomp_merge", -rc);
      one.ctx = nullptr;  // seccomp_merge released it
    }
  }

  Fd bpf, pfc;
  bpf.fd = memfd_create("systrace-bpf", MFD_CLOEXEC);
  pfc.fd = memfd_create("systrace-pfc", MFD_CLOEXEC);
  if (bpf.fd < 0 || pfc.fd < 0) ThrowErrno(env, "memfd_create", errno);
  int rc;
  if ((rc = seccomp_export_bpf(merged.ctx, bpf.fd)) < 0) ThrowErrno(env, "seccomp_export_bpf", -rc);
  if ((rc = seccomp_export_pfc(merged.ctx, pfc.fd)) < 0) ThrowErrno(env, "seccomp_export_pfc", -rc);
  std::string bpfBytes = ReadAll(env, bpf.fd);
  std::string pfcText = ReadAll(env, pfc.fd);
  Napi::Object out = Napi::Object::New(env);
  out.Set("bpf", Napi::Buffer<char>::Copy(env, bpfBytes.data(), bpfBytes.size()));
  out.Set("pfc", Napi::String::New(env, pfcText));
  out.Set("skipped", skipped);
  return out;
}

// resolveSyscall(arch, name) -> number (negative when libseccomp does not know it)
Napi::Value ResolveSyscall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t token = ArchToken(env, ArgString(info, 0));
  std::string name = ArgString(info, 1);
  return Napi::Number::New(env, seccomp_syscall_resolve_name_arch(token, name.c_str()));
}

}  // namespace

void InitFilter(Napi::Env env, Napi::Object exports) {
  exports.Set("filterBuild", Napi::Function::New(env, FilterBuild));
  exports.Set("resolveSyscall", Napi::Function::New(env, ResolveSyscall));
}

}  // namespace systrace
