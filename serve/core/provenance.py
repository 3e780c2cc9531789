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


def resident_mb() -> Optional[float]:
    """This process's resident memory now, in MB (None where /proc is not there)."""
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


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


# Instruction-set caps a user (or a benchmark emulating an older CPU) can set: PyTorch's own kernels
# (ATEN_CPU_CAPABILITY), oneDNN's, which runs the bf16 matmuls (ONEDNN_MAX_CPU_ISA), and MKL's, which
# runs the fp32 ones (MKL_ENABLE_INSTRUCTIONS; an AVX512 CPU emulating AVX2 needs all three). A cap
# below bf16 means the hardware's bf16 units are out of reach, whatever /proc/cpuinfo says.
_ATEN_WITHOUT_BF16 = {"default", "avx2", "avx512", "avx512_vnni"}
_ONEDNN_WITHOUT_BF16 = {"sse41", "avx", "avx2", "avx2_vnni", "avx2_vnni_2", "avx512_core", "avx512_core_vnni"}


def cpu_isa_caps() -> dict[str, str]:
    """The instruction-set caps set in the environment ({} when none is)."""
    return {name: os.environ[name] for name in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")
            if os.environ.get(name)}


def cpu_has_native_bf16() -> bool:
    """True on CPUs that multiply bfloat16 in hardware (AMX or AVX512-BF16), unless an instruction-set cap
    holds PyTorch or oneDNN below it: there bf16 autocast pays."""
    caps = cpu_isa_caps()
    if caps.get("ATEN_CPU_CAPABILITY", "").lower() in _ATEN_WITHOUT_BF16:
        return False
    if caps.get("ONEDNN_MAX_CPU_ISA", "").lower() in _ONEDNN_WITHOUT_BF16:
        return False
    return bool(cpu_flags() & {"amx_bf16", "avx512_bf16"})


def cpu_kind() -> str:
    """The CPU and the path its matmuls take, for logs: "Intel Xeon, 2 CPU cores, bf16 native (AMX)" or
    "..., fp32 (held to ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2)"."""
    flags = cpu_flags()
    isa = "AMX" if "amx_bf16" in flags else "AVX512-BF16" if "avx512_bf16" in flags else \
        "AVX512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    path = f"bf16 native ({isa})" if cpu_has_native_bf16() else f"fp32 ({isa})"
    caps = cpu_isa_caps()
    held = f", held to {', '.join(f'{k}={v}' for k, v in caps.items())}" if caps else ""
    return f"{hardware(gpus=False)}, {path}{held}"


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
