from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

from tiny_models import build_tiny_model  # noqa: E402
# Session fixtures shared by the export and ONNX-engine tests: declared here so the tiny export is built once.
from export_fixtures import lively_llama, llama_fp32_export  # noqa: E402,F401

ARTIFACTS = Path(os.environ.get("SCOTD_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), "llama")


@pytest.fixture(scope="session")
def tiny_qwen2_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2"), "qwen2")


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The real SmolLM2-135M-Instruct folder, fetched once through the registry (slow tier)."""
    from serve.store.fetch import fetch_model

    return fetch_model("smollm2-135m-instruct")


@pytest.fixture
def artifacts_dir(request) -> Path:
    """A folder kept after the test (screenshots, reports) under test-artifacts/TEST_NAME."""
    path = ARTIFACTS / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    return path
