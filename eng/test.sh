#!/usr/bin/env bash
# README command 2: set up a fresh Debian machine (as root), build everything with warnings as errors,
# and run every test project.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
bash eng/setup.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build ModelKit.sln -c Release -nologo -clp:"ErrorsOnly;Summary"
dotnet test ModelKit.sln -c Release --no-build -nologo "$@"
