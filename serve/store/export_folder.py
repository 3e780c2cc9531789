"""The export-folder contract: what marks an ONNX export folder as finished, where exports go, and the
precision names each format takes.

``scotd export`` writes the report last, after its gates pass; a refused gate writes the
FAILED report instead. So a folder is servable exactly when it holds ``REPORT_FILE``.
"""

from __future__ import annotations

from pathlib import Path

REPORT_FILE = "export_report.json"
FAILED_REPORT_FILE = "export_report.FAILED.json"
# The precision names each export format takes. GGUF's are llama.cpp's: its converter writes the first
# four itself, the k-quants need its quantizer (llama-cpp-python).
ONNX_PRECISIONS = ("int8", "fp32", "int4")
GGUF_CONVERTER_TYPES = ("f32", "f16", "bf16", "q8_0")
GGUF_K_QUANTS = ("q4_k_m", "q5_k_m", "q6_k")
GGUF_PRECISIONS = GGUF_CONVERTER_TYPES + GGUF_K_QUANTS
GGUF_ALIASES = {"int8": "q8_0", "fp32": "f32"}  # the ONNX names, for users who type them with --format gguf
DEFAULT_PRECISION = "int8"
GGUF_REPORT_FILE = "gguf_report.json"  # not REPORT_FILE: a GGUF folder is for llama.cpp/Ollama, not the serve engines
# Written when an export starts and removed when it passes: a rerun replaces a folder that holds it
# (a crash, a refused gate, an interrupted build) without --force.
UNFINISHED_MARKER = ".scotd-export-unfinished"


def export_folder_name(precision: str, fmt: str = "onnx") -> str:
    """``onnx-int8``, ``gguf-q8_0``: the folder an export of that format and precision gets beside ``hf/``
    (an ONNX name given for GGUF is llama.cpp's there too: int8 -> gguf-q8_0)."""
    return f"{fmt}-{GGUF_ALIASES.get(precision, precision) if fmt == 'gguf' else precision}"


def report_file_name(fmt: str = "onnx") -> str:
    """The file a passed export of that format writes last."""
    return GGUF_REPORT_FILE if fmt == "gguf" else REPORT_FILE


DEFAULT_EXPORT = export_folder_name(DEFAULT_PRECISION)


def is_finished_export(folder: Path) -> bool:
    return (Path(folder) / REPORT_FILE).is_file()
