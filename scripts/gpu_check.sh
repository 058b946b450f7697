#!/usr/bin/env bash
# The GPU checks, as one run on a GPU machine (the figures in README, "Measured on a GPU"):
#   endtoend  cataract bench train --end-to-end: each recipe phase and the all-layers step
#             from the real photos through the training input pipeline (augmentation on the
#             GPU), 224x224, bfloat16, the recipe's batch, beside the step alone
#   recipe    cataract train --recipe photos-gpu on the real photos: its wall time, and each
#             epoch's seconds from RUN/metrics.jsonl (compilation, steps, validation and
#             checkpoints as far as the run records them)
#   train     cataract bench train   images/s and MFU of the training step alone
#   infer     cataract bench infer   the Flax forward pass per batch: the ceiling for serving
#   input     cataract bench input   the input pipeline alone (grain workers)
# and packs a slim copy of the run (best weights, no optimizer state) for `cataract export`
# on a machine with TensorFlow.
#
# Needs JAX with CUDA, flax, optax, orbax-checkpoint; wheels in .whl/ for what the machine
# lacks (grain); the photos in .data/cataract_eyes. Writes to $OUT (default gpu-check/):
# log.txt, figures in *.json, run.tar.part-* (join with cat). Each stage has a time limit,
# so a slow one costs its own figures, not the others'. STAGES picks stages (default
# "endtoend recipe": at most 5 minutes on an H200, so a rerun fits in a lease of 15); a
# stage's *_ARGS variable adds flags (tiny ones test the script on a CPU).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$ROOT/gpu-check}"
DATA="${DATA:-.data/cataract_eyes}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
script_started=$(date +%s)
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
PYTHON="${PYTHON:-python3}"

if compgen -G ".whl/*.whl" > /dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/site:$ROOT"
else
    export PYTHONPATH="$ROOT"
fi
CATARACT=("$PYTHON" -m cataract_cli)  # `cataract`, runnable under timeout
stage() { printf '\n==> %s (limit %ss) %s\n' "$1" "$2" "$(date +%T)"; }

# A run's epochs: each one's seconds (and any other *seconds field the run records), then
# its wall time split. A phase's first epoch less its median epoch is about the phase's
# compilation; validation and checkpoint seconds are recorded per epoch; outside the epochs
# are the photo scan, decoding once and finalize.
epoch_times() {
    RUN="$1" STARTED="$2" "$PYTHON" - <<'EOF'
import json, os, statistics, time
wall = time.time() - float(os.environ["STARTED"])
epochs = [json.loads(line) for line in open(os.path.join(os.environ["RUN"], "metrics.jsonl"))]
timings = sorted({key for epoch in epochs for key in epoch if "seconds" in key})
print("epoch phase     " + " ".join(f"{key:>16s}" for key in timings))
for epoch in epochs:
    print(f"{epoch['epoch']:5d} {epoch['phase']:9s} " + " ".join(f"{epoch.get(key, float('nan')):16.3f}" for key in timings))
def total(key):
    return sum(epoch.get(key, 0.0) for epoch in epochs)
compilation = 0.0
for phase in dict.fromkeys(epoch["phase"] for epoch in epochs):
    seconds = [epoch["seconds"] for epoch in epochs if epoch["phase"] == phase]
    compilation += max(seconds[0] - statistics.median(seconds[1:] or seconds), 0.0)
validation, checkpoints = total("validation_seconds"), total("checkpoint_seconds")
steps = total("seconds") - validation - compilation
outside = wall - total("seconds") - checkpoints
print(f"wall time {wall:.1f} s over {len(epochs)} epochs: compilation about {compilation:.1f} s, steps {steps:.1f} s, "
      f"validation {validation:.1f} s, checkpoints (time the step waited) {checkpoints:.1f} s, outside the epochs "
      f"{outside:.1f} s (photo scan, decoding once, finalize); wall time less compilation {wall - compilation:.1f} s")
EOF
}

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv || true
"$PYTHON" - <<'EOF'
import importlib
for name in ("jax", "jaxlib", "flax", "optax", "orbax.checkpoint", "grain", "numpy"):
    try:
        print(name, importlib.import_module(name).__version__)
    except Exception as exc:  # noqa: BLE001 - a report, not a check
        print(name, "missing:", exc)
import jax
print(jax.devices())
EOF

STAGES="${STAGES:-endtoend recipe}"
wanted() { [[ " $STAGES " == *" $1 "* ]]; }

wanted endtoend && stage "each phase end to end from $DATA, beside the step alone" "${BENCH_E2E_LIMIT:-130}" &&
timeout "${BENCH_E2E_LIMIT:-130}" "${CATARACT[@]}" bench train --end-to-end --data "$DATA" --image-size 224 \
    --compute-dtype bfloat16 --steps 100 --json-out "$OUT/bench_end_to_end.json" ${BENCH_E2E_ARGS:-}

wanted train && stage "training step: throughput and MFU" "${BENCH_TRAIN_LIMIT:-180}" &&
timeout "${BENCH_TRAIN_LIMIT:-180}" "${CATARACT[@]}" bench train --json-out "$OUT/bench_train.json" ${BENCH_TRAIN_ARGS:-}

wanted infer && stage "Flax forward pass per batch" "${BENCH_INFER_LIMIT:-75}" &&
timeout "${BENCH_INFER_LIMIT:-75}" "${CATARACT[@]}" bench infer --json-out "$OUT/bench_infer.json" ${BENCH_INFER_ARGS:-}

RUN=/tmp/gpu-check-run
# Every layer from scratch at 224 (no ImageNet weights offline), fixed epochs.
wanted recipe && stage "the photos-gpu recipe on $DATA" "${TRAIN_LIMIT:-150}" && rm -rf "$RUN" "$OUT/run" &&
started=$(date +%s.%N) &&
timeout "${TRAIN_LIMIT:-150}" "${CATARACT[@]}" train --recipe photos-gpu --data "$DATA" --out "$RUN" ${TRAIN_ARGS:-} \
    && epoch_times "$RUN" "$started" \
    && "$PYTHON" scripts/slim_run.py "$RUN" "$OUT/run" \
    && tar -C "$OUT" -cf - run | split -b 15m - "$OUT/run.tar.part-" && rm -rf "$OUT/run"

wanted input && stage "input pipeline alone" "${BENCH_INPUT_LIMIT:-60}" &&
timeout "${BENCH_INPUT_LIMIT:-60}" "${CATARACT[@]}" bench input --data "$DATA" --json-out "$OUT/bench_input.json" ${BENCH_INPUT_ARGS:-}

echo "gpu_check: $(( $(date +%s) - script_started )) s"
ls -la "$OUT"
