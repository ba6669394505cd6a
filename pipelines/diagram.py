"""The asset graph as a mermaid diagram, grouped by stage: `docs/architecture.md` embeds it, and a test
keeps the two the same (``python -m pipelines.diagram`` prints it)."""

from __future__ import annotations

import dagster as dg

from pipelines.definitions import build_definitions

STAGE_ORDER = ("reference", "raw", "observations", "harmonised", "indicators", "selection", "outputs")
# Publication comes after every other asset; its edges would hide the flow, so the diagram leaves them out.
WITHOUT_EDGES_INTO = {"publication"}


def mermaid(definitions: dg.Definitions) -> str:
    """``flowchart LR`` with one subgraph per group, in the order the data flows."""
    graph = definitions.resolve_asset_graph()
    keys = sorted(graph.get_all_asset_keys(), key=lambda key: key.to_user_string())
    lines = ["flowchart LR"]
    for group in STAGE_ORDER:
        members = [key.to_user_string() for key in keys if graph.get(key).group_name == group]
        lines.append(f"  subgraph stage_{group} [{group}]")
        lines += [f"    {name}" for name in members]
        lines.append("  end")
    for key in keys:
        if key.to_user_string() in WITHOUT_EDGES_INTO:
            continue
        for parent in sorted(graph.get(key).parent_keys, key=lambda k: k.to_user_string()):
            lines.append(f"  {parent.to_user_string()} --> {key.to_user_string()}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(mermaid(build_definitions(":memory:")))
