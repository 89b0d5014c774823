#!/usr/bin/env bash
# Data-parallel scaling on one machine: the sample's CNN trained by 2 ranks x 1 thread against 1 rank x 2 threads,
# the same images, global batch and epochs, interleaved A B A B so that both layouts see the same machine.
#   bash samples/DistributedTraining/scaling.sh [ROUNDS] [TRAIN_SAMPLES] [EPOCHS]     (defaults 2, 8192, 3)
# Build first: dotnet build samples/DistributedTraining -c Release. On a shared machine run it under the bench lock.
# Prints one line per run (epoch seconds as the trainer reports them, rank 0's all-reduce wait) and a summary:
# throughput of each layout over the epochs after the first (the first pays one-off costs: thread pools, allocator,
# page faults) and the ratio (2 ranks) / (1 rank); target >= 0.9.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dll="$repo_root/samples/DistributedTraining/bin/Release/net10.0/DistributedTraining.dll"
rounds="${1:-2}" samples="${2:-8192}" epochs="${3:-3}"
[[ -f "$dll" ]] || { echo "scaling.sh: $dll is missing; run 'dotnet build samples/DistributedTraining -c Release' first" >&2; exit 2; }
# The 2 x 1 layout goes through the local launcher, which binds each rank to its own CPU (--cpu-bind auto); the 1 x 2
# layout is one process on both CPUs (binding its OpenMP threads changed nothing measurable). libgomp's default wait policy (what the trainer recommends for a process on cores of its own; the ranks of the 2 x 1
# layout have no OpenMP workers, and the local launcher sets PASSIVE for them anyway). Set OMP_WAIT_POLICY to override.
export DOTNET_CLI_TELEMETRY_OPTOUT=1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "scaling: CNN, $samples images, global batch 128, $epochs epochs, $rounds rounds; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"

# run LABEL ARGS...: trains once, prints the epoch times, appends "seconds_after_first all_reduce_after_first" to $work/LABEL.
run() {
    local label="$1"; shift
    local log="$work/$label.log" start end
    start=$(date +%s.%N)
    dotnet "$dll" --epochs "$epochs" --train-samples "$samples" --no-register --data-dir "$work/data" "$@" >"$log" 2>&1 \
        || { cat "$log" >&2; echo "scaling.sh: the $label run failed" >&2; exit 1; }
    end=$(date +%s.%N)
    # Rank 0's lines (the local launcher prefixes them with "[rank 0] "; one rank has no prefix).
    grep -E '^(\[rank 0\] )?epoch [0-9]+/' "$log" | sed -E 's/.*, ([0-9.]+) s \(all-reduce wait ([0-9.]+) s\)$/\1 \2/' \
        | awk -v label="$label" -v wall="$(echo "$end - $start" | bc)" -v out="$work/$label" '
        { n++; t[n] = $1; w[n] = $2 }
        END {
            line = sprintf("%-18s epochs", label); after = 0; wait = 0
            for (i = 1; i <= n; i++) { line = line sprintf(" %s s", t[i]); if (i > 1) { after += t[i]; wait += w[i] } }
            printf "%s (all-reduce wait after epoch 1: %.1f s), wall %.1f s\n", line, wait, wall
            print after, wait >> out
        }'
}
for ((r = 1; r <= rounds; r++)); do
    run "2ranks_x_1thread" --nproc-per-node 2 --threads 1
    run "1rank_x_2threads" --threads 2
done
awk -v samples="$samples" -v epochs="$epochs" '
    FNR == 1 { file++ } { sec[file] += $1; wait[file] += $2 }
    END {
        images = samples * (epochs - 1) * FNR
        r2 = images / sec[1]; r1 = images / sec[2]
        printf "2 ranks x 1 thread : %.0f images/s over epochs 2-%d (all-reduce wait %.1f%% of that time)\n", r2, epochs, 100 * wait[1] / sec[1]
        printf "1 rank x 2 threads : %.0f images/s over epochs 2-%d\n", r1, epochs
        printf "ratio (2 ranks / 1 rank): %.2fx (target >= 0.9x)\n", r2 / r1
    }' "$work/2ranks_x_1thread" "$work/1rank_x_2threads"
