/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/unit/compile-pfc.test.ts > TAP > linux and linux32, default deny, with integer and filename rules > PFC 1`] = `
#
# pseudo filter code start
#
# filter for arch x86_64 (3221225534)
if ($arch == 3221225534)
  if ($syscall > 62)
    if ($syscall > 231)
      if ($syscall > 297)
        # filter for syscall "clone3" (435) [priority: 65535]
        if ($syscall == 435)
          action ERRNO(38);
        # filter for syscall "pidfd_open" (434) [priority: 65535]
        if ($syscall == 434)
          action ALLOW;
        # filter for syscall "pidfd_send_signal" (424) [priority: 65535]
        if ($syscall == 424)
          action ALLOW;
        # filter for syscall "execveat" (322) [priority: 65535]
        if ($syscall == 322)
          action ALLOW;
      else # ($syscall <= 297)
        # filter for syscall "rt_tgsigqueueinfo" (297) [priority: 65535]
        if ($syscall == 297)
          action ALLOW;
        # filter for syscall "openat" (257) [priority: 65535]
        if ($syscall == 257)
          action 0x7fc00000;
        # filter for syscall "waitid" (247) [priority: 65535]
        if ($syscall == 247)
          action ALLOW;
        # filter for syscall "tgkill" (234) [priority: 65535]
        if ($syscall == 234)
          action ALLOW;
    else # ($syscall <= 231)
      if ($syscall > 125)
        # filter for syscall "exit_group" (231) [priority: 65535]
        if ($syscall == 231)
          action ALLOW;
        # filter for syscall "tkill" (200) [priority: 65535]
        if ($syscall == 200)
          action ALLOW;
        # filter for syscall "prctl" (157) [priority: 65535]
        if ($syscall == 157)
          action ALLOW;
        # filter for syscall "rt_sigqueueinfo" (129) [priority: 65535]
        if ($syscall == 129)
          action ALLOW;
      else # ($syscall <= 125)
        # filter for syscall "capget" (125) [priority: 65535]
        if ($syscall == 125)
          action ALLOW;
        # filter for syscall "times" (100) [priority: 65535]
        if ($syscall == 100)
          action ALLOW;
        # filter for syscall "getrusage" (98) [priority: 65535]
        if ($syscall == 98)
          action ALLOW;
        # filter for syscall "unlink" (87) [priority: 65535]
        if ($syscall == 87)
          action ERRNO(2);
  else # ($syscall <= 62)
    if ($syscall > 3)
      if ($syscall > 58)
        # filter for syscall "kill" (62) [priority: 65535]
        if ($syscall == 62)
          action ALLOW;
        # filter for syscall "wait4" (61) [priority: 65535]
        if ($syscall == 61)
          action ALLOW;
        # filter for syscall "exit" (60) [priority: 65535]
        if ($syscall == 60)
          action ALLOW;
        # filter for syscall "execve" (59) [priority: 65535]
        if ($syscall == 59)
          action 0x7fc00000;
      else # ($syscall <= 58)
        # filter for syscall "vfork" (58) [priority: 65535]
        if ($syscall == 58)
          action ALLOW;
        # filter for syscall "fork" (57) [priority: 65535]
        if ($syscall == 57)
          action ALLOW;
        # filter for syscall "clone" (56) [priority: 65521]
        if ($syscall == 56)
          if ($a0.hi32 & 0x00000000 == 0)
            if ($a0.lo32 & 0x1003c100 == 114944)
              action ALLOW;
            if ($a0.lo32 & 0x1003c100 == 114688)
              action ALLOW;
            if ($a0.lo32 & 0x1003c100 == 98560)
              action ALLOW;
            if ($a0.lo32 & 0x1003c100 == 98304)
              action ALLOW;
            if ($a0.lo32 & 0x1003c100 == 82176)
              action ALLOW;
            if ($a0.lo32 & 0x1003c100 == 81920)
              action ALLOW;
            if ($a0.lo32 & 0x1003c100 == 65792)
              action ALLOW;
            if ($a0.lo32 & 0x1003c100 == 65536)
              action ALLOW;
            if ($a0.lo32 & 0x1003c100 == 49152)
              action ALLOW;
            if ($a0.lo32 & 0x1003c100 == 32768)
              action ALLOW;
            if ($a0.lo32 & 0x1003c100 == 16640)
              action ALLOW;
            if ($a0.lo32 & 0x1003c100 == 16384)
              action ALLOW;
            if ($a0.lo32 & 0x1003c100 == 0)
              action ALLOW;
        # filter for syscall "socket" (41) [priority: 65533]
        if ($syscall == 41)
          if ($a0.hi32 & 0x00000000 == 0)
            if ($a0.lo32 & 0xffffffff == 1)
              action ALLOW;
    else # ($syscall <= 3)
      # filter for syscall "close" (3) [priority: 65535]
      if ($syscall == 3)
        action ALLOW;
      # filter for syscall "write" (1) [priority: 65535]
      if ($syscall == 1)
        action ALLOW;
      # filter for syscall "read" (0) [priority: 65535]
      if ($syscall == 0)
        action ALLOW;
  # default action
  action ERRNO(1);
# filter for arch x86 (1073741827)
if ($arch == 1073741827)
  if ($syscall > 3)
    # filter for syscall "clone3" (435) [priority: 65535]
    if ($syscall == 435)
      action ERRNO(38);
    # filter for syscall "exit_group" (252) [priority: 65535]
    if ($syscall == 252)
      action ALLOW;
    # filter for syscall "socketcall" (102) [priority: 65535]
    if ($syscall == 102)
      action ALLOW;
    # filter for syscall "kill" (37) [priority: 65535]
    if ($syscall == 37)
      action 0x7fc00000;
  else # ($syscall <= 3)
    # filter for syscall "read" (3) [priority: 65535]
    if ($syscall == 3)
      action ALLOW;
    # filter for syscall "exit" (1) [priority: 65535]
    if ($syscall == 1)
      action ALLOW;
  # default action
  action ERRNO(1);
# invalid architecture action
action KILL_PROCESS;
#
# pseudo filter code end
#

`
