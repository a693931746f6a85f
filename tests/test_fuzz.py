"""The fuzz targets (firmware/fuzz/, docs/security.md) as a test: build them, replay the committed regression
corpus (tests/fuzz_corpus/<target>/, every input that ever crashed plus a minimized corpus) and fuzz each
target for a few seconds; 0 crashes, 0 hangs, 0 sanitizer reports. The long runs are `make fuzz`.

Needs clang with libFuzzer (Debian: clang libclang-rt-14-dev, installed by scripts/setup.sh): skipped
without it, except in CI (CI=true), where a missing clang is a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT

FUZZ = ROOT / "firmware" / "fuzz"
TCZ_TARGET = ROOT / "tests" / "tools" / "fuzz_tcz.py"  # the Python target (the host .tcz reader)
OUT = ROOT / "build" / "fuzz"
REG = ROOT / "tests" / "fuzz_corpus"
IN_CI = os.environ.get("CI", "").lower() == "true"
SECONDS = {"app": 12, "rans": 6}


def _libfuzzer_missing() -> str | None:
    if shutil.which("clang") is None:
        return "clang not installed (apt-get install clang libclang-rt-14-dev)"
    probe = subprocess.run(
        ["clang", "-fsanitize=fuzzer", "-x", "c", "-", "-o", os.devnull],
        input="int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }",
        capture_output=True, text=True,
    )  # fmt: skip
    return None if probe.returncode == 0 else "clang has no libFuzzer runtime (apt-get install libclang-rt-14-dev)"


@pytest.fixture(scope="module")
def built() -> Path:
    reason = _libfuzzer_missing()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true but {reason}: scripts/setup.sh installs it")
        pytest.skip(reason)
    r = subprocess.run([str(FUZZ / "build.sh")], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    return OUT


def _check(r: subprocess.CompletedProcess, what: str) -> None:
    log = r.stdout + r.stderr
    assert r.returncode == 0, f"{what}: exit {r.returncode}\n{log[-4000:]}"
    for bad in ("ERROR: AddressSanitizer", "ERROR: libFuzzer", "runtime error:", "ERROR: UndefinedBehavior"):
        assert bad not in log, f"{what}: {bad}\n{log[-4000:]}"


@pytest.mark.parametrize("target", ["app", "rans"])
def test_regression_corpus(built: Path, target: str) -> None:
    files = sorted((REG / target).iterdir())
    assert files, f"empty regression corpus {REG / target}"
    r = subprocess.run([str(built / f"fuzz_{target}"), *map(str, files)], capture_output=True, text=True, timeout=300)
    _check(r, f"replay {target}")


@pytest.mark.parametrize("target", ["app", "rans"])
def test_fuzz_short(built: Path, target: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    r = subprocess.run(
        # rss_limit 0: ru_maxrss survives fork+exec, so the fuzzer would inherit pytest's TensorFlow-sized RSS;
        # malloc_limit_mb still bounds any single allocation
        [str(built / f"fuzz_{target}"), f"-max_total_time={SECONDS[target]}", "-timeout=10", "-rss_limit_mb=0",
         "-malloc_limit_mb=2048", "-max_len=16600", f"-artifact_prefix={tmp_path}/", str(corpus),
         str(built / "seeds" / target), str(REG / target)],
        capture_output=True, text=True, timeout=SECONDS[target] + 240,
    )  # fmt: skip
    _check(r, f"fuzz {target}")
    assert "Done" in r.stderr and not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("timeout-*"))


def test_tcz_regression_corpus() -> None:
    """The Python .tcz reader target: replay the corpus (no atheris needed)."""
    r = subprocess.run([sys.executable, str(TCZ_TARGET), "--replay", str(REG / "tcz")],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0 and "0 failures" in r.stdout, r.stdout + r.stderr


def test_tcz_atheris_short(tmp_path: Path) -> None:
    """The .tcz target under atheris (coverage-guided, pinned in the dev extra) for a few thousand inputs."""
    try:
        import atheris  # noqa: F401
    except ImportError:
        if IN_CI:
            pytest.fail("CI=true but atheris is missing: it is pinned in pyproject's dev extra")
        pytest.skip("atheris not installed (pip install -e .[dev])")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    r = subprocess.run(
        [sys.executable, str(TCZ_TARGET), "-runs=3000", "-timeout=10", "-rss_limit_mb=0",
         "-max_len=8192", f"-artifact_prefix={tmp_path}/", str(corpus), str(REG / "tcz")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-4000:]
    assert "Done 3000 runs" in log and not list(tmp_path.glob("crash-*")), log[-4000:]


@pytest.fixture(scope="module")
def tcz_target():
    from tools import fuzz_tcz

    return fuzz_tcz


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_tcz_reader_hypothesis(tcz_target, data) -> None:
    """Mutations of valid .tcz files (bytes changed/cut/inserted, CRC fixed or not): BitstreamError or a
    correctly sized image, nothing else."""
    seeds = sorted((REG / "tcz").iterdir())
    base = bytearray(data.draw(st.sampled_from(seeds)).read_bytes())
    for _ in range(data.draw(st.integers(0, 4))):
        op = data.draw(st.integers(0, 2))
        at = data.draw(st.integers(0, max(len(base) - 1, 0)))
        if op == 0 and base:
            base[at] = data.draw(st.integers(0, 255))
        elif op == 1:
            del base[at : at + data.draw(st.integers(1, 64))]
        else:
            base[at:at] = data.draw(st.binary(max_size=32))
    tcz_target.one_input(bytes(base))
