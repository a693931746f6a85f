"""The `tinycodec` command line: argparse verbs only, the logic lives in the modules."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .config import DEFAULT_DATA, DEFAULT_MODEL, RECIPES, REPO_ROOT


class UserError(Exception):
    """An error the user can fix; printed as one line, exit code 2."""


def _run_dir(args: argparse.Namespace) -> Path:
    return args.run or REPO_ROOT / "checkpoints" / args.preset


def _cmd_train(args: argparse.Namespace) -> int:
    args.run = _run_dir(args)
    d = RECIPES[args.preset]
    batch, crop, lr = args.batch or d.batch, args.crop or d.crop, args.lr or d.lr
    if args.preset == "seed-unet":
        from .seed_unet import train_seed

        print(f"wrote {train_seed(args.data, args.run, steps=args.steps, batch=batch, crop=crop)}")
        return 0
    if args.hours is not None and args.hours <= 0:
        raise UserError(f"--hours must be > 0 (got {args.hours})")
    from .config import PRESETS, TrainConfig

    tcfg = TrainConfig(
        data_dir=args.data,
        run_dir=args.run,
        steps=args.steps,
        batch=batch,
        crop=crop,
        lr=lr,
        lr_decay_at=args.lr_decay_at,
        decoder_input=args.decoder_input,
        val_every=args.val_every,
        ckpt_every=args.val_every,
        seed=args.seed,
        val_tile=d.val_tile,
        hours=args.hours,
        decay_frac=args.decay_frac,
        ema=args.ema,
        threads=args.threads,
        precision=args.precision,
    )
    if args.bench:
        import json

        from .train import bench_train

        res = bench_train(PRESETS[args.preset], tcfg, steps=args.bench)
        text = json.dumps(res, indent=1)
        if args.json:
            from .safeio import atomic_write

            atomic_write(args.json, text + "\n")
        print(text)
        return 0
    from .train import train

    train(
        PRESETS[args.preset],
        tcfg,
        resume=args.resume or args.from_predecay,
        from_predecay=args.from_predecay,
        add_lambdas=tuple(args.add_quality),
    )
    return 0


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train the codec (rate + lambda*distortion) on shared/data/train",
        description="Train the variable-rate codec. Validation and checkpoint selection use "
        "shared/data/val; Kodak is never used. With --hours the run stops cleanly after a wall-clock budget, "
        "the last --decay-frac of it at lr/10 (the state before the decay is kept in ckpt_predecay/ so a later "
        "session can continue the high-lr phase with --from-predecay).",
    )
    p.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="data root with train/ and val/ (default: %(default)s)"
    )
    p.add_argument(
        "--run", type=Path, default=None, help="run folder for checkpoints and log.csv (default: checkpoints/<preset>)"
    )
    p.add_argument(
        "--preset",
        choices=sorted(RECIPES),
        default="tc-small",
        help="tc-small: the v1 codec (64² tiles); tc-v2: transposed-conv decoder, 128² tiles, 6 qualities; "
        "tc-v3: tc-v2's layout with 48 hidden / 120 latent channels; tc-v3-gdn: the same with GDN / inverse GDN "
        "and 44 hidden channels (its square-root inverse GDN does not survive int8); tc-v3-gdn-abs: with the "
        "simplified inverse GDN; tc-v4 (shipped): tc-v3-gdn-abs with the encoder GDN norms on a pinned int8 grid; "
        "seed-unet: the student report's U-Net baseline (MAE, skips)",
    )
    p.add_argument("--hours", type=float, default=None, help="wall-clock budget of this run (stops with a checkpoint)")
    p.add_argument(
        "--precision",
        choices=["float32", "bf16"],
        default="float32",
        help="compute precision of the transforms in training (bf16: Keras mixed_bfloat16, float32 weights; "
        "faster on CPUs with AVX512-BF16; export is float32 -> int8 either way) (default: %(default)s)",
    )
    p.add_argument(
        "--decay-frac", type=float, default=0.15, help="with --hours: last fraction at lr/10 (default: %(default)s)"
    )
    p.add_argument("--steps", type=int, default=150_000, help="total steps without --hours (default: %(default)s)")
    p.add_argument("--batch", type=int, default=None, help="batch size (default: per preset, 16 / 8 for tc-v2)")
    p.add_argument("--crop", type=int, default=None, help="random crop size (default: per preset, 64 / 128 for tc-v2)")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: per preset, 5e-4 / 1e-3)")
    p.add_argument(
        "--lr-decay-at",
        type=float,
        default=0.9,
        help="without --hours: fraction of --steps after which the learning rate drops 10x (default: %(default)s)",
    )
    p.add_argument(
        "--decoder-input",
        choices=["ste", "noise"],
        default="ste",
        help="decoder input in training: rounded latent with straight-through gradient, or the noisy latent "
        "(the rate term always uses noise; default: %(default)s)",
    )
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay of the weights; val/export use it (0: off)")
    p.add_argument("--threads", type=int, default=None, help="TensorFlow threads (default: all cores)")
    p.add_argument("--val-every", type=int, default=2000, help="validate and checkpoint every N steps")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--resume", action="store_true", help="continue from the run folder's latest checkpoint")
    p.add_argument(
        "--from-predecay", action="store_true", help="continue from the state saved before the last lr decay"
    )
    p.add_argument(
        "--add-quality",
        type=float,
        action="append",
        default=[],
        metavar="LAMBDA",
        help="with --resume/--from-predecay: append a quality with this lambda (above the run's highest) to the "
        "run's model; shared weights, optimizer and EMA carry over (repeatable)",
    )
    p.add_argument(
        "--bench", type=int, default=0, metavar="N", help="only time N training steps (px/s, ms/step) and exit"
    )
    p.add_argument("--json", type=Path, default=None, help="with --bench: write the result here")
    p.set_defaults(func=_cmd_train)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinycodec", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"tinycodec {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an unexpected error (accepted anywhere in the line)"
    )
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for add in VERBS:
        add(sub)
    return parser


def _cmd_export(args: argparse.Namespace) -> int:
    args.run = _run_dir(args)
    args.tile = args.tile or RECIPES[args.preset].tile
    args.out = args.out or REPO_ROOT / "models" / args.preset
    if args.preset == "seed-unet":
        from .seed_unet import export_seed

        args.out.mkdir(parents=True, exist_ok=True)
        info = export_seed(args.run / "best.weights.h5", args.out, args.data, tile=args.tile)
        print(f"seed-unet: {info['tflite_bytes']} bytes int8, honest bpp {info['bpp']['all_decoder_inputs']:.1f}")
        return 0
    from .config import ExportConfig
    from .export import export_bundle

    m = export_bundle(
        args.run, args.out, args.data, ExportConfig(tile=args.tile, qat_steps=args.qat_steps), which=args.which
    )
    for e in m["models"]:
        print(f"{e['name']}: {e['size']} bytes, {e['kmac_per_pixel']} kMAC/px, TFLM arena {e['tflm_arena_bytes']} B")
    print(f"wrote {args.out}/manifest.json (model hash {m['model_hash'][:16]})")
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="export full-int8 TFLite encoder/decoder per quality + CDF tables + manifest")
    p.add_argument("--run", type=Path, default=None, help="training run folder (default: checkpoints/<preset>)")
    p.add_argument("--which", choices=["best", "last"], default="best", help="checkpoint: best on val, or last")
    p.add_argument("--out", type=Path, default=None, help="bundle folder (default: models/<preset>)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="data root; calibration uses train/")
    p.add_argument(
        "--tile", type=int, default=None, help="fixed tile size of the exported models (default: per preset, 64 / 128)"
    )
    p.add_argument("--preset", choices=sorted(RECIPES), default="tc-small")
    p.add_argument(
        "--qat-steps",
        type=int,
        default=0,
        help="quantization-aware fine-tuning steps per quality before conversion (0 = PTQ)",
    )
    p.set_defaults(func=_cmd_export)


def _output_dir(path: Path) -> Path:
    from .safeio import FileError, output_dir

    try:
        return output_dir(path)
    except FileError as e:
        raise UserError(str(e)) from None


def _outputs_of(inputs: list[Path], out: Path, suffix: str) -> list[Path]:
    """<out>/<stem><suffix> per input, checked before any work: no name twice (two inputs with the same stem
    would overwrite each other), no directory or special file in the way."""
    from .safeio import FileError, check_outputs

    try:
        dsts = check_outputs((out / f"{p.stem}{suffix}", f"output of {p}") for p in inputs)
    except FileError as e:
        raise UserError(str(e)) from None
    same = {os.path.realpath(p): p for p in inputs}  # realpath: never raises (a symlink loop is the reader's error)
    for d in dsts:
        if os.path.realpath(d) in same:
            raise UserError(f"{d}: the output would replace the input {same[os.path.realpath(d)]}; use another -o")
    return dsts


def _cmd_compress(args: argparse.Namespace) -> int:
    from .api import load
    from .errors import TinycodecError
    from .imageio import ImageError, read_rgb
    from .metrics import bpp
    from .safeio import atomic_write

    out = _output_dir(args.out)
    dsts = _outputs_of(args.images, out, ".tcz")
    codec = load(args.model)  # the Python API (tinycodec.load): the same bytes from the CLI and from a script
    codec.check_quality(args.quality)  # before any work
    for path, dst in _progress(list(zip(args.images, dsts)), "compress"):
        try:
            img, note = read_rgb(path)
        except ImageError:
            raise  # its message names the file
        except TinycodecError as e:  # a .tcz input (decoded by the Pillow plugin, then re-encoded) that fails
            raise UserError(f"{path}: {e}") from None
        if note:
            print(f"note: {note}", file=sys.stderr)
        data = codec.compress(img, args.quality)
        atomic_write(dst, data)  # an interrupted run leaves the old file or the new one, never half of one
        print(f"{dst}: {len(data)} bytes, {bpp(len(data), *img.shape[:2]):.4f} bpp")
    return 0


def _cmd_decompress(args: argparse.Namespace) -> int:
    from . import bitstream
    from .api import load
    from .imageio import write_png
    from .safeio import FileError

    out = _output_dir(args.out)
    dsts = _outputs_of(args.files, out, ".png")
    codec = load(args.model)
    for path, dst in _progress(list(zip(args.files, dsts)), "decompress"):
        try:
            data = bitstream.read(path)  # regular files only, never more than the header's largest valid size
        except FileError as e:
            raise UserError(str(e)) from None
        except bitstream.BitstreamError as e:
            raise UserError(f"{path}: {e}") from None
        try:
            img = codec.decompress(data)
        except Exception as e:
            from .errors import known_error_message

            if known_error_message(e) is None:
                raise
            raise UserError(f"{path}: {e}") from None
        write_png(dst, img)  # atomic
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
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model bundle folder")
    p.set_defaults(func=_cmd_compress)
    p = sub.add_parser("decompress", help="decompress .tcz files to PNG")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("-o", "--out", type=Path, required=True, help="output directory for <stem>.png")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model bundle folder")
    p.set_defaults(func=_cmd_decompress)


def _add_codegen(sub) -> None:
    from .codegen import cli as codegen_cli

    p = sub.add_parser("codegen", help="generate the gen backend's C from a model bundle (no TensorFlow)")
    codegen_cli.add_arguments(p)
    p.set_defaults(func=codegen_cli.run)


def _cmd_bench(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from .bench.records import BenchError
    from .bench.run import Options, main

    try:
        return main(Options(**{f.name: getattr(args, f.name) for f in fields(Options)}))
    except BenchError as e:
        raise UserError(str(e)) from None


def _add_bench(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="run whole images tile by tile on device(s) over serial, compare with the host; report",
        description="Every tile of every image is ENCODEd and DECODEd on the device and compared byte for byte "
        "with the host codec; per image: bpp of the device's .tcz, PSNR/SSIM of the device's reconstruction, device "
        "latency per stage. Writes a resumable session folder (results.json, results.csv, bench.log, report.html; "
        "docs/bench.md). Exit 1 if any output differs, 3 if tiles are left (resume), 2 on a user error.",
    )
    p.add_argument("--port", action="append", metavar="URL", help="pyserial URL of a device (repeat for more boards)")
    p.add_argument("--boot", type=Path, metavar="ELF", help="boot this firmware in QEMU and bench it")
    p.add_argument("--boards", type=int, default=1, help="with --boot: number of QEMU boards (default: 1)")
    p.add_argument("--board", default="qemu", help="emulated board for --boot (default: %(default)s)")
    p.add_argument(
        "--model",
        type=Path,
        help=f"model bundle folder (default: {DEFAULT_MODEL.relative_to(REPO_ROOT)}; with --resume: the session's)",
    )
    p.add_argument("-q", "--quality", type=int, nargs="+", metavar="Q", help="quality level(s) (default: 2)")
    p.add_argument("--images", type=Path, default=DEFAULT_DATA / "kodak", help="image folder (default: Kodak)")
    p.add_argument("--limit", type=int, help="only the first N images")
    p.add_argument(
        "--tiles",
        type=int,
        default=0,
        metavar="N",
        help="a quick sample: only N tiles per image (evenly spaced; per-tile figures, no .tcz): default all",
    )
    p.add_argument("--out", type=Path, help="session folder (default: runs/bench/<timestamp>)")
    p.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the session in DIR (its images/qualities); without --port/--boot: rebuild its report",
    )
    p.add_argument("--warmup", type=int, default=1, help="warm-up requests before the timed runs (default: 1)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs of each timing tile (default: 3; 0: none)")
    p.add_argument("--timing-tiles", type=int, default=2, help="tiles per quality in the timed runs (default: 2)")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds")
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=None,
        metavar="S",
        help="give up on a board that does not answer HELLO within S seconds, saying what to check "
        "(default: 5, 20 with --boot)",
    )
    p.add_argument("--retries", type=int, default=10, help="re-sends per request before a board gives up")
    p.add_argument("--no-baselines", action="store_true", help="skip the JPEG/WebP/JPEG 2000 sweep of the report")
    p.add_argument("--no-report", action="store_true", help="write results.json/.csv only, no report.html")
    p.set_defaults(func=_cmd_bench)


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import run_and_write
    from .safeio import FileError, check_outputs

    card = args.card
    if card is None and args.data.resolve().name == "kodak":
        card = REPO_ROOT / "models" / "MODEL_CARD.md"
    outputs = [(args.json, "JSON report"), (args.plot, "RD plot")] + ([(card, "model card")] if card else [])
    try:
        check_outputs(outputs)  # before the eval (minutes), not after it
    except FileError as e:
        raise UserError(str(e)) from None
    seed = args.seed_unet if args.seed_unet and args.seed_unet.exists() else None
    r = run_and_write(
        args.data,
        args.model,
        args.json,
        args.plot,
        card,
        args.qualities,
        args.limit,
        seed_unet=None if args.no_baselines else seed,
        sweeps={} if args.no_baselines else None,
        workers=args.jobs,
    )
    for row in r["matched"]:
        print(f"q{row['quality']}: {row['bpp']:.3f} bpp, {row['psnr']:.2f} dB, SSIM {row['ssim']:.4f}")
    for a, b in r["bd_rate"].items():
        print(f"BD-rate vs {a}: " + ("n/a" if b["percent"] is None else f"{b['percent']:+.1f} %") + f" ({b['note']})")
    print(f"wrote {args.json}, {args.plot}" + (f", {card}" if card else "") + f" in {r['seconds']:.0f} s")
    return 0


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


def _add_eval(sub) -> None:
    p = sub.add_parser("eval", help="rate-distortion eval vs JPEG/WebP/JPEG 2000: JSON, RD plot, model card")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model bundle folder")
    p.add_argument("--data", type=Path, required=True, help="image folder (checked against SHA256SUMS if present)")
    p.add_argument("--json", type=Path, required=True, help="output JSON report (schema: docs/eval.md)")
    p.add_argument("--plot", type=Path, required=True, help="output RD plot PNG")
    p.add_argument("--card", type=Path, help="write a model card here (default models/MODEL_CARD.md for Kodak)")
    p.add_argument("--limit", type=int, help="only the first N images (quick runs)")
    p.add_argument("--qualities", type=int, nargs="+", help="model qualities to evaluate (default: all shipped)")
    p.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        help="images in parallel processes (same results; the host-speed times then include contention; "
        "default: %(default)s)",
    )
    p.add_argument(
        "--no-baselines",
        action="store_true",
        help="tinycodec only (no JPEG/WebP/JPEG 2000 sweep, no seed-unet): quick model comparisons on val",
    )
    p.add_argument(
        "--seed-unet",
        type=Path,
        default=REPO_ROOT / "models" / "seed-unet",
        help="also evaluate the seed-unet baseline from this folder if it exists (default: %(default)s)",
    )
    p.set_defaults(func=_cmd_eval)


VERBS = [_add_train, _add_export, _add_codec, _add_codegen, _add_bench, _add_eval]


EXIT_INTERNAL = 70  # an unexpected error (a bug): sysexits' EX_SOFTWARE
_CLEANUP_SIGNALS = ("SIGTERM", "SIGHUP")


def _interrupt_on_signals(verb: str, got: list[str]) -> dict:
    """SIGTERM and SIGHUP raise KeyboardInterrupt in the main thread, so they clean up like Ctrl-C: temporary
    output files are removed, QEMU children terminated, the journal closed. The signal's name is appended to
    `got`. Returns the previous handlers (for _restore_signals)."""
    import signal
    import threading

    if verb in ("train", "export") or threading.current_thread() is not threading.main_thread():
        return {}  # training and export manage their own stopping

    def handler(signum, frame):
        got.append(signal.Signals(signum).name)
        raise KeyboardInterrupt

    return {
        getattr(signal, n): signal.signal(getattr(signal, n), handler) for n in _CLEANUP_SIGNALS if hasattr(signal, n)
    }


def _restore_signals(old: dict) -> None:
    import signal

    for sig, h in old.items():
        signal.signal(sig, h)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    end = argv.index("--") if "--" in argv else len(argv)
    debug = "--debug" in argv[:end]
    argv = [a for i, a in enumerate(argv) if i >= end or a != "--debug"]
    parser = build_parser()
    args = parser.parse_args(argv)
    got: list[str] = []
    old_handlers = _interrupt_on_signals(args.verb, got)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        import signal

        print("tinycodec: " + (f"stopped by {got[0]}" if got else "interrupted"), file=sys.stderr)
        return 128 + int(getattr(signal, got[0])) if got else 130
    except UserError as e:
        print(f"tinycodec: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - last line of defence: one line, never a traceback (unless --debug)
        from .errors import internal_error_message, known_error_message

        if debug:
            raise
        msg = known_error_message(e)
        if msg is None:
            print(f"tinycodec: error: {internal_error_message(e)}", file=sys.stderr)
            return EXIT_INTERNAL
        print(f"tinycodec: error: {msg}", file=sys.stderr)
        return 2
    finally:
        _restore_signals(old_handlers)


if __name__ == "__main__":
    sys.exit(main())
