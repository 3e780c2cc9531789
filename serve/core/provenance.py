"""What a measurement ran on: the machine in words, and the versions of the packages involved.

For benchmark and result tables, run folders and export reports.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Iterable, Optional

CPUINFO = Path("/proc/cpuinfo")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("AMD EPYC 7B13"), or "" where there is none."""
    if not CPUINFO.is_file():
        return ""
    return next((line.split(":", 1)[1].strip() for line in CPUINFO.read_text().splitlines()
                 if line.startswith("model name")), "")


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo ({"avx2", "amx_bf16", ...}); empty where there is none."""
    if not CPUINFO.is_file():
        return set()
    return next((set(line.split(":", 1)[1].split()) for line in CPUINFO.read_text().splitlines()
                 if line.startswith("flags")), set())


def cpu_has_native_bf16() -> bool:
    """True on CPUs that multiply bfloat16 in hardware (AMX or AVX512-BF16): there bf16 autocast pays."""
    return bool(cpu_flags() & {"amx_bf16", "avx512_bf16"})


def hardware(gpus: bool = True) -> str:
    """The machine in words, for result tables: "AMD EPYC 7B13, 16 CPU cores", led by the GPUs torch can
    see ("1x NVIDIA H100 + ...") when ``gpus`` and torch is already imported (this never imports it)."""
    text = f"{cpu_model() or platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores"
    torch = sys.modules.get("torch") if gpus else None
    if torch is not None and torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        text = f"{len(names)}x {names[0]} + {text}"
    return text


def package_versions(names: Iterable[str]) -> dict[str, Optional[str]]:
    """Python's version and each installed package's (None where it is not installed)."""
    versions: dict[str, Optional[str]] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
