"""generate(): model bundle (manifest.json) or .tflite files -> C sources for the `gen` backend."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..manifest import Manifest, ManifestError
from ..safeio import atomic_write
from .emit import (
    ModelUnit,
    c_ident,
    dedupe_arrays,
    emit_data_c,
    emit_data_h,
    emit_internal_h,
    emit_model_c,
    scratch_bytes,
)
from .errors import CodegenError
from .ops import fuse_gdn, fuse_resize_conv, leaf_steps, lower_graph
from .planner import band_steps, plan_memory
from .reader import read_tflite


@dataclass(frozen=True)
class ModelSource:
    name: str
    file: str
    data: bytes
    role: str = ""  # "encoder" / "decoder" from the manifest; "" for a bare .tflite
    quality: int = 0  # 1..255 from the manifest; 0 for a bare .tflite


@dataclass(frozen=True)
class ModelReport:
    name: str
    arena_bytes: int
    weight_bytes: int  # all constant data emitted for this model (weights, biases, multipliers, tables)
    macs: int
    ops: tuple[str, ...]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    unbanded_arena_bytes: int = 0  # the plan's peak without patch-wise (row-banded) execution
    bands: tuple[str, ...] = ()  # banded chains, e.g. "ops #0,#1 (ring t9 3x1536 B)"


@dataclass(frozen=True)
class GenReport:
    out_dir: str
    files: tuple[str, ...]
    model_hash: str
    arena_bytes: int  # shared arena = max over models
    weight_bytes: int  # constant bytes actually emitted (identical arrays across models stored once)
    models: tuple[ModelReport, ...]
    scratch_bytes: int = 0  # kernel scratch (conv im2col of the ARM fast paths), shared by all models

    @property
    def ram_bytes(self) -> int:
        return self.arena_bytes + self.scratch_bytes

    def summary(self) -> str:
        lines = [
            f"codegen -> {self.out_dir}: {len(self.models)} model(s), arena {self.arena_bytes} B "
            f"+ scratch {self.scratch_bytes} B, "
            f"constants {self.weight_bytes} B, hash {self.model_hash[:16]}..."
        ]
        for m in self.models:
            banded = f" (unbanded {m.unbanded_arena_bytes} B; banded {'; '.join(m.bands)})" if m.bands else ""
            lines.append(
                f"  {m.name}: {len(m.ops)} ops, {m.macs} MACs, arena {m.arena_bytes} B{banded}, "
                f"constants {m.weight_bytes} B, {list(m.input_shape)} -> {list(m.output_shape)}"
            )
        return "\n".join(lines)


def load_sources(src: str | Path | Sequence[str | Path]) -> tuple[ModelSource, ...]:
    """A manifest.json path (or bundle folder), or a list of .tflite paths."""
    if isinstance(src, (str, Path)):
        p = Path(src)
        if p.is_dir():
            p = p / "manifest.json"
        if p.suffix == ".tflite":
            return load_sources([p])
        return _load_manifest(p)
    out = []
    for f in src:
        fp = Path(f)
        out.append(ModelSource(fp.stem, fp.name, fp.read_bytes()))
    if not out:
        raise CodegenError("no models given")
    return tuple(out)


def _load_manifest(path: Path) -> tuple[ModelSource, ...]:
    try:
        man = Manifest.load(path)
        datas = man.read_models(path.parent)
    except ManifestError as e:
        raise CodegenError(str(e)) from None
    except OSError as e:
        raise CodegenError(f"cannot read manifest {path}: {e}") from e
    return tuple(ModelSource(m.name, m.file, d, m.role, m.quality) for m, d in zip(man.models, datas))


def model_hash(sources: Sequence[ModelSource]) -> bytes:
    h = hashlib.sha256()
    for s in sources:
        h.update(s.data)
    return h.digest()


def build_units(sources: Sequence[ModelSource], fuse: bool = True, band: bool = True) -> tuple[ModelUnit, ...]:
    units = []
    taken: set[str] = set()
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise CodegenError(f"duplicate model names: {names}")
    for i, s in enumerate(sources):
        g = read_tflite(s.data, s.name)
        steps = lower_graph(g)
        if fuse:
            steps = fuse_gdn(g, fuse_resize_conv(g, steps))
        if band:
            steps = band_steps(g, steps)
        plan = plan_memory(g, steps)
        units.append(
            ModelUnit(
                i,
                s.name,
                c_ident(s.name, taken),
                s.file,
                hashlib.sha256(s.data).hexdigest(),
                g,
                steps,
                plan,
                s.role,
                s.quality,
            )
        )
    return tuple(units)


def render(
    sources: Sequence[ModelSource], fuse: bool = True, band: bool = True, profile: bool = False
) -> tuple[dict[str, str], tuple[ModelUnit, ...]]:
    """File name -> text for all generated files (`profile`: per-op tick hooks, emit_model_c)."""
    units = build_units(sources, fuse, band)
    table = dedupe_arrays(units)
    arena = max(u.plan.arena_bytes for u in units)
    files = {
        "tc_model_data.h": emit_data_h(units, arena),
        "tc_model_data.c": emit_data_c(units, model_hash(sources), arena),
        "tc_model_internal.h": emit_internal_h(units, table),
    }
    for u in units:
        files[f"tc_model_{u.ident}.c"] = emit_model_c(u, table, profile)
    return files, units


def generate(
    src: str | Path | Sequence[str | Path],
    out_dir: str | Path = "firmware/generated",
    fuse: bool = True,
    band: bool = True,
) -> GenReport:
    """Generate C for the models; `fuse` folds RESIZE_NEAREST_NEIGHBOR into the CONV_2D that reads it,
    `band` runs conv chains row by row through ring buffers where that lowers the memory peak."""
    sources = load_sources(src)
    files, units = render(sources, fuse, band)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("tc_model_*"):
        if stale.name not in files:
            stale.unlink()
    for name, text in sorted(files.items()):
        p = out / name
        if not p.exists() or p.read_text() != text:  # keep mtimes stable for incremental builds
            atomic_write(p, text)  # a killed codegen never leaves half a C file
    reports = []
    for u in units:
        ti, to = u.graph.tensors[u.graph.inputs[0]], u.graph.tensors[u.graph.outputs[0]]
        const_inputs = {t for s in u.steps for t in s.inputs if u.graph.tensors[t].is_const}
        wbytes = sum(a.nbytes for s in leaf_steps(u.steps) for a in s.arrays)
        wbytes += sum(u.graph.tensors[t].numel for t in const_inputs)
        reports.append(
            ModelReport(
                u.name,
                u.plan.arena_bytes,
                wbytes,
                sum(s.macs for s in u.steps),
                tuple(s.op for s in leaf_steps(u.steps)),
                ti.shape,
                to.shape,
                plan_memory(u.graph, leaf_steps(u.steps)).arena_bytes,
                tuple(
                    f"ops {','.join('#' + str(m.op_index) for m in s.band)} "
                    f"(rings {', '.join(f't{t} {r}x{rb} B' for t, r, rb in s.rings)})"
                    for s in u.steps
                    if s.band
                ),
            )
        )
    return GenReport(
        str(out),
        tuple(sorted(files)),
        model_hash(sources).hex(),
        max(r.arena_bytes for r in reports),
        dedupe_arrays(units).unique_bytes
        + sum(
            u.graph.tensors[t].numel
            for u in units
            for t in {t for s in u.steps for t in s.inputs if u.graph.tensors[t].is_const}
        ),
        tuple(reports),
        scratch_bytes(units),
    )
