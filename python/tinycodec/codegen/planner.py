"""Static memory plan: tensor lifetimes from the schedule, greedy-by-size placement in one arena.

The graph input is read straight from the caller's `in` buffer and the graph output is written straight
to `out`, so neither takes arena space. Every other activation gets an aligned offset; tensors whose
lifetimes (first write .. last read, inclusive, in schedule steps) overlap never share bytes, except that
an elementwise op (ADD, LEAKY_RELU) may write its output over an input that dies at that step.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ops import Step
from .reader import Graph

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
    """[first, last] step of every arena tensor (activations other than graph input/output)."""
    io = {graph.inputs[0], graph.outputs[0]}
    life: dict[int, tuple[int, int]] = {}
    for i, s in enumerate(steps):
        if s.output not in io:
            life[s.output] = (i, i)
    for i, s in enumerate(steps):
        for t in s.inputs:
            if t in life:
                life[t] = (life[t][0], max(life[t][1], i))
    return life


def plan_memory(graph: Graph, steps: tuple[Step, ...], in_place: bool = True) -> MemoryPlan:
    life = lifetimes(graph, steps)
    sizes = {t: graph.tensors[t].numel for t in life}
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
    """Simulate the schedule; raise AssertionError if two live tensors share bytes (legal in-place aside)."""
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
