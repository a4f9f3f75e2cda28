"""Lays a pipeline's blocks out as a graph: a column per dependency depth, edges as curves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from blockpost.db.models import Block

BOX_WIDTH = 190
BOX_HEIGHT = 48
COLUMN_GAP = 56
ROW_GAP = 16
MARGIN = 8
MAX_LABEL = 24


@dataclass(frozen=True)
class Node:
    block: Block
    x: int
    y: int
    label: str
    state: str  # the word its colour class is named after: its result once done

    @property
    def middle(self) -> int:
        return self.y + BOX_HEIGHT // 2


@dataclass(frozen=True)
class Edge:
    path: str
    state: str  # the state of the block it leads from: a passed dependency draws solid


@dataclass(frozen=True)
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int
    box_width: int = BOX_WIDTH
    box_height: int = BOX_HEIGHT


def _label(name: str) -> str:
    return name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1] + "…"


def _depths(blocks: Sequence[Block]) -> dict[str, int]:
    """Longest path from a block without dependencies; names the YAML never declared (the
    validator refuses them) and cycles count as depth 0 rather than failing the page."""
    by_name = {block.name: block for block in blocks}
    depth: dict[str, int] = {}
    visiting: set[str] = set()

    def walk(name: str) -> int:
        if name in depth:
            return depth[name]
        if name in visiting or name not in by_name:
            return -1
        visiting.add(name)
        found = 1 + max((walk(dep) for dep in by_name[name].dependencies), default=-1)
        visiting.discard(name)
        depth[name] = found
        return found

    for block in blocks:
        walk(block.name)
    return depth


def layout(blocks: Sequence[Block]) -> Graph:
    depths = _depths(blocks)
    columns: dict[int, int] = {}
    nodes: dict[str, Node] = {}
    for block in blocks:
        column = depths.get(block.name, 0)
        row = columns.get(column, 0)
        columns[column] = row + 1
        nodes[block.name] = Node(
            block=block,
            x=MARGIN + column * (BOX_WIDTH + COLUMN_GAP),
            y=MARGIN + row * (BOX_HEIGHT + ROW_GAP),
            label=_label(block.name),
            state=(block.result or block.state or "waiting").lower(),
        )
    edges = []
    for node in nodes.values():
        for name in node.block.dependencies:
            source = nodes.get(name)
            if source is None:
                continue
            x1, y1 = source.x + BOX_WIDTH, source.middle
            x2, y2 = node.x, node.middle
            bend = (x2 - x1) // 2
            edges.append(
                Edge(f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}", source.state)
            )
    width = MARGIN * 2 + max(1, len(columns)) * (BOX_WIDTH + COLUMN_GAP) - COLUMN_GAP
    height = MARGIN * 2 + max(columns.values(), default=1) * (BOX_HEIGHT + ROW_GAP) - ROW_GAP
    return Graph(list(nodes.values()), edges, width, height)
