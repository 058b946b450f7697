#!/usr/bin/env bash
# The GPU checks, as one run on a GPU machine (the figures in README, "Measured on a GPU"):
#   1. cataract bench train   images/s and MFU of the training step, 224x224 VGG16, bfloat16
#   2. cataract bench infer   the Flax forward pass per batch: the ceiling for serving
#   3. cataract train         the recipe on real photos, fixed epochs: wall time, validation
#   4. cataract bench input   the input pipeline alone (grain workers)
# and packs a slim copy of the run (best weights, no optimizer state) for `cataract export`
# on a machine with TensorFlow.
#
# Needs JAX with CUDA, flax, optax, orbax-checkpoint; wheels in .whl/ for what the machine
# lacks (grain); the photos in .data/cataract_eyes. Writes to $OUT (default gpu-check/):
# log.txt, figures in *.json, run.tar.part-* (join with cat). Each stage has a time limit,
# so a slow one costs its own figures, not the others'. STAGES picks stages (default all:
# "train infer recipe input").
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$ROOT/gpu-check}"
DATA="${DATA:-.data/cataract_eyes}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
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

STAGES="${STAGES:-train infer recipe input}"
wanted() { [[ " $STAGES " == *" $1 "* ]]; }

wanted train && stage "training step: throughput and MFU" "${BENCH_TRAIN_LIMIT:-180}" &&
timeout "${BENCH_TRAIN_LIMIT:-180}" "${CATARACT[@]}" bench train --json-out "$OUT/bench_train.json" ${BENCH_TRAIN_ARGS:-}

wanted infer && stage "Flax forward pass per batch" "${BENCH_INFER_LIMIT:-75}" &&
timeout "${BENCH_INFER_LIMIT:-75}" "${CATARACT[@]}" bench infer --json-out "$OUT/bench_infer.json" ${BENCH_INFER_ARGS:-}

RUN=/tmp/gpu-check-run
# No ImageNet weights offline: every layer learns from scratch, early stopping off (fixed epochs).
wanted recipe && stage "the recipe on $DATA" "${TRAIN_LIMIT:-170}" && rm -rf "$RUN" "$OUT/run" && started=$(date +%s) &&
timeout "${TRAIN_LIMIT:-170}" "${CATARACT[@]}" train --data "$DATA" --out "$RUN" --weights none --image-size 224 \
    --unfreeze-blocks 5 --head-epochs 2 --finetune-epochs "${FINETUNE_EPOCHS:-30}" --learning-rate 1e-3 \
    --finetune-learning-rate 1e-3 --label-smoothing 0 --dropout 0.2 --patience 1000 ${TRAIN_ARGS:-} \
    && echo "training wall time: $(( $(date +%s) - started )) s" \
    && "$PYTHON" scripts/slim_run.py "$RUN" "$OUT/run" \
    && tar -C "$OUT" -cf - run | split -b 15m - "$OUT/run.tar.part-" && rm -rf "$OUT/run"

wanted input && stage "input pipeline alone" "${BENCH_INPUT_LIMIT:-60}" &&
timeout "${BENCH_INPUT_LIMIT:-60}" "${CATARACT[@]}" bench input --data "$DATA" --json-out "$OUT/bench_input.json" ${BENCH_INPUT_ARGS:-}

ls -la "$OUT"
