#!/usr/bin/env bash
# Installs the Debian packages clusterd needs to build, test and demo, when they
# are missing. Safe to run often: it does nothing when everything is present.
set -euo pipefail

packages=(
  build-essential pkg-config
  erlang-nox erlang-dev elixir rebar3
  libyaml-dev libuv1-dev libjansson-dev libmicrohttpd-dev libcmocka-dev libc-ares-dev libcurl4-openssl-dev
  libssl-dev openssl
  clang libclang-rt-14-dev iproute2 procps valgrind cppcheck clang-format
  bind9 python3 python3-yaml curl faketime
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
