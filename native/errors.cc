#include "common.h"
#include <errno.h>
#include <string.h>

namespace systrace {

static Napi::FunctionReference* errorClass = nullptr;

void SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "setErrorClass: expected a class");
  if (errorClass == nullptr) errorClass = new Napi::FunctionReference();
  *errorClass = Napi::Persistent(info[0].As<Napi::Function>());
}

const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "EUNKNOWN";
}

void ThrowErrno(Napi::Env env, const char* syscall, int err) {
  std::string message = std::string(syscall) + ": " + strerror(err);
  Napi::Object error;
  if (errorClass != nullptr && !errorClass->IsEmpty()) {
    error = errorClass->New({Napi::String::New(env, message)});
  } else {
    error = Napi::Error::New(env, message).Value();
  }
  error.Set("code", ErrnoName(err));
  error.Set("errno", err);
  error.Set("syscall", syscall);
  throw Napi::Error(env, error);
}

int32_t ArgInt(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i) {
  if (info[i].IsBigInt()) {
    bool lossless = true;
    uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(info.Env(), "argument " + std::to_string(i) + " out of range");
    return v;
  }
  if (info[i].IsNumber()) return (uint64_t)info[i].As<Napi::Number>().Int64Value();
  throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a bigint");
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a string");
  std::string s = info[i].As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " contains NUL");
  return s;
}

}  // namespace systrace
