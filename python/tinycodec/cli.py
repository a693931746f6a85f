"""The `tinycodec` command line: argparse verbs only, the logic lives in the modules."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .config import DEFAULT_DATA, REPO_ROOT


class UserError(Exception):
    """An error the user can fix; printed as one line, exit code 2."""


def _cmd_train(args: argparse.Namespace) -> int:
    if args.preset == "seed-unet":
        from .seed_unet import train_seed

        print(f"wrote {train_seed(args.data, args.run, steps=args.steps, batch=args.batch, crop=args.crop)}")
        return 0
    from .config import ModelConfig, TrainConfig
    from .train import train

    tcfg = TrainConfig(
        data_dir=args.data,
        run_dir=args.run,
        steps=args.steps,
        batch=args.batch,
        crop=args.crop,
        lr=args.lr,
        val_every=args.val_every,
        ckpt_every=args.val_every,
        seed=args.seed,
    )
    train(ModelConfig(), tcfg, resume=args.resume)
    return 0


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train the codec (rate + lambda*distortion) on shared/data/train",
        description="Train the variable-rate codec. Validation and checkpoint selection use "
        "shared/data/val; Kodak is never used.",
    )
    p.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="data root with train/ and val/ (default: %(default)s)"
    )
    p.add_argument(
        "--run", type=Path, default=REPO_ROOT / "runs" / "tc-small", help="run folder for checkpoints and log.csv"
    )
    p.add_argument("--steps", type=int, default=150_000, help="total steps (default: %(default)s)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--crop", type=int, default=64, help="random crop size (default: the export tile, %(default)s)")
    p.add_argument("--lr", type=float, default=5e-4, help="Adam learning rate (default: %(default)s)")
    p.add_argument("--val-every", type=int, default=2000, help="validate and checkpoint every N steps")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--resume", action="store_true", help="continue from the run folder's latest checkpoint")
    p.add_argument(
        "--preset",
        choices=["tc-small", "seed-unet"],
        default="tc-small",
        help="tc-small: the codec; seed-unet: the student report's U-Net baseline (MAE, skips)",
    )
    p.set_defaults(func=_cmd_train)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinycodec", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"tinycodec {__version__}")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for add in VERBS:
        add(sub)
    return parser


def _cmd_export(args: argparse.Namespace) -> int:
    if args.preset == "seed-unet":
        from .seed_unet import export_seed

        args.out.mkdir(parents=True, exist_ok=True)
        info = export_seed(args.run / "best.weights.h5", args.out, args.data, tile=args.tile)
        print(f"seed-unet: {info['tflite_bytes']} bytes int8, honest bpp {info['bpp']['all_decoder_inputs']:.1f}")
        return 0
    from .config import ExportConfig
    from .export import export_bundle

    m = export_bundle(args.run, args.out, args.data, ExportConfig(tile=args.tile), which=args.which)
    for e in m["models"]:
        print(f"{e['name']}: {e['size']} bytes, {e['kmac_per_pixel']} kMAC/px, TFLM arena {e['tflm_arena_bytes']} B")
    print(f"wrote {args.out}/manifest.json (model hash {m['model_hash'][:16]})")
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="export full-int8 TFLite encoder/decoder per quality + CDF tables + manifest")
    p.add_argument("--run", type=Path, default=REPO_ROOT / "runs" / "tc-small", help="training run folder")
    p.add_argument("--which", choices=["best", "last"], default="best", help="checkpoint: best on val, or last")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "models" / "tc-small")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="data root; calibration uses train/")
    p.add_argument("--tile", type=int, default=64, help="fixed tile size of the exported models")
    p.add_argument("--preset", choices=["tc-small", "seed-unet"], default="tc-small")
    p.set_defaults(func=_cmd_export)


def _output_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{path}: cannot create output directory ({e.strerror})") from None
    if not os.access(path, os.W_OK):
        raise UserError(f"{path}: output directory is not writable")
    return path


def _cmd_compress(args: argparse.Namespace) -> int:
    from .bundle import Bundle
    from .codec import HostCodec
    from .imageio import read_rgb
    from .metrics import bpp

    codec = HostCodec(Bundle.load(args.model))
    out = _output_dir(args.out)
    for path in _progress(args.images, "compress"):
        img, note = read_rgb(path)
        if note:
            print(f"note: {note}", file=sys.stderr)
        data = codec.compress(img, args.quality)
        dst = out / f"{path.stem}.tcz"
        dst.write_bytes(data)
        print(f"{dst}: {len(data)} bytes, {bpp(len(data), *img.shape[:2]):.4f} bpp")
    return 0


def _cmd_decompress(args: argparse.Namespace) -> int:
    from .bundle import Bundle
    from .codec import HostCodec
    from .imageio import write_png

    codec = HostCodec(Bundle.load(args.model))
    out = _output_dir(args.out)
    for path in _progress(args.files, "decompress"):
        if path.is_dir():
            raise UserError(f"{path}: is a directory, expected a .tcz file")
        try:
            data = path.read_bytes()
        except OSError as e:
            raise UserError(f"{path}: cannot read ({e.strerror})") from None
        try:
            img = codec.decompress(data)
        except Exception as e:
            from .errors import known_error_message

            if known_error_message(e) is None:
                raise
            raise UserError(f"{path}: {e}") from None
        dst = out / f"{path.stem}.png"
        write_png(dst, img)
        print(f"{dst}: {img.shape[1]}x{img.shape[0]}")
    return 0


def _progress(items, desc):
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="img", disable=len(items) < 2, file=sys.stderr)


def _add_codec(sub) -> None:
    p = sub.add_parser("compress", help="compress images to .tcz files (int8 models on TFLM, rANS)")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    p.add_argument("-q", "--quality", type=int, default=2, help="quality level 1..N (default: %(default)s)")
    p.add_argument("-o", "--out", type=Path, required=True, help="output directory for <stem>.tcz")
    p.add_argument("--model", type=Path, default=REPO_ROOT / "models" / "tc-small", help="model bundle folder")
    p.set_defaults(func=_cmd_compress)
    p = sub.add_parser("decompress", help="decompress .tcz files to PNG")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("-o", "--out", type=Path, required=True, help="output directory for <stem>.png")
    p.add_argument("--model", type=Path, default=REPO_ROOT / "models" / "tc-small", help="model bundle folder")
    p.set_defaults(func=_cmd_decompress)


def _add_codegen(sub) -> None:
    from .codegen import cli as codegen_cli

    p = sub.add_parser("codegen", help="generate the gen backend's C from a model bundle (no TensorFlow)")
    codegen_cli.add_arguments(p)
    p.set_defaults(func=codegen_cli.run)


def _cmd_bench(args: argparse.Namespace) -> int:
    import contextlib

    from tqdm import tqdm

    from .bundle import Bundle
    from .host.bench import format_summary, run_bench, write_results
    from .host.transport import Device

    bundle = Bundle.load(args.model)
    with contextlib.ExitStack() as stack:
        url = args.port
        if args.boot:
            from .host.qemu import QemuBoard

            board = stack.enter_context(QemuBoard(args.boot, board=args.board))
            url = board.url
            print(f"booted {args.boot} on {board.machine}, serial {url}", file=sys.stderr)
        if not url:
            raise UserError("give --port URL (e.g. socket://127.0.0.1:4321 or /dev/ttyACM0) or --boot ELF")
        try:
            dev = stack.enter_context(Device(url, timeout=args.timeout))
        except Exception as e:  # pyserial raises SerialException/ValueError for a bad port
            raise UserError(f"cannot open serial port {url}: {e}") from None
        if args.boot:
            dev.wait_ready(timeout=30)
        summary = run_bench(
            dev,
            bundle,
            args.quality,
            args.images,
            args.tiles,
            progress=lambda xs: tqdm(xs, desc="bench", unit="tile", file=sys.stderr),
            mode=args.mode,
        )
    print(format_summary(summary))
    print(f"wrote {write_results(summary, args.out)}")
    return 0 if summary["mismatches"] == 0 else 1


def _add_bench(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="run tiles on a device over serial, compare bit-exactly with the host oracle",
        description="Stream image tiles through the device's encoder and decoder and compare every "
        "output with TFLM on the host. Exit code 1 if any output differs.",
    )
    p.add_argument("--port", help="pyserial URL of the device (socket://host:port for QEMU, /dev/ttyACM0, ...)")
    p.add_argument("--boot", type=Path, metavar="ELF", help="boot this firmware in QEMU and bench it")
    p.add_argument("--board", default="qemu", help="emulated board for --boot (default: %(default)s)")
    p.add_argument("--model", type=Path, default=REPO_ROOT / "models" / "tc-small", help="model bundle folder")
    p.add_argument("-q", "--quality", type=int, default=2)
    p.add_argument("--images", type=Path, default=DEFAULT_DATA / "kodak", help="image folder (default: Kodak)")
    p.add_argument("--tiles", type=int, default=8, help="number of tiles to run (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds")
    p.add_argument(
        "--mode",
        choices=("auto", "codec", "run"),
        default="auto",
        help="codec: ENCODE/DECODE on the device; run: RUN the models, rANS on the host; "
        "auto: codec if the device supports it (default)",
    )
    p.add_argument("--out", type=Path, default=REPO_ROOT / "runs" / "bench", help="folder for results.json")
    p.set_defaults(func=_cmd_bench)


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import run_and_write

    card = args.card
    if card is None and args.data.resolve().name == "kodak":
        card = REPO_ROOT / "models" / "MODEL_CARD.md"
    seed = args.seed_unet if args.seed_unet and args.seed_unet.exists() else None
    r = run_and_write(args.data, args.model, args.json, args.plot, card, args.qualities, args.limit, seed_unet=seed)
    for row in r["matched"]:
        print(f"q{row['quality']}: {row['bpp']:.3f} bpp, {row['psnr']:.2f} dB, SSIM {row['ssim']:.4f}")
    for a, b in r["bd_rate"].items():
        print(f"BD-rate vs {a}: " + ("n/a" if b["percent"] is None else f"{b['percent']:+.1f} %") + f" ({b['note']})")
    print(f"wrote {args.json}, {args.plot}" + (f", {card}" if card else "") + f" in {r['seconds']:.0f} s")
    return 0


def _add_eval(sub) -> None:
    p = sub.add_parser("eval", help="rate-distortion eval vs JPEG/WebP/JPEG 2000: JSON, RD plot, model card")
    p.add_argument("--model", type=Path, default=REPO_ROOT / "models" / "tc-small", help="model bundle folder")
    p.add_argument("--data", type=Path, required=True, help="image folder (checked against SHA256SUMS if present)")
    p.add_argument("--json", type=Path, required=True, help="output JSON report (schema: docs/eval.md)")
    p.add_argument("--plot", type=Path, required=True, help="output RD plot PNG")
    p.add_argument("--card", type=Path, help="write a model card here (default models/MODEL_CARD.md for Kodak)")
    p.add_argument("--limit", type=int, help="only the first N images (quick runs)")
    p.add_argument("--qualities", type=int, nargs="+", help="model qualities to evaluate (default: all shipped)")
    p.add_argument(
        "--seed-unet",
        type=Path,
        default=REPO_ROOT / "models" / "seed-unet",
        help="also evaluate the seed-unet baseline from this folder if it exists (default: %(default)s)",
    )
    p.set_defaults(func=_cmd_eval)


VERBS = [_add_train, _add_export, _add_codec, _add_codegen, _add_bench, _add_eval]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("tinycodec: interrupted", file=sys.stderr)
        return 130
    except UserError as e:
        print(f"tinycodec: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - last line of defence: one line, never a traceback
        from .errors import known_error_message

        msg = known_error_message(e)
        if msg is None:
            raise
        print(f"tinycodec: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
