"""Rung b (session 7): A/B of two training logs' val rows (density bits, 32 val photos as 128² tiles).

  PYTHONPATH=python python models/tc-v2/ladder/rung_b_ab.py checkpoints/tc-v3/log.csv checkpoints/tc-v3-gdn/log.csv

Prints (1) the test run's evaluations against the anchor's latest one at equal wall time (the anchor, tc-v3, has
two segments: segment 2 resumed from its pre-decay state at step 26,113, reached after 1,530 s), (2) both runs'
final evaluations: PSNR at equal rate and BD-rate.
"""

import csv
import sys

from tinycodec.rd import bd_rate, psnr_at

ANCHOR_SEGMENTS = [(26113, 1530.0)]  # (first step of a resumed segment, wall seconds before it)


def val_rows(path: str, segments: list[tuple[int, float]]) -> dict[int, tuple[float, dict]]:
    """{step: (cumulative wall seconds, {level: (bpp, psnr)})}"""
    out: dict[int, tuple[float, dict]] = {}
    for r in csv.DictReader(open(path)):
        if r["kind"] != "val":
            continue
        step = int(r["step"])
        off = max((o for s0, o in segments if step > s0), default=0.0)
        out.setdefault(step, (off + float(r["wall_s"]), {}))[1][int(r["level"])] = (float(r["bpp"]), float(r["psnr"]))
    return out


def curve(levels: dict) -> tuple[list[float], list[float]]:
    return [levels[q][0] for q in sorted(levels)], [levels[q][1] for q in sorted(levels)]


def main() -> None:
    a, b = val_rows(sys.argv[1], ANCHOR_SEGMENTS), val_rows(sys.argv[2], [])
    for step, (wall, levels) in sorted(b.items()):
        ref = [(s, w, lv) for s, (w, lv) in sorted(a.items()) if w <= wall + 60 and len(lv) == len(levels)]
        if step % 2000 or not ref or psnr_at(*curve(levels), 0.5) is None:
            continue
        s, w, lv = ref[-1]
        (ra, da), (rb, db) = curve(lv), curve(levels)
        d5 = psnr_at(rb, db, 0.5) - psnr_at(ra, da, 0.5)
        bd = bd_rate("anchor", ra, da, "test", rb, db)
        at = f"anchor step {s} ({w / 3600:.2f} h)"
        print(f"wall {wall / 3600:.2f} h: test step {step} vs {at}: {d5:+.2f} dB @0.5 bpp, BD-rate {bd.percent:+.1f} %")
    sa, sb = max(a), max(b)
    (ra, da), (rb, db) = curve(a[sa][1]), curve(b[sb][1])
    print(f"final: anchor step {sa} vs test step {sb}")
    for t in (0.15, 0.25, 0.35, 0.5, 0.6, 0.75, 0.9):
        pa, pb = psnr_at(ra, da, t), psnr_at(rb, db, t)
        if pa is not None and pb is not None:
            print(f"  at {t} bpp: {pa:.2f} vs {pb:.2f} dB ({pb - pa:+.2f})")
    print(" ", bd_rate("anchor", ra, da, "test", rb, db))


if __name__ == "__main__":
    main()
