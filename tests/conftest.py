"""Shared by every test: the repository root (one constant, `ROOT`, and the `repo_root` fixture) and the package
on sys.path (so the tests run from a checkout without `pip install -e .`). Test-only tools: tests/tools/."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_PYTHON = Path(__file__).resolve().parents[1] / "python"
if str(_PYTHON) not in sys.path:
    sys.path.insert(0, str(_PYTHON))

from tinycodec.config import REPO_ROOT as ROOT  # noqa: E402

__all__ = ["ROOT"]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT
