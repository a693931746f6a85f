"""`tinycodec codegen --manifest PATH --out DIR` (wired into tinycodec.cli by the lead)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..safeio import FileError, check_dir_writable
from .errors import CodegenError
from .generate import generate
from .tables import generate_tables


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--manifest", help="model bundle manifest.json (or its folder)")
    src.add_argument("--tflite", nargs="+", help="bare .tflite files instead of a manifest")
    parser.add_argument(
        "--backend",
        choices=("gen", "tflm"),
        default="gen",
        help="gen: C for our int8 kernels (+ entropy tables); tflm: the .tflite files as C arrays + an op "
        "resolver with exactly the models' ops, for the TFLM interpreter (default: %(default)s)",
    )
    parser.add_argument(
        "--out", default=None, help="output folder (default: firmware/generated, or firmware/generated_tflm for tflm)"
    )
    parser.add_argument(
        "--tflm-arena-bytes",
        type=int,
        default=None,
        help="tflm only: host-measured TFLM arena to size from (default: max tflm_arena_bytes of the manifest)",
    )
    parser.add_argument(
        "--no-fuse",
        action="store_true",
        help="do not fold RESIZE_NEAREST_NEIGHBOR into the following CONV_2D",
    )
    parser.add_argument(
        "--no-band",
        action="store_true",
        help="no patch-wise (row-banded) execution of conv chains (by default applied where it lowers the memory peak)",
    )


def run(args: argparse.Namespace) -> int:
    src = args.manifest if args.manifest else args.tflite
    tflm = getattr(args, "backend", "gen") == "tflm"
    if args.out is None:
        args.out = "firmware/generated_tflm" if tflm else "firmware/generated"
    try:  # before any work: --out must be (or be creatable as) a writable folder
        check_dir_writable(args.out, "generated C")
    except FileError as e:
        print(f"codegen: error: {e}", file=sys.stderr)
        return 2
    if tflm:
        from .tflm_emit import generate_tflm

        try:
            print(generate_tflm(src, args.out, args.tflm_arena_bytes).summary())
        except (CodegenError, FileError) as e:
            print(f"codegen: error: {e}", file=sys.stderr)
            return 2
        return 0
    try:
        report = generate(
            args.manifest if args.manifest else args.tflite,
            args.out,
            fuse=not args.no_fuse,
            band=not getattr(args, "no_band", False),
        )
    except (CodegenError, FileError) as e:
        print(f"codegen: error: {e}", file=sys.stderr)
        return 2
    print(report.summary())
    if args.manifest:
        try:
            print(generate_tables(args.manifest, args.out).summary())
        except (CodegenError, FileError) as e:
            print(f"codegen: error: {e}", file=sys.stderr)
            return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tinycodec codegen", description="Generate C for the gen backend.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
