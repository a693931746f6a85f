"""Static memory plan: tensor lifetimes from the schedule, greedy-by-size placement in one arena.

The graph input is read straight from the caller's `in` buffer and the graph output is written straight
to `out`, so neither takes arena space. Every other activation gets an aligned offset; tensors whose
lifetimes (first write .. last read, inclusive, in schedule steps) overlap never share bytes, except that
an elementwise op (ADD, LEAKY_RELU) may write its output over an input that dies at that step.

Patch-wise (row-banded) execution, `band_steps`: a chain of CONV_2Ds where each conv is the only reader
of the previous one's output runs as one step that produces the intermediate tensors a few rows at a time
into ring buffers just tall enough for the next conv's receptive field (MCUNetV2-style, without
recomputation: every output row is computed exactly once, only the order changes). The intermediate
tensors then take `ring rows x row bytes` of arena for the duration of that step. Applied when it lowers
the model's peak. A fused GDN / inverse GDN (ops.fuse_gdn, call "gdn": row r of its output reads row r of
its input only) can be a member too, so a GDN encoder's conv -> GDN -> conv ... chain bands as a whole; its
two row buffers are then rings of the band step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .ops import Step
from .reader import Graph

CONV_KERNEL = "tc_conv2d_s8"
GDN_CALL = "gdn"  # a fused GDN step (ops.fuse_gdn)

ALIGN = 16


@dataclass(frozen=True)
class Placement:
    tensor: int
    size: int
    first: int  # step that writes it
    last: int  # last step that reads it
    offset: int
    alias_of: int | None = None  # tensor whose memory it reuses in place


@dataclass(frozen=True)
class MemoryPlan:
    placements: tuple[Placement, ...]
    arena_bytes: int

    def offset(self, tensor: int) -> int | None:
        for p in self.placements:
            if p.tensor == tensor:
                return p.offset
        return None


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def lifetimes(graph: Graph, steps: tuple[Step, ...]) -> dict[int, tuple[int, int]]:
    """[first, last] step of every arena tensor (activations other than graph input/output).

    The ring buffers of a banded step live during that step only."""
    io = {graph.inputs[0], graph.outputs[0]}
    life: dict[int, tuple[int, int]] = {}
    for i, s in enumerate(steps):
        if s.output not in io:
            life[s.output] = (i, i)
        for t, _, _ in s.rings:
            life[t] = (i, i)
    for i, s in enumerate(steps):
        for t in s.inputs:
            if t in life:
                life[t] = (life[t][0], max(life[t][1], i))
    return life


def plan_memory(graph: Graph, steps: tuple[Step, ...], in_place: bool = True) -> MemoryPlan:
    life = lifetimes(graph, steps)
    sizes = {t: graph.tensors[t].numel for t in life}
    for s in steps:
        for t, rows, row_bytes in s.rings:
            sizes[t] = rows * row_bytes
    # In-place: an elementwise op's output takes over an arena input that dies at that step.
    alias: dict[int, int] = {}  # output -> root tensor
    root_life = dict(life)
    if in_place:
        for i, s in enumerate(steps):
            if not s.elementwise or s.output not in life:
                continue
            for t in s.inputs:
                r = alias.get(t, t)
                if t in life and life[t][1] == i and sizes[t] == sizes[s.output] and r in root_life:
                    if root_life[r][1] == i:
                        alias[s.output] = r
                        root_life[r] = (root_life[r][0], max(root_life[r][1], life[s.output][1]))
                        del root_life[s.output]
                        break
    roots = sorted(root_life, key=lambda t: (-sizes[t], root_life[t][0], t))
    placed: list[tuple[int, int, int, int]] = []  # offset, size, first, last
    offsets: dict[int, int] = {}
    for t in roots:
        first, last = root_life[t]
        busy = sorted((o, sz) for o, sz, f, la in placed if not (la < first or f > last))
        off = 0
        for o, sz in busy:
            if off + sizes[t] <= o:
                break
            off = max(off, _align(o + sz))
        offsets[t] = off
        placed.append((off, sizes[t], first, last))
    placements = []
    for t in sorted(life):
        r = alias.get(t)
        placements.append(Placement(t, sizes[t], life[t][0], life[t][1], offsets[r if r is not None else t], r))
    arena = max((p.offset + p.size for p in placements), default=0)
    return MemoryPlan(tuple(placements), _align(arena))


def check_plan(plan: MemoryPlan, steps: tuple[Step, ...]) -> None:
    """Simulate the schedule; raise AssertionError if two live tensors share bytes (legal in-place aside).
    Ring buffers of banded steps are live tensors of their step; their schedules are simulated too."""
    for s in steps:
        check_band(s, plan)
    for i, s in enumerate(steps):
        live = [p for p in plan.placements if p.first <= i <= p.last]
        for a_i, a in enumerate(live):
            for b in live[a_i + 1 :]:
                if a.offset < b.offset + b.size and b.offset < a.offset + a.size:
                    legal = (
                        (a.alias_of is not None or b.alias_of is not None)
                        and s.elementwise
                        and {a.tensor, b.tensor} <= set(s.inputs) | {s.output}
                    )
                    legal = legal and (a.last == i or b.last == i) and (a.first == i or b.first == i)
                    if not legal:
                        raise AssertionError(f"step {i}: tensors {a.tensor} and {b.tensor} overlap in the arena")
        for p in plan.placements:
            if p.offset % ALIGN or p.offset + p.size > plan.arena_bytes:
                raise AssertionError(f"tensor {p.tensor} misplaced")


def check_band(step: Step, plan: MemoryPlan | None = None) -> None:
    """Simulate a banded step's call schedule row by row: every source row a call reads from a ring must
    be resident (not yet overwritten by a later row in the same slot), every row of the chain's output is
    written exactly once, and each ring's arena placement holds ring rows x row bytes."""
    if not step.band or step.call != "band":  # a fused GDN (call "gdn") alone has members but no ring schedule
        return
    k_n = len(step.band)
    rows_of = [dict(m.params) for m in step.band]
    slot: list[dict[int, int]] = [{} for _ in range(k_n - 1)]  # ring k: slot -> source row held
    written: list[set[int]] = [set() for _ in range(k_n)]
    for k, a, b in step.schedule:
        assert 0 <= a < b <= int(rows_of[k]["out_h"]), f"band call {k} [{a},{b}) out of range"
        if k > 0:
            ring = int(rows_of[k]["in_ring_h"])
            assert ring == step.rings[k - 1][1], "ring height mismatch between producer and consumer"
            need = source_rows(step.band[k], a, b)
            if need is not None:
                for r in range(need[0], need[1] + 1):
                    if slot[k - 1].get(r % ring) != r:
                        raise AssertionError(f"band step {step.op_index}: member {k} reads row {r} not resident")
        if k < k_n - 1:
            ring = int(rows_of[k]["out_ring_h"])
            for r in range(a, b):
                slot[k][r % ring] = r
        dup = written[k] & set(range(a, b))
        assert not dup, f"band step {step.op_index}: member {k} rows {sorted(dup)} computed twice"
        written[k] |= set(range(a, b))
    h = int(rows_of[-1]["out_h"])
    assert written[-1] == set(range(h)), f"band step {step.op_index}: output rows missing"
    if plan is not None:
        for t, rows, row_bytes in step.rings:
            sizes = [p.size for p in plan.placements if p.tensor == t]
            assert sizes and sizes[0] >= rows * row_bytes, f"ring of tensor {t} too small"


def source_rows(step: Step, a: int, b: int) -> tuple[int, int] | None:
    """Inclusive range of source rows of `step`'s input that output rows [a, b) read (None: all padding)."""
    if step.call == GDN_CALL:  # per pixel over channels: row r reads row r
        return a, b - 1
    p = dict(step.params)
    s, pad, k, d, ih = (int(p[f]) for f in ("stride_h", "pad_h", "k_h", "dil_h", "in_h"))
    lo = max(a * s - pad, 0)
    hi = min((b - 1) * s - pad + (k - 1) * d, ih - 1)
    if lo > hi:
        return None
    if p["y_map"] != "0":
        ymap = next(x.values for x in step.arrays if x.name == p["y_map"][1:])
        sel = [int(v) for v in ymap[lo : hi + 1]]
        return min(sel), max(sel)
    return lo, hi


def _with(step: Step, **fields: str) -> Step:
    params = tuple((f, fields.pop(f, v)) for f, v in step.params) + tuple(fields.items())
    return replace(step, params=params)


def make_band(graph: Graph, chain: tuple[Step, ...]) -> Step:
    """One step running `chain` (convs, each reading the previous one's output) row by row: for each
    output row of the last conv, each earlier conv first produces just the rows still missing."""
    n = len(chain)
    heights = [int(graph.tensors[c.output].shape[1]) for c in chain]
    done = [0] * n
    ring = [1] * (n - 1)
    calls: list[tuple[int, int, int]] = []
    for oy in range(heights[-1]):
        end = list(done)
        end[-1] = oy + 1
        for k in range(n - 1, 0, -1):
            need = source_rows(chain[k], done[k], end[k]) if end[k] > done[k] else None
            end[k - 1] = max(done[k - 1], need[1] + 1) if need is not None else done[k - 1]
        for k in range(n):
            if end[k] <= done[k]:
                continue
            if k > 0:
                need = source_rows(chain[k], done[k], end[k])
                if need is not None:  # rows [need lo, newest produced] must all be resident
                    ring[k - 1] = max(ring[k - 1], done[k - 1] - need[0])
            calls.append((k, done[k], end[k]))
            done[k] = end[k]
    members = []
    for k, c in enumerate(chain):
        f: dict[str, str] = {"out_h": str(heights[k])} if c.call == GDN_CALL else {}
        if k > 0:
            f["in_ring_h"] = str(ring[k - 1])
        if k < n - 1:
            f["out_ring_h"] = str(ring[k])
        members.append(_with(c, **f))
    rings = []
    for k in range(n - 1):
        t = graph.tensors[chain[k].output]
        rings.append((chain[k].output, ring[k], int(t.numel // t.shape[1])))
    rings += [r for c in chain if c.call == GDN_CALL for r in c.rings]  # the GDNs' 1-row buffers
    return Step(
        chain[0].op_index,
        "BAND(" + ",".join(c.op for c in chain) + ")",
        "tc_conv_rows",
        "band",
        "",
        (),
        (),
        chain[0].inputs,
        chain[-1].output,
        sum(c.macs for c in chain),
        False,
        max(c.scratch for c in chain),
        tuple(members),
        tuple(calls),
        tuple(rings),
    )


def _bandable(graph: Graph, chain: tuple[Step, ...], readers: dict[int, int]) -> bool:
    for k, c in enumerate(chain):
        conv = c.kernel == CONV_KERNEL and not c.band
        if not (conv or c.call == GDN_CALL) or len(graph.tensors[c.output].shape) != 4:
            return False
        if k > 0:
            prev = chain[k - 1]
            if c.inputs[0] != prev.output or readers.get(prev.output) != 1 or prev.output in graph.outputs:
                return False
    return True


def band_steps(graph: Graph, steps: tuple[Step, ...], max_len: int = 8) -> tuple[Step, ...]:
    """Cost model: greedily replace chains of 2..max_len convs / fused GDNs by banded steps while that lowers
    the plan's peak (ties: the shorter chain, i.e. fewer kernel calls)."""
    readers: dict[int, int] = {}
    for s in steps:
        for t in s.inputs:
            readers[t] = readers.get(t, 0) + 1
    best = steps
    best_arena = plan_memory(graph, best).arena_bytes
    while True:
        cands = []
        for i in range(len(best)):
            for n in range(2, max_len + 1):
                chain = best[i : i + n]
                if len(chain) < n or not _bandable(graph, chain, readers):
                    break
                new = best[:i] + (make_band(graph, chain),) + best[i + n :]
                cands.append((plan_memory(graph, new).arena_bytes, n, i, new))
        if not cands:
            return best
        arena, _, _, new = min(cands, key=lambda c: c[:3])
        if arena >= best_arena:
            return best
        best, best_arena = new, arena
