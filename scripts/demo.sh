#!/usr/bin/env bash
# A confined demo, run as the unprivileged user `nobody`: a shell pipeline
# reads a file the policy allows, then tries one it forbids.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/tracer/cli/main.js ] && [ -f build/Release/systrace.node ] || { echo "demo: build first (scripts/setup.sh)" >&2; exit 1; }

# A world-readable copy of the built package: the repository's own folder
# may sit where nobody cannot enter (root's home).
root=/tmp/systrace-demo
rm -rf "$root" && mkdir -p "$root/pkg"
cp -r bin dist build package.json node_modules policies "$root/pkg/"
echo "hello from a file the policy allows" > "$root/public.txt"
echo "the secret the policy forbids" > "$root/secret"
chmod -R a+rX "$root"
cd /tmp
export PATH=/usr/local/bin:/usr/bin:/bin

echo "\$ systrace run -a -f policies/demo.yaml -- sh -c 'cat $root/public.txt; cat $root/secret'   (as nobody)"
set +e
setpriv --reuid=nobody --regid=nogroup --clear-groups \
  "$root/pkg/bin/systrace" run -a -f "$root/pkg/policies/demo.yaml" -- \
  /bin/sh -c "cat $root/public.txt; cat $root/secret"
status=$?
set -e
echo "exit status: $status (cat's own: the secret stayed unread)"
