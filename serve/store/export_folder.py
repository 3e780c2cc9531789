"""The export-folder contract: what marks an ONNX export folder as finished, and where exports go.

``scotd export`` writes the report last, after its gates pass; a refused gate writes the
FAILED report instead. So a folder is servable exactly when it holds ``REPORT_FILE``.
"""

from __future__ import annotations

from pathlib import Path

REPORT_FILE = "export_report.json"
FAILED_REPORT_FILE = "export_report.FAILED.json"
DEFAULT_PRECISION = "int8"
GGUF_REPORT_FILE = "gguf_report.json"  # not REPORT_FILE: a GGUF folder is for llama.cpp/Ollama, not the serve engines
# Written when an export starts and removed when it passes: a rerun replaces a folder that holds it
# (a crash, a refused gate, an interrupted build) without --force.
UNFINISHED_MARKER = ".scotd-export-unfinished"


def export_folder_name(precision: str, fmt: str = "onnx") -> str:
    """``onnx-int8``, ``gguf-q8_0``: the folder an export of that format and precision gets beside ``hf/``."""
    return f"{fmt}-{precision}"


def report_file_name(fmt: str = "onnx") -> str:
    """The file a passed export of that format writes last."""
    return GGUF_REPORT_FILE if fmt == "gguf" else REPORT_FILE


DEFAULT_EXPORT = export_folder_name(DEFAULT_PRECISION)


def is_finished_export(folder: Path) -> bool:
    return (Path(folder) / REPORT_FILE).is_file()
