#!/usr/bin/env bash
# Builds libcluster and its two dependencies (jason, telemetry) from source
# into one ebin directory under $1 and prints that directory. Used by the
# libcluster parts of make bench; their code never enters this repository.
# No Hex, no network: erlc and elixirc on the sources found at
#   LIBCLUSTER_SRC, JASON_SRC, TELEMETRY_SRC
# each a source tree or a bare git repository (its HEAD is used). Our own
# bench/libcluster_host.ex (starts libcluster inside a member, reports its
# memory) is compiled next to them. Reuses an earlier build in the same $1.
set -euo pipefail
out=$1
ebin=$out/ebin
if [ -f "$ebin/Elixir.Cluster.Supervisor.beam" ] && [ -f "$ebin/Elixir.ClusterdBench.LibclusterHost.beam" ]; then
  echo "$ebin"
  exit 0
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$ebin" "$out/src"

# A source tree as a directory: bare git repositories are exported from HEAD.
tree() {
  local src=$1 name=$2
  if [ -d "$src/.git" ] || [ -d "$src/lib" ] || [ -d "$src/src" ]; then
    echo "$src"
  else
    mkdir -p "$out/src/$name"
    # only the code: a partial mirror may lack other files' contents
    local paths
    paths=$(git --git-dir="$src" ls-tree --name-only HEAD lib src)
    # shellcheck disable=SC2086 # one word per path
    git --git-dir="$src" archive HEAD $paths 2>/dev/null | tar -x -C "$out/src/$name"
    echo "$out/src/$name"
  fi
}
tel=$(tree "${TELEMETRY_SRC:?}" telemetry)
jas=$(tree "${JASON_SRC:?}" jason)
lib=$(tree "${LIBCLUSTER_SRC:?}" libcluster)

{
  erlc -o "$ebin" -I "$tel/src" "$tel"/src/telemetry*.erl
  # the .app file, with its module list filled in
  mods=$(cd "$ebin" && ls telemetry*.beam | sed 's/\.beam$//' | paste -sd, -)
  sed "s/{modules, *\[\]}/{modules, [$mods]}/" "$tel/src/telemetry.app.src" > "$ebin/telemetry.app"
  elixirc --ignore-module-conflict -o "$ebin" "$jas"/lib/*.ex
  # libcluster reads Mix.env() at compile time (:prod here, as in a release)
  elixir -pa "$ebin" -e '
    [ebin, dir] = System.argv()
    Mix.start()
    Mix.env(:prod)
    files = Path.wildcard(Path.join(dir, "**/*.ex"))
    {:ok, _, _} = Kernel.ParallelCompiler.compile_to_path(files, ebin)
  ' "$ebin" "$lib/lib"
  elixirc -pa "$ebin" -o "$ebin" "$here/libcluster_host.ex"
} >&2
echo "$ebin"
