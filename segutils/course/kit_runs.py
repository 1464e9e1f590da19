"""The trained runs in a workshop kit: ``kit build --runs`` packs a finished course run's models.

A room that unpacks the kit and sets ``SEGUTILS_RUNS_DIR=<kit>/runs`` skips notebook 05's training
and still does 06 and 07: ``find_runs`` reads the kit's records and loads each run's own
``best.keras``. Only finished runs are packed (a ``record.json`` and its model file), never one a
``fit`` is training in right now; checkpoint backups and the ``.lock`` file stay behind.
Used by :mod:`segutils.course.kit`.
"""

from __future__ import annotations

from pathlib import Path

from segutils.training.runs import RECORD, RunBusyError, claim, runs_root

#: The kit's folder for runs; ``SEGUTILS_RUNS_DIR`` points at it after unpacking.
RUNS = "runs"
#: What 06 and 07 read from a finished run folder, besides its model: ``best.keras``, else ``final.keras``
#: (the one ``find_runs`` loads; the other, checkpoint backups and the lock stay behind).
RUN_FILES = (RECORD, "log.csv", "epochs.json")


class RunsError(RuntimeError):
    """No finished run to pack; the message says what to do."""


def collect_runs(root=None, profiles=None) -> tuple[dict[str, Path], list[str]]:
    """Kit path -> file of every finished run under ``<root>/train/<profile>/``, and notes on the runs left out.

    Args:
        root: the runs folder (default: :func:`~segutils.training.runs_root`, ``SEGUTILS_RUNS_DIR``).
        profiles: profile names to pack (default: every profile found).

    Raises:
        RunsError: no finished run in the requested profiles.
    """
    base = Path(root or runs_root()).expanduser() / "train"
    files, notes = {}, []
    for record in sorted(base.glob(f"*/*/*/{RECORD}")):
        folder = record.parent
        profile = folder.relative_to(base).parts[0]
        if profiles and profile not in profiles:
            continue
        name = folder.relative_to(base).as_posix()
        try:
            with claim(folder):  # released at once: only a fit training there now holds it
                pass
        except RunBusyError:
            notes.append(f"runs: {name} left out: a fit is training in it right now (its .lock is held)")
            continue
        model = next((m for m in ("best.keras", "final.keras") if (folder / m).is_file()), None)
        if model is None:
            notes.append(f"runs: {name} left out: no best.keras or final.keras beside its record.json")
            continue
        files.update({f"{RUNS}/train/{name}/{f}": folder / f for f in (*RUN_FILES, model) if (folder / f).is_file()})
    if not files:
        wanted = f" of profile(s) {', '.join(profiles)}" if profiles else ""
        raise RunsError(f"no finished run{wanted} under {base}: run notebook 05 (or `make run`) to the end first, "
                        f"or point SEGUTILS_RUNS_DIR at the runs folder of a finished course run")
    return files, notes


def packed_runs(files) -> list[str]:
    """The run folders (``<profile>/<dataset>/<run>``) among a kit's file paths."""
    return sorted({str(Path(p).parent.relative_to(f"{RUNS}/train")) for p in files
                   if p.startswith(f"{RUNS}/train/") and p.endswith(f"/{RECORD}")})
