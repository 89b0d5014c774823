#!/usr/bin/env bash
# Regenerates the declared public API of every library under src/ from the current code:
#   bash eng/public-api.sh [PROJECT_DIR...]      (default: every src/*/ that has a PublicAPI.Shipped.txt)
# PublicAPI.Unshipped.txt of each project is reset to its header, the projects are rebuilt once with warnings allowed,
# and every RS0016 diagnostic ("Symbol 'X' is not part of the declared public API", where X is already in the file's
# format, generated code such as the ONNX protobuf classes included) is written back to its project's file, sorted
# (ordinal) and de-duplicated. PublicAPI.Shipped.txt is never changed: at a release, move the Unshipped lines there.
# Idempotent: a second run leaves every file as it is. Ends with a build with warnings as errors (RS0016/RS0017 included).
# (dotnet format analyzers --diagnostics RS0016 was tried first: it skips generated code, so it misses the protobuf API.)
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

dirs=()
if (($#)); then
  for d in "$@"; do dirs+=("${d%/}"); done
else
  for f in src/*/PublicAPI.Shipped.txt; do dirs+=("$(dirname "$f")"); done
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
header='#nullable enable'
projects=()
for dir in "${dirs[@]}"; do
  [ -f "$dir/PublicAPI.Shipped.txt" ] || { echo "public-api.sh: $dir has no PublicAPI.Shipped.txt" >&2; exit 1; }
  project="$(ls "$repo_root/$dir"/*.csproj)"
  projects+=("$project")
  printf '%s\n' "$header" > "$dir/PublicAPI.Unshipped.txt"
done
dotnet new sln --format sln -n api -o "$work" >/dev/null
dotnet sln "$work/api.sln" add "${projects[@]}" >/dev/null

echo "[public-api] building ${#projects[@]} projects with an empty PublicAPI.Unshipped.txt"
log="$work/build.log"
if ! dotnet build "$work/api.sln" -c Release --no-incremental -nologo -p:TreatWarningsAsErrors=false -clp:NoSummary > "$log" 2>&1; then
  grep -E ': error ' "$log" | sort -u >&2 || tail -50 "$log" >&2
  echo "public-api.sh: the build failed for another reason than the public API (above)" >&2
  exit 1
fi

# "path(l,c): warning RS0016: Symbol 'API' is not part of the declared public API (url) [/x/src/P/P.csproj]"
grep -E "warning RS0016: Symbol '" "$log" |
  sed -E "s/^.*warning RS0016: Symbol '(.*)' is not part of the declared public API.*\[([^]]*\.csproj)\]\s*$/\2\t\1/" |
  LC_ALL=C sort -u > "$work/symbols.tsv"
for project in "${projects[@]}"; do
  dir="$(dirname "$project")"
  { printf '%s\n' "$header"; awk -F'\t' -v p="$project" '$1 == p { print $2 }' "$work/symbols.tsv" | LC_ALL=C sort -u; } > "$dir/PublicAPI.Unshipped.txt"
  echo "[public-api] ${dir#"$repo_root"/}: $(($(wc -l < "$dir/PublicAPI.Unshipped.txt") - 1)) symbols"
done

echo "[public-api] verifying: build with warnings as errors"
dotnet build "$work/api.sln" -c Release -nologo -clp:"ErrorsOnly;Summary"
git status --short -- 'src/*/PublicAPI.*.txt'
