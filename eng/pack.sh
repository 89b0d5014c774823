#!/usr/bin/env bash
# Packs every library under src/ (and every packable project under templates/) into NuGet packages:
#   bash eng/pack.sh [--version V] [--output DIR]
# Output: DIR (default artifacts/packages) gets one .nupkg and one .snupkg (symbols, sources embedded) per library,
# a .nupkg for the native runtime package ModelKit.Training.Native.linux-x64 and for the ModelKit.Cli .NET tool.
# The version comes from Directory.Build.props (<Version>); --version overrides it (e.g. 0.2.0-preview.1).
# Set-up first, like the README's commands (eng/setup.sh: apt packages, the libtorch shim the native package carries).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

version=""
output="$repo_root/artifacts/packages"
usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --version) [ $# -ge 2 ] || { echo "pack.sh: --version needs a value, e.g. --version 0.2.0-preview.1" >&2; exit 1; }; version="$2"; shift 2 ;;
    --version=*) version="${1#*=}"; shift ;;
    --output) [ $# -ge 2 ] || { echo "pack.sh: --output needs a folder" >&2; exit 1; }; output="$2"; shift 2 ;;
    --output=*) output="${1#*=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "pack.sh: unknown argument '$1' (expected --version V, --output DIR)" >&2; usage >&2; exit 1 ;;
  esac
done
if [ -n "$version" ] && ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "pack.sh: --version '$version' is not a SemVer 2 version such as 0.2.0 or 0.2.0-preview.1" >&2; exit 1
fi
mkdir -p "$output"
output="$(cd "$output" && pwd)"

if [ "${MODELKIT_SKIP_SETUP:-0}" != "1" ]; then
  bash eng/setup.sh
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Deterministic packages: NuGet stamps every entry with this time (the reproducible-builds convention), the commit's
# time when there is one, so packing the same commit twice gives byte-identical .nupkg files.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH="$(git -C "$repo_root" log -1 --format=%ct 2>/dev/null || echo 315532800)"
fi
export SOURCE_DATE_EPOCH

projects=()
while IFS= read -r p; do projects+=("$p"); done < <(
  { find src -mindepth 2 -maxdepth 2 -name '*.csproj'; [ -d templates ] && find templates -mindepth 2 -maxdepth 2 -name '*.csproj'; } | sort)

props=(-c Release -nologo -clp:"ErrorsOnly;Summary" -p:ContinuousIntegrationBuild=true -p:PackageOutputPath="$output")
[ -n "$version" ] && props+=(-p:Version="$version")

# One build over a temporary solution of exactly these projects: each is restored and built once, in dependency order.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dotnet new sln --format sln -n pack -o "$work" >/dev/null
dotnet sln "$work/pack.sln" add "${projects[@]}" >/dev/null
dotnet pack "$work/pack.sln" "${props[@]}"
echo "[pack] packages in $output:"
ls -l "$output"/*.nupkg "$output"/*.snupkg 2>/dev/null | awk '{printf "%10d  %s\n", $5, $NF}'

# Check what a consumer gets: every package has its README (declared and present), the license, XML docs next to each
# assembly in lib/, the native package its shim, and no .props/.targets that points into this repository.
fail=0
check() { echo "[pack] $1" >&2; fail=1; }
for nupkg in "$output"/*.nupkg; do
  name="$(basename "$nupkg" .nupkg)"
  entries="$(unzip -Z1 "$nupkg")"
  id="$(unzip -p "$nupkg" '*.nuspec' | sed -n 's:.*<id>\(.*\)</id>.*:\1:p' | head -1)"
  nuspec="$(unzip -p "$nupkg" "$id.nuspec")"
  grep -qx 'README.md' <<<"$entries" && grep -q '<readme>README.md</readme>' <<<"$nuspec" || check "$name: no README.md package readme"
  grep -qx 'LICENSE' <<<"$entries" && grep -q '<license type="expression">MIT</license>' <<<"$nuspec" || check "$name: no LICENSE / MIT license expression"
  grep -q '<description>..*</description>' <<<"$nuspec" || check "$name: no description"
  while IFS= read -r dll; do
    [ -n "$dll" ] || continue
    grep -qx "${dll%.dll}.xml" <<<"$entries" || check "$name: $dll has no XML documentation file next to it"
  done < <(grep -E '^lib/net10\.0/ModelKit\.[^/]*\.dll$' <<<"$entries" || true)
  if [ "$id" = "ModelKit.Training.Native.linux-x64" ]; then
    grep -qx 'runtimes/linux-x64/native/libmodelkit_torch.so' <<<"$entries" || check "$name: no runtimes/linux-x64/native/libmodelkit_torch.so"
  fi
  while IFS= read -r build_file; do
    [ -n "$build_file" ] || continue
    if unzip -p "$nupkg" "$build_file" | grep -qE "$repo_root|artifacts/native"; then check "$name: $build_file points into the repository"; fi
  done < <(grep -E '\.(props|targets)$' <<<"$entries" || true)
done
[ "$fail" -eq 0 ] || { echo "[pack] package checks failed" >&2; exit 1; }
echo "[pack] checked $(ls "$output"/*.nupkg | wc -l) packages: README, LICENSE, XML docs, native shim, no repository paths"
