"""Runs INSIDE the optimum venv (transformers 4.x): export one HF folder to ONNX with past KV.

Kept free of scotd imports on purpose: that interpreter has transformers 4.x and
must not load scotd's transformers-5 code. Usage: python optimum_worker.py SRC OUT
"""

import sys


def main(source: str, output: str) -> None:
    from optimum.exporters.onnx import main_export

    main_export(model_name_or_path=source, output=output, task="text-generation-with-past", device="cpu",
                do_validation=False, trust_remote_code=False, local_files_only=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
