{
  "targets": [
    {
      "target_name": "systrace",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/filter.cc",
        "native/notify.cc",
        "native/proc.cc",
        "native/path.cc",
        "native/landlock.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": [
        "-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Werror=format-security",
        "-Werror=implicit-fallthrough", "-Wno-unused-parameter", "-Wno-missing-field-initializers",
        "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-fPIC"
      ],
      "ldflags": ["-Wl,-z,relro,-z,now"],
      "libraries": ["-lseccomp"]
    },
    {
      "target_name": "systrace-launch",
      "type": "executable",
      "sources": ["native/launch/launch.c"],
      "cflags": [
        "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-fstack-protector-strong",
        "-D_FORTIFY_SOURCE=2", "-fPIE"
      ],
      "ldflags": ["-pie", "-pthread", "-Wl,-z,relro,-z,now"],
      "libraries": ["-lpthread"]
    },
    {
      "target_name": "broker-launch",
      "type": "executable",
      "sources": ["native/broker-launch/broker-launch.c"],
      "cflags": [
        "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-Wformat=2", "-Wshadow", "-Wwrite-strings",
        "-fstack-protector-strong",
        "-D_FORTIFY_SOURCE=2", "-fPIE"
      ],
      "ldflags": ["-pie", "-Wl,-z,relro,-z,now"]
    }
  ]
}
