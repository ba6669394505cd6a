"""The shape of the code: data flows one way through the stages, and the asset graph is a reviewed
snapshot.

Stages, bottom to top: the shared base (settings, configuration, vocabulary, table shapes, storage,
provenance) → reference → ingest → validate → harmonise → indicators → selection → outputs. A module may
import from its own stage and the ones below it, never from a later stage, and never from the Dagster
shell (assets, definitions, resources, flow, cli) or the sample generator.
"""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from pipelines.diagram import mermaid
from pipelines.settings import PROJECT_ROOT

STAGES = {
    "settings": 0,
    "config": 0,
    "vocabulary": 0,
    "tables": 0,
    "storage": 0,
    "provenance": 0,
    "reference": 1,
    "ingest": 2,
    # Pupil-level data read and aggregated to the figures the exports publish, beside the exports.
    "pupils": 2,
    "validate": 3,
    "harmonise": 4,
    "indicators": 5,
    "selection": 6,
    # Did the support help? Reads the selection's rule and the scheme's periods; the outputs show it.
    "followup": 6,
    "outputs": 7,
    # The governors' returned workbooks are read against the outputs; the register stores them.
    "review": 8,
    "register": 0,
}
# The sample generator writes raw exports as Udir does; it may use the registers, the export format and
# the organisation-number check (so its numbers pass validation), and the scheme's cohort list (to select
# its past cohorts with the function the follow-up remakes them with, on its own figures).
TOOLS = {"sample": 6}
SHELL = {"cli", "definitions", "resources", "flow", "snapshot", "diagram", "evaluation"}
SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def _part(module: str) -> str | None:
    """``pipelines.selection.holistic`` → ``selection``; None outside the project's core."""
    parts = module.split(".")
    return parts[1] if parts[0] == "pipelines" and len(parts) > 1 else None


def imported_modules(source: str) -> list[str]:
    """Every module a source imports, wherever the import sits (functions, TYPE_CHECKING blocks too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found += [node.module] if node.module != "pipelines" else names
    return found


def imports_against_the_flow(module: str, source: str) -> list[str]:
    """The imports of ``module`` that run back up the stages or into the shell."""
    own = _part(module)
    rank = STAGES.get(own, TOOLS.get(own)) if own else None
    if rank is None:
        return []
    wrong = []
    for imported in imported_modules(source):
        if imported.split(".")[0] == "assets":
            wrong.append(imported)
            continue
        target = _part(imported)
        if target is None:
            continue
        if target in SHELL or (target in TOOLS and target != own) or STAGES.get(target, 0) > rank:
            wrong.append(imported)
    return wrong


def _modules() -> list[tuple[str, Path]]:
    return [
        (".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts), path)
        for path in sorted((PROJECT_ROOT / "pipelines").rglob("*.py"))
    ]


def test_every_core_module_belongs_to_a_stage_tool_or_the_shell():
    parts = {_part(module) for module, _ in _modules()} - {"__init__"}
    assert parts <= set(STAGES) | set(TOOLS) | SHELL


def test_no_module_imports_from_a_later_stage():
    wrong = {
        module: found
        for module, path in _modules()
        if (found := imports_against_the_flow(module, path.read_text(encoding="utf-8")))
    }
    assert wrong == {}


@pytest.mark.parametrize(
    "module, source",
    [
        ("pipelines.indicators.values", "from pipelines.selection.config import Config"),
        ("pipelines.validate.tables", "import pipelines.harmonise.harmonise"),
        ("pipelines.harmonise.harmonise", "def f():\n    from pipelines.outputs import dashboard"),
        ("pipelines.config", "from pipelines.reference.registers import STRUCTURES"),
        ("pipelines.selection.candidates", "from pipelines import resources"),
        ("pipelines.outputs.workbooks", "from assets.metadata import table"),
        ("pipelines.ingest.files", "from pipelines.sample.generate import TRUTH_FILE"),
    ],
)
def test_the_rule_catches_an_import_against_the_flow(module, source):
    assert imports_against_the_flow(module, source) != []


def definitions_snapshot(definitions: dg.Definitions) -> dict[str, object]:
    """What a reviewer should see change: assets (group, kinds, dependencies, whether they may be
    empty), checks, jobs, schedules and sensors."""
    graph = definitions.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "may_be_empty": bool(node.metadata.get("allow_empty", False)),
            "described": bool(node.description),
        }
    checks = {
        f"{key.asset_key.to_user_string()}:{key.name}": {"blocking": graph.get_check_spec(key).blocking}
        for key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name))
    }
    jobs = {
        job.name: sorted(key.to_user_string() for key in job.asset_layer.selected_asset_keys)
        for job in definitions.resolve_all_job_defs()
        if not job.name.startswith("__")
    }
    schedules = {
        schedule.name: {
            "job": schedule.job_name,
            "cron": schedule.cron_schedule,
            "timezone": schedule.execution_timezone,
        }
        for schedule in (definitions.resolve_schedule_def(s.name) for s in definitions.schedules or [])
    }
    sensors = {
        sensor.name: {
            "job": sensor.job_name if sensor.has_jobs else None,
            "default_status": sensor.default_status.value,
        }
        for sensor in (definitions.resolve_sensor_def(s.name) for s in definitions.sensors or [])
    }
    return {"assets": assets, "checks": checks, "jobs": jobs, "schedules": schedules, "sensors": sensors}


def test_definitions_match_the_reviewed_snapshot(tmp_path):
    """A change to the graph is a reviewed change: run with UPDATE_SNAPSHOT=1 and commit the diff."""
    current = definitions_snapshot(build_definitions(str(tmp_path / "w.duckdb")))
    text = json.dumps(current, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert SNAPSHOT.exists(), "no snapshot yet: run the test with UPDATE_SNAPSHOT=1"
    assert json.loads(SNAPSHOT.read_text(encoding="utf-8")) == current
    assert all(asset["described"] for asset in current["assets"].values())


def test_the_architecture_page_shows_the_graph_as_it_is(tmp_path):
    page = (PROJECT_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    diagram = mermaid(build_definitions(str(tmp_path / "w.duckdb")))
    assert f"```mermaid\n{diagram}\n```" in page, "regenerate it: python -m pipelines.diagram"


def test_the_readme_layout_table_names_real_folders_and_every_group(tmp_path):
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Where things are", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line]
    groups = set()
    for row in rows:
        _, code, group = (cell.strip() for cell in row.strip("|").split("|"))
        for path in re.findall(r"`([^`]+)`", code):
            for expanded in _expand_braces(path):
                assert (PROJECT_ROOT / expanded).exists(), expanded
        groups |= set(re.findall(r"`([^`]+)`", group))
    graph = build_definitions(str(tmp_path / "w.duckdb")).resolve_asset_graph()
    assert groups == {graph.get(key).group_name for key in graph.get_all_asset_keys()}


def _expand_braces(path: str) -> list[str]:
    """``pipelines/{a,b}.py`` → ``pipelines/a.py``, ``pipelines/b.py``."""
    match = re.search(r"\{([^}]*)\}", path)
    if not match:
        return [path]
    return [path[: match.start()] + part + path[match.end() :] for part in match.group(1).split(",")]
