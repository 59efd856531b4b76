// Export table only: each Init* adds the functions of one file.
#include "common.h"

namespace systrace {
static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setErrorClass", Napi::Function::New(env, [](const Napi::CallbackInfo& info) { SetErrorClass(info); }));
  InitFilter(env, exports);
  InitNotify(env, exports);
  InitProc(env, exports);
  InitPath(env, exports);
  InitLandlock(env, exports);
  return exports;
}
}  // namespace systrace

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return systrace::Init(env, exports); }

NODE_API_MODULE(systrace, InitAddon)
