#!/usr/bin/env bash
# The main job, end to end on this machine (CPU, embedded Triton):
#   set up -> photos -> train -> evaluate -> export -> serve -> predict -> keep serving.
# Uses data/ when it holds photos in the earlier project's layout (data/train|test/
# cataract|normal), else draws a synthetic set into demo/photos. Steps already done
# (a finished run, its exported version) are reused; delete demo/ to start over.
# Ctrl-C stops everything this script started.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
started=$(date +%s)
HTTP_PORT="${HTTP_PORT:-8000}" GRPC_PORT="${GRPC_PORT:-8001}" METRICS_PORT="${METRICS_PORT:-8002}"
DASHBOARD_PORT="${DASHBOARD_PORT:-5006}"
DEMO="$ROOT/demo"
RUN="$DEMO/run"
REPOSITORY="$ROOT/model_repository"
mkdir -p "$DEMO"

if [ -d data/train ]; then
    DATA="$ROOT/data"
    say "using your photos in $DATA"
else
    DATA="$DEMO/photos"
    if [ ! -d "$DATA/train" ]; then
        say "no data/ folder: drawing 400 synthetic eye photos into $DATA"
        cataract synth "$DATA" --n 400 --seed 0
    else
        say "using the synthetic photos in $DATA"
    fi
fi

if [ -f "$RUN/val_predictions.csv" ]; then
    say "reusing the trained run in $RUN (delete it to train again)"
elif python -c "from train_jax.model.pretrained import find_imagenet_weights as f; raise SystemExit(0 if f() else 1)" 2>/dev/null; then
    say "training VGG16 on ImageNet weights at 224x224: head on the frozen base, then the last block"
    cataract train --recipe imagenet --data "$DATA" --out "$RUN"
else
    # A frozen base of random weights learns little, and a full VGG16 from scratch at
    # 224x224 is out of reach of a 2-core CPU: the demo recipe trains a 1/8-width VGG16 at
    # 64x64, every layer, from scratch. The served model takes 64x64 input then (the
    # repository's configs follow the run); with ImageNet weights the demo serves 224x224.
    say "no ImageNet weights here: training a narrow VGG16 from scratch at 64x64 (the demo recipe, ~2 minutes)"
    cataract train --recipe demo --data "$DATA" --out "$RUN"
fi

say "evaluating on the held-out test photos (threshold chosen on validation)"
cataract evaluate --run "$RUN" --data "$DATA"

if grep -qs "\"run\": \"$RUN\"" "$REPOSITORY"/cataract_vgg16/*/model_card.json; then
    say "this run is already exported to $REPOSITORY"
else
    say "exporting to the Triton model repository $REPOSITORY"
    # Export refuses a run that did not learn (exit code 2): such a model is never served.
    if ! cataract export --run "$RUN" --repository "$REPOSITORY"; then
        echo "demo: the run in $RUN was not exported (see the reason above), so nothing is served." >&2
        echo "demo: delete $RUN to train again, or train with another --seed." >&2
        exit 1
    fi
fi

say "starting Triton (embedded, CPU) on ports $HTTP_PORT/$GRPC_PORT/$METRICS_PORT"
cataract serve --repository "$REPOSITORY" --http-port "$HTTP_PORT" --grpc-port "$GRPC_PORT" \
    --metrics-port "$METRICS_PORT" > "$DEMO/serve.log" 2>&1 &
SERVER_PID=$!
DASHBOARD_PID=""
stop_all() {
    trap - INT TERM EXIT
    say "stopping"
    [ -n "$DASHBOARD_PID" ] && kill -TERM "$DASHBOARD_PID" 2>/dev/null
    kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
}
trap stop_all INT TERM EXIT
until grep -q "Triton ready" "$DEMO/serve.log"; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$DEMO/serve.log"; exit 1; fi
    sleep 1
done
grep "Triton ready" "$DEMO/serve.log"

say "screening a few test photos through the client library (gRPC)"
samples=$(find "$DATA/test" -type f | sort | awk 'NR % 7 == 1' | head -6)
# shellcheck disable=SC2086
cataract predict $samples --url "127.0.0.1:$GRPC_PORT" --json || true

say "starting the dashboard"
cataract dashboard --triton-url "127.0.0.1:$GRPC_PORT" --port "$DASHBOARD_PORT" --samples "$DATA/test" \
    > "$DEMO/dashboard.log" 2>&1 &
DASHBOARD_PID=$!
until curl -s -o /dev/null "http://127.0.0.1:$DASHBOARD_PORT/"; do
    if ! kill -0 "$DASHBOARD_PID" 2>/dev/null; then cat "$DEMO/dashboard.log"; exit 1; fi
    sleep 1
done

say "done in $(( $(date +%s) - started )) s"
echo "Triton:    HTTP 127.0.0.1:$HTTP_PORT  gRPC 127.0.0.1:$GRPC_PORT  (try: cataract predict PHOTO --url 127.0.0.1:$GRPC_PORT)"
echo "dashboard: http://127.0.0.1:$DASHBOARD_PORT/"
echo "serving until Ctrl-C"
wait "$SERVER_PID"
