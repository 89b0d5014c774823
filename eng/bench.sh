#!/usr/bin/env bash
# Runs the BenchmarkDotNet suites of benchmarks/ModelKit.Benchmarks (Release, each case in its own process).
#   bash eng/bench.sh                      # every suite
#   bash eng/bench.sh '*DynamicBatching*'  # a filter; further arguments go to BenchmarkDotNet
# Reports: BenchmarkDotNet.Artifacts/results/*.csv (BenchmarkDotNet's own) and latency.csv (per-request percentiles).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
filter="${1:-*}"
shift || true
dotnet build benchmarks/ModelKit.Benchmarks/ModelKit.Benchmarks.csproj -c Release -nologo -clp:ErrorsOnly
exec dotnet benchmarks/ModelKit.Benchmarks/bin/Release/net10.0/ModelKit.Benchmarks.dll --filter "$filter" "$@"
