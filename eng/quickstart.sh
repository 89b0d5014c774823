#!/usr/bin/env bash
# README command 1: set up a fresh Debian machine (as root), build, and run the quick start:
# train on Fashion-MNIST with libtorch, export ONNX, register, serve with ONNX Runtime, evaluate.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
bash eng/setup.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build samples/QuickStart/QuickStart.csproj -c Release -nologo -clp:ErrorsOnly
exec dotnet samples/QuickStart/bin/Release/net10.0/QuickStart.dll "$@"
