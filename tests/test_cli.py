"""CLI: --help on every verb, and bad input -> one-line error, exit code 2, no traceback."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinycodec.cli import build_parser, main

VERBS = ["train", "export", "compress", "decompress", "codegen", "bench", "eval"]


@pytest.mark.parametrize("verb", VERBS)
def test_help(verb, capsys):
    with pytest.raises(SystemExit) as e:
        main([verb, "--help"])
    assert e.value.code == 0
    assert "usage: tinycodec" in capsys.readouterr().out


def test_parser_lists_verbs():
    text = build_parser().format_help()
    assert all(v in text for v in VERBS)


def _one_line_error(capsys, argv, match):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len([line for line in err if line.startswith("tinycodec: error:")]) == 1, err
    assert "Traceback" not in "\n".join(err)
    assert match in err[-1], err


def test_bad_inputs(tmp_path: Path, capsys):
    out = tmp_path / "out"
    _one_line_error(capsys, ["compress", "-o", str(out), str(tmp_path / "missing.png")], "no such file")
    _one_line_error(capsys, ["compress", "-o", str(out), str(tmp_path)], "is a directory")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    _one_line_error(capsys, ["compress", "-o", str(out), str(junk)], "not a readable image")
    good = tmp_path / "img.png"
    Image.fromarray(np.full((40, 50, 3), 128, np.uint8)).save(good)
    truncated = tmp_path / "trunc.png"
    truncated.write_bytes(good.read_bytes()[:60])
    _one_line_error(capsys, ["compress", "-o", str(out), str(truncated)], "trunc.png")
    assert main(["compress", "-q", "1", "-o", str(out), str(good)]) == 0
    tcz = out / "img.tcz"
    cut = tmp_path / "cut.tcz"
    cut.write_bytes(tcz.read_bytes()[:-5])
    _one_line_error(capsys, ["decompress", "-o", str(out), str(cut)], "cut.tcz")
    assert main(["decompress", "-o", str(out), str(tcz)]) == 0
    assert Image.open(out / "img.png").size == (50, 40)
    _one_line_error(capsys, ["compress", "-q", "9", "-o", str(out), str(good)], "quality 9")
    _one_line_error(capsys, ["compress", "--model", str(tmp_path), "-o", str(out), str(good)], "manifest")


def test_bad_port(capsys):
    _one_line_error(capsys, ["bench", "--port", "socket://127.0.0.1:1"], "cannot open serial port")


def test_makefile_model_is_the_default_bundle():
    """One shipped bundle: the Makefile's MODEL default and the CLI's default agree."""
    import re

    from tinycodec.config import DEFAULT_MODEL, REPO_ROOT

    mk = (REPO_ROOT / "Makefile").read_text()
    assert re.search(r"^MODEL \?= (\S+)$", mk, re.M).group(1) == str(DEFAULT_MODEL.relative_to(REPO_ROOT))


def test_every_preset_has_a_recipe():
    """train / export take --preset from config.RECIPES: every model shape trains, and its default tile is
    the tile its recipe trains on (crop), so the exported models see what training saw."""
    from tinycodec.config import PRESETS, RECIPES

    assert set(PRESETS) <= set(RECIPES)
    for name in PRESETS:
        assert RECIPES[name].tile == RECIPES[name].crop, name
    for verb in ("train", "export"):
        with pytest.raises(SystemExit):
            main([verb, "--preset", "no-such-preset"])
