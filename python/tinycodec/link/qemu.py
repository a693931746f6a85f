"""Boot firmware on an emulated board (QEMU) with its UART0 on a local TCP port.

    with QemuBoard("build/firmware.elf", board="qemu") as q:
        dev = Device(q.url)            # socket://127.0.0.1:PORT

`python -m tinycodec.link.qemu --elf X.elf [--board qemu]` boots and keeps running until Ctrl-C.
Timing: -icount shift=0 makes virtual time advance 1 ns per guest instruction, so device ticks are
deterministic instruction counts (not cycles).

QEMU never outlives its owner: `close()` (the context manager, Ctrl-C, SIGTERM/SIGHUP mapped to KeyboardInterrupt
by the CLI) terminates it, and on Linux it is started with PR_SET_PDEATHSIG = SIGKILL, so it is killed by the kernel
when the thread that started it dies, even by SIGKILL. The ELF is checked (check_elf) before QEMU starts.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..config import REPO_ROOT
from ..errors import TinycodecError
from . import boards

__all__ = [
    "QemuError",
    "check_elf",
    "QemuBoard",
    "qemu_command",
    "free_port",
    "build_firmware",
    "machine_for",
]

QEMU_BIN = "qemu-system-arm"


def machine_for(board: str) -> str:
    """QEMU machine for a board name (`make BOARD=`), PlatformIO env (qemu_m4_selftest...) or machine name
    (mps3-an547...): the board table, link/boards.txt."""
    b = boards.find(board)
    if b is None or b.machine is None:
        what = "not an emulated board" if b else "unknown board"
        raise QemuError(f"{what} {board!r}: one of {', '.join(boards.names())}")
    return b.machine


class QemuError(TinycodecError, RuntimeError):
    """QEMU is missing, failed to start, or died."""


EM_ARM = 40
_MACHINES = {3: "x86", 8: "MIPS", 20: "PowerPC", 40: "ARM", 62: "x86-64", 94: "Xtensa", 183: "AArch64", 243: "RISC-V"}
_ELF_HINT = "give the firmware ELF that PlatformIO builds (e.g. .pio/build/qemu_m4/firmware.elf, make flash)"


def check_elf(path: str | os.PathLike[str]) -> None:
    """Refuse, before QEMU starts, a file that cannot be Cortex-M firmware: QEMU loads anything given to -kernel
    (a non-ELF as a raw image) and then spins silently. Checks: ELF magic, 32-bit little-endian, an executable
    for ARM, a loadable segment, the entry point inside one. Raises QemuError (one line naming the file)."""
    from ..safeio import FileError, open_input

    p = Path(path)
    try:
        with open_input(p, "a firmware ELF", 256 << 20) as f:
            data = f.read()
    except FileError as e:
        raise QemuError(str(e)) from None

    def bad(why: str) -> QemuError:
        return QemuError(f"{p}: {why}, not Cortex-M firmware: {_ELF_HINT}")

    if data[:4] != b"\x7fELF":
        raise bad("empty" if not data else f"not an ELF file (starts with {data[:4]!r})")
    if len(data) < 52 or data[4] != 1:
        raise bad("a 64-bit ELF" if len(data) > 4 and data[4] == 2 else "a truncated ELF header")
    if data[5] != 1:
        raise bad("a big-endian ELF")
    e_type, e_machine, _ver, entry, phoff = struct.unpack_from("<HHIII", data, 16)
    phentsize, phnum = struct.unpack_from("<HH", data, 42)
    if e_machine != EM_ARM:
        raise bad(f"an ELF for {_MACHINES.get(e_machine, f'machine {e_machine}')}")
    if e_type != 2:
        raise bad({1: "an object file (.o)", 3: "a shared object", 4: "a core dump"}.get(e_type, f"ELF type {e_type}"))
    if phentsize < 32 or phoff + phnum * phentsize > len(data):
        raise bad("an ELF with a truncated program header table")
    loads = []
    for i in range(phnum):
        p_type, _off, vaddr, paddr, filesz, memsz = struct.unpack_from("<IIIIII", data, phoff + i * phentsize)
        if p_type == 1 and filesz > 0:  # PT_LOAD
            loads.append((vaddr, paddr, memsz))
    if not loads:
        raise bad("an ELF without loadable segments")
    pc = entry & ~1  # Thumb bit
    if not any(v <= pc < v + m or pa <= pc < pa + m for v, pa, m in loads):
        raise bad(f"an ELF whose entry point 0x{entry:08x} is outside its loaded segments")


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn for Popen: the child gets SIGKILL when the thread that started it dies (Linux
    PR_SET_PDEATHSIG), so even a SIGKILLed bench leaves no QEMU behind. None where prctl is unavailable, and
    None off the main thread: the signal follows the *thread*, so a board started by a short-lived thread
    would be killed when that thread ends (such boards rely on close() / the CLI's signal handlers)."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:  # runs in the child between fork and exec: no allocation-heavy work here
        prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def qemu_command(elf: str | os.PathLike[str], machine: str, port: int, semihosting: bool = False) -> list[str]:
    cmd = [
        QEMU_BIN,
        "-M",
        machine,
        "-icount",
        "shift=0",
        "-nographic",
        "-monitor",
        "none",
        "-serial",
        f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on",
        "-kernel",
        str(elf),
    ]
    if semihosting:
        cmd += ["-semihosting-config", "enable=on,target=native"]
    return cmd


class QemuBoard:
    """A running QEMU with the firmware; `.url` is the pyserial URL of the device UART."""

    def __init__(
        self,
        elf: str | os.PathLike[str],
        board: str = "qemu",
        machine: str | None = None,
        start_timeout: float = 10.0,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.elf = Path(elf)
        self.machine = machine or machine_for(board)
        self.start_timeout = start_timeout
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_path = Path(log_path) if log_path else None
        self._log = None

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def start(self) -> QemuBoard:
        exe = shutil.which(QEMU_BIN)
        if exe is None:
            raise QemuError(f"{QEMU_BIN} not found: apt-get install qemu-system-arm")
        check_elf(self.elf)
        for _attempt in range(3):  # the free port can be taken between probe and bind: retry
            self.port = free_port()
            if self._log_path:
                self._log = open(self._log_path, "wb")
            else:
                self._log = tempfile.TemporaryFile()
            self.proc = subprocess.Popen(
                qemu_command(self.elf, self.machine, self.port),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent(),  # only prctl between fork and exec
            )
            if self._wait_listening():
                return self
            self._kill()
        raise QemuError(f"QEMU did not open the serial port: {self.output()[-2000:]}")

    def _wait_listening(self) -> bool:
        """QEMU (wait=on) does not run the guest before a client connects, so probing the port would
        consume the connection. Watch for the listening socket instead (via /proc or by polling)."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            if _is_listening(self.port):
                return True
            time.sleep(0.02)
        return False

    def output(self) -> str:
        """What QEMU printed on stdout/stderr so far (errors, guest faults)."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        data = self._log.read()
        self._log.seek(0, os.SEEK_END)
        return data.decode(errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_note(self, wait: float = 0.0) -> str | None:
        """None while QEMU runs (after waiting up to `wait` s for it to end: its socket closes a moment before the
        process is gone); else one line: how it ended and the last line it printed."""
        if self.proc is None:
            return None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=wait)
        if self.proc.poll() is None:
            return None
        rc = self.proc.returncode
        how = f"was killed by {signal.Signals(-rc).name}" if rc < 0 else f"exited with code {rc}"
        last = [line.strip() for line in self.output().splitlines() if line.strip()][-1:]
        return f"QEMU ({self.elf.name} on {self.machine}) {how}" + (f": {last[0][:200]}" if last else "")

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def close(self) -> None:
        self._kill()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> QemuBoard:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_listening(port: int) -> bool:
    want = f"0100007F:{port:04X}"
    try:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if parts[1] == want and parts[3] == "0A":  # 0A = LISTEN
                    return True
        return False
    except OSError:  # no /proc: give QEMU a moment instead
        time.sleep(0.3)
        return True


def build_firmware(
    env: str = "qemu_m4_selftest", project_dir: str | os.PathLike[str] | None = None, timeout: float = 600.0
) -> Path:
    """Build a PlatformIO env offline and return the ELF path (.pio/build/<env>/firmware.elf, or under
    $PLATFORMIO_BUILD_DIR when set, as PlatformIO itself does)."""
    root = Path(project_dir) if project_dir else REPO_ROOT
    try:  # the PlatformIO installed next to this Python (the venv's), whatever else is on PATH
        import platformio  # noqa: F401
    except ImportError as e:
        raise QemuError("PlatformIO not installed: pip install platformio==6.2.0 scons==4.11.1") from e
    res = subprocess.run(
        [sys.executable, "-m", "platformio", "run", "-e", env, "-d", str(root)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if res.returncode != 0:
        raise QemuError(f"pio run -e {env} failed:\n{res.stdout[-3000:]}\n{res.stderr[-2000:]}")
    build_dir = os.environ.get("PLATFORMIO_BUILD_DIR")  # a private build dir (parallel builds) if set
    return (root / build_dir if build_dir else root / ".pio" / "build") / env / "firmware.elf"


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tinycodec.link.qemu", description=__doc__.splitlines()[0])
    ap.add_argument("--elf", required=True, help="firmware ELF to boot")
    ap.add_argument("--board", default="qemu", help=f"board name ({', '.join(boards.names())})")
    ap.add_argument("--machine", default=None, help="QEMU machine (overrides --board)")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)  # `kill` cleans up QEMU like Ctrl-C
    try:
        with QemuBoard(args.elf, board=args.board, machine=args.machine) as q:
            sys.stdout.write(
                f"{q.machine}: serial on {q.url}  (QEMU pid {q.proc.pid if q.proc else '?'}; Ctrl-C to stop)\n"
            )
            sys.stdout.flush()
            with contextlib.suppress(KeyboardInterrupt):
                while q.alive():
                    time.sleep(0.5)
            if not q.alive():
                sys.stderr.write(q.output())
    except QemuError as e:
        sys.stderr.write(f"error: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
