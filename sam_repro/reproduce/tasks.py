"""The tasks of a profile: one per notebook, or one per shard of a notebook that a profile splits.

A task is what one worker (a process of the local pool, one GPU, one SLURM array task) executes: a notebook with
the profile's parameters plus the shard's overrides. Its files under ``results/<profile>/`` are named by its
*stem* (the notebook's path without ``.ipynb``, plus ``@<label>`` for a shard): ``<stem>.ipynb`` (the executed
notebook), ``<stem>.status.json``, ``<stem>.lock`` (held while it runs) and, for grid shards, the output folder
``<stem>/``.

Two kinds of shards, declared per notebook in a profile's ``shards`` mapping (keys are globs over notebook paths):

* **grid** ``{"grid": [[p, q], [r]], "once": {...}}``: a table notebook whose list parameters name the rows and
  datasets it runs. Each *axis* (an inner list) deals the items of its parameters one per shard (the axis's other
  parameters set to ``[]``), and the axes are crossed: ``[[rare_objects, medical], [rows]]`` makes one shard per
  (dataset, row) cell. A shard keeps every image of its dataset together, so test-time adaptation, whose state runs
  over the image sequence, is never split inside a dataset. Each shard writes its own output folder; the summary
  merges their ``results.json`` rows. ``once`` holds overrides for every shard but the first (work to do once,
  e.g. ``{"cost_models": []}`` for a timing measurement).
* **samples** ``{"samples": N}``: a plain evaluation notebook that declares ``shard_index`` and ``num_shards`` and
  passes them to :func:`sam_repro.eval.harness.evaluate` (one records folder per shard). Its N shard tasks share the
  notebook's output folder; a final task (the notebook itself, ``num_shards=1``, run after the shards) adopts the
  shards' records and writes the merged summary and ``results.json``. Such a notebook writes ``results.json`` only
  when ``num_shards == 1``.
"""
from __future__ import annotations

import ast
import itertools
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sam_repro.reproduce.profiles import Profile

#: Characters kept in a shard label (file names); any other becomes ``_`` (``R/U/CM`` -> ``R_U_CM``).
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=,-]")


@dataclass(frozen=True)
class Task:
    """One unit of work.

    Attributes:
        id: ``<notebook path>`` or ``<notebook path>@<label>`` (``sam_tta/tta_tables.ipynb@rare_objects=CAMO,rows=R``),
            what ``--notebook`` takes and ``--list`` prints.
        notebook: the notebook's path relative to the notebooks folder.
        shard: parameter overrides of the shard (empty for a whole notebook).
        label: the shard's label ('' for a whole notebook).
        shared_output: the shard writes into the notebook's own output folder (sample shards) rather than its own.
        after: ids of tasks that must end before this one starts (a sample-sharded notebook's final task).
    """

    id: str
    notebook: str
    shard: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    shared_output: bool = False
    after: tuple[str, ...] = ()

    @property
    def stem(self) -> str:
        """Relative path (under ``results/<profile>``) of the task's files, without a suffix."""
        base = self.notebook[: -len(".ipynb")] if self.notebook.endswith(".ipynb") else self.notebook
        return f"{base}@{self.label}" if self.label else base

    def output_notebook(self, profile_dir: Path) -> Path:
        return profile_dir / f"{self.stem}.ipynb"

    def status_path(self, profile_dir: Path) -> Path:
        return profile_dir / f"{self.stem}.status.json"

    def lock_path(self, profile_dir: Path) -> Path:
        return profile_dir / f"{self.stem}.lock"

    def output_dir(self, profile_dir: Path) -> Path:
        """The ``output_dir`` parameter: the task's own folder, or the notebook's for sample shards."""
        base = self.notebook[: -len(".ipynb")] if self.notebook.endswith(".ipynb") else self.notebook
        return profile_dir / (base if self.shared_output or not self.label else self.stem)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["after"] = list(self.after)
        return data


def notebook_defaults(notebook: Path) -> dict[str, Any]:
    """The literal defaults of a notebook's ``parameters`` cell (names papermill sees; non-literals are skipped)."""
    import papermill

    defaults = {}
    for name, info in papermill.inspect_notebook(str(notebook)).items():
        try:
            defaults[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError, KeyError, TypeError):
            continue
    return defaults


def _label(assignment: dict[str, Any]) -> str:
    parts = [f"{name}={values[0]}" for name, values in sorted(assignment.items()) if values]
    return _UNSAFE.sub("_", ",".join(parts))


def grid_shards(parameters: dict[str, Any], grid: list[list[str] | str]) -> list[dict[str, Any]]:
    """The overrides of each shard of a grid (see the module docstring), in axis order.

    Args:
        parameters: the notebook's effective parameters (its defaults updated by the profile's).
        grid: axes, each a list of list-valued parameter names (a bare name is an axis of one).

    Raises:
        ValueError: an axis names a parameter that is not a list.
    """
    choices = []
    for axis in grid:
        names = [axis] if isinstance(axis, str) else list(axis)
        options = []
        for name in names:
            values = parameters.get(name)
            if not isinstance(values, (list, tuple)):
                raise ValueError(f"shard axis parameter {name!r} must be a list, got {values!r}")
            for value in values:
                options.append({other: ([value] if other == name else []) for other in names})
        choices.append(options)
    return [{k: v for part in combo for k, v in part.items()} for combo in itertools.product(*choices)]


def notebook_tasks(relative: str, profile: Profile, notebooks_dir: Path) -> list[Task]:
    """The tasks of one notebook under ``profile`` (one task when the profile does not shard it).

    Raises:
        ValueError: an invalid shard specification (unknown keys, a grid over a non-list, a sample-sharded
            notebook that does not declare ``shard_index`` and ``num_shards``).
    """
    spec = profile.shards_for(relative)
    if not spec:
        return [Task(relative, relative)]
    unknown = set(spec) - {"grid", "once", "samples"}
    if unknown or ("grid" in spec) == ("samples" in spec):
        raise ValueError(f"profile {profile.name!r}: shards of {relative}: give either 'grid' (with optional "
                         f"'once') or 'samples'; got keys {sorted(spec)}")
    defaults = notebook_defaults(notebooks_dir / relative)
    if "samples" in spec:
        count = int(spec["samples"])
        if not {"shard_index", "num_shards"} <= set(defaults):
            raise ValueError(f"{relative}: sharding samples needs 'shard_index' and 'num_shards' parameters")
        if count < 2:
            return [Task(relative, relative)]
        shards = [Task(f"{relative}@shard-{i}-of-{count}", relative, {"shard_index": i, "num_shards": count},
                       f"shard-{i}-of-{count}", shared_output=True) for i in range(count)]
        return shards + [Task(relative, relative, after=tuple(t.id for t in shards))]
    parameters = {**defaults, **profile.parameters_for(relative)}
    tasks: list[Task] = []
    for position, overrides in enumerate(grid_shards(parameters, spec["grid"])):
        if position and spec.get("once"):
            overrides = {**overrides, **dict(spec["once"])}
        label = _label({k: v for k, v in overrides.items() if k not in (spec.get("once") or {})})
        tasks.append(Task(f"{relative}@{label}", relative, overrides, label))
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{relative}: two shards share a label ({ids}); make the parameter values distinct")
    return tasks


def expand(profile: Profile, notebooks: list[Path], notebooks_dir: Path, exact: str | None = None) -> list[Task]:
    """Every task of ``notebooks`` (paths under ``notebooks_dir``) under ``profile``; with ``exact``, only the task
    of that id, or every task of the notebook of that relative path.

    Raises:
        ValueError: ``exact`` names no task (the message lists the known ids).
    """
    tasks = [task for path in notebooks
             for task in notebook_tasks(path.relative_to(notebooks_dir).as_posix(), profile, notebooks_dir)]
    if exact is None:
        return tasks
    chosen = [t for t in tasks if t.id == exact] or [t for t in tasks if t.notebook == exact]
    if not chosen:
        raise ValueError(f"no task {exact!r}; known tasks:\n  " + "\n  ".join(t.id for t in tasks))
    if len(chosen) == 1:  # one task: it runs whatever it waits for elsewhere (its shards ran before)
        return [Task(chosen[0].id, chosen[0].notebook, chosen[0].shard, chosen[0].label, chosen[0].shared_output)]
    return chosen
