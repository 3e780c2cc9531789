"""The machine a measurement ran on, in words, for benchmark and result tables."""

from __future__ import annotations

from pathlib import Path

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
