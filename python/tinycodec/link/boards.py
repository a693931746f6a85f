"""The board table (boards.txt next to this file): make BOARD -> PlatformIO env -> QEMU machine -> INFO board ->
tick source. The one place these names live: the Makefile reads the file (BOARD -> env), the QEMU launcher asks
`machine_for`, the bench asks `tick_note`, and `python -m tinycodec.link.boards` prints the table (docs).

Standard library only (the Makefile's shell and PlatformIO's SCons may run it without the venv's packages)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

TABLE = Path(__file__).with_name("boards.txt")


@dataclass(frozen=True)
class Board:
    name: str  # `make ... BOARD=<name>`
    env: str  # PlatformIO env (platformio.ini)
    machine: str | None  # QEMU machine; None for a real board
    info_board: str  # the board name the firmware reports in INFO (tc_port_board_name)
    tick_source: str  # what the port reports in INFO (tc_port_tick_source)
    tick_meaning: str | None  # what one tick is, if known

    @property
    def emulated(self) -> bool:
        return self.machine is not None


def _load(path: Path = TABLE) -> tuple[Board, ...]:
    out = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = [c.strip() for c in line.split("|")]
        if len(cols) != 6:
            raise ValueError(f"{path}: a line needs 6 columns separated by '|': {line!r}")
        name, env, machine, info_board, source, meaning = cols
        out.append(Board(name, env, None if machine == "-" else machine, info_board, source,
                         None if meaning == "-" else meaning))  # fmt: skip
    return tuple(out)


BOARDS: tuple[Board, ...] = _load()


def find(name: str) -> Board | None:
    """The board for a make BOARD name, a PlatformIO env (a `_selftest` / `_kerneltest` variant too), a QEMU
    machine or an INFO board name; None if unknown. The first line wins (qemu before qemu-m55...)."""
    for suffix in ("_selftest", "_kerneltest"):
        name = name.removesuffix(suffix)
    for key in ("name", "env", "machine", "info_board"):
        for b in BOARDS:
            if getattr(b, key) == name:
                return b
    return None


def names() -> list[str]:
    """Every name `find` accepts for an emulated board (for messages)."""
    out: list[str] = []
    for b in BOARDS:
        if b.emulated:
            for n in (b.name, b.env, b.machine):
                if n not in out:
                    out.append(n)  # type: ignore[arg-type]
    return out


def tick_note(info_board: str, tick_source: str = "") -> str:
    """What the ticks of a device are: the tick source it reports in INFO (firmware without it: the table's, by
    its INFO board name), and what one tick is when the table knows it."""
    source = tick_source
    if not source:
        b = find(info_board)
        source = b.tick_source if b else ""
    if not source:
        return "device timer"
    meaning = next((b.tick_meaning for b in BOARDS if b.tick_source == source and b.tick_meaning), None)
    return f"{source}: {meaning}" if meaning else source


def main(argv: list[str] | None = None) -> int:
    """`python -m tinycodec.link.boards`: the table as markdown; `env NAME` / `machine NAME`: one field."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] in ("env", "machine"):
        b = find(args[1])
        value = getattr(b, args[0]) if b else None
        if value is None:
            print(f"unknown board {args[1]!r}: one of {', '.join(b.name for b in BOARDS)}", file=sys.stderr)
            return 2
        print(value)
        return 0
    if args:
        print("usage: python -m tinycodec.link.boards [env NAME | machine NAME]", file=sys.stderr)
        return 2
    print("| make BOARD | PlatformIO env | QEMU machine | INFO board | tick source | one tick |")
    print("|---|---|---|---|---|---|")
    for b in BOARDS:
        cells = (b.name, b.env, b.machine or "(real board)", b.info_board, b.tick_source, b.tick_meaning or "")
        print("| " + " | ".join(f"`{c}`" if i < 4 and c != "(real board)" else c for i, c in enumerate(cells)) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
