"""The pipeline page's graph layout: a column per dependency depth, an edge per dependency."""

from __future__ import annotations

from blockpost.db.models import Block
from blockpost.web.graph import BOX_HEIGHT, BOX_WIDTH, COLUMN_GAP, MARGIN, ROW_GAP, layout


def blocks(**dependencies: list[str]) -> list[Block]:
    return [
        Block(pipeline_id="p", index=n, name=name, dependencies=deps, state="waiting")
        for n, (name, deps) in enumerate(dependencies.items())
    ]


def test_blocks_go_to_the_column_of_their_longest_path_and_rows_in_order() -> None:
    graph = layout(
        blocks(Build=[], Unit=["Build"], Lint=["Build"], Deploy=["Unit", "Lint", "Build"])
    )
    places = {node.block.name: (node.x, node.y) for node in graph.nodes}
    column = BOX_WIDTH + COLUMN_GAP
    row = BOX_HEIGHT + ROW_GAP
    assert places == {
        "Build": (MARGIN, MARGIN),
        "Unit": (MARGIN + column, MARGIN),
        "Lint": (MARGIN + column, MARGIN + row),
        "Deploy": (MARGIN + 2 * column, MARGIN),
    }
    assert len(graph.edges) == 5
    assert graph.width == 2 * MARGIN + 3 * column - COLUMN_GAP
    assert graph.height == 2 * MARGIN + 2 * row - ROW_GAP
    # an edge leaves its dependency's right side and enters the block's left side
    first = graph.edges[0].path
    assert first.startswith(f"M{MARGIN + BOX_WIDTH},{MARGIN + BOX_HEIGHT // 2} C")
    assert first.endswith(f"{MARGIN + column},{MARGIN + BOX_HEIGHT // 2}")


def test_a_done_block_is_coloured_by_its_result_and_long_names_are_cut() -> None:
    made = blocks(**{"A very long block name that goes on and on": []})
    made[0].state, made[0].result = "done", "failed"
    node = layout(made).nodes[0]
    assert node.state == "failed"
    assert len(node.label) == 24
    assert node.label.endswith("…")


def test_a_cycle_or_an_unknown_name_does_not_break_the_page() -> None:
    graph = layout(blocks(A=["B"], B=["A"], C=["Nowhere"]))
    assert len(graph.nodes) == 3
    assert {edge.path.count("M") for edge in graph.edges} == {1}
    assert layout([]).nodes == []
