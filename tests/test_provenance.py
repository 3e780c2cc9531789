"""The CPU kind a measurement names, and when bf16 autocast counts as native."""
from __future__ import annotations

import pytest

from serve.core import provenance

CAPS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


@pytest.fixture
def amx_cpu(monkeypatch):
    for name in CAPS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(provenance, "cpu_flags", lambda: {"avx2", "avx512f", "avx512_bf16", "amx_bf16"})
    return monkeypatch


def test_bf16_is_native_on_an_amx_cpu_until_a_cap_holds_it_below(amx_cpu):
    assert provenance.cpu_has_native_bf16() and "bf16 native (AMX)" in provenance.cpu_kind()
    for name, value in (("ATEN_CPU_CAPABILITY", "avx2"), ("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_VNNI")):
        amx_cpu.setenv(name, value)
        assert not provenance.cpu_has_native_bf16(), name
        assert f"held to {name}={value}" in provenance.cpu_kind() and "fp32" in provenance.cpu_kind()
        amx_cpu.delenv(name)
    amx_cpu.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX")  # a cap at or above bf16 keeps it
    assert provenance.cpu_has_native_bf16()


def test_an_avx2_cpu_trains_in_fp32(monkeypatch):
    for name in CAPS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(provenance, "cpu_flags", lambda: {"avx", "avx2", "fma"})
    assert not provenance.cpu_has_native_bf16() and "fp32 (AVX2)" in provenance.cpu_kind()
