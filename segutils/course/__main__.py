"""``python -m segutils.course {sync|check}``: rewrite or check every notebook's badges and setup cell."""

import sys

import nbformat

from .catalog import convention_problems, notebooks, sync

if sys.argv[1:] == ["sync"]:
    for path in sync():
        print(f"updated {path}")
elif sys.argv[1:] == ["check"]:
    found = {p.name: convention_problems(nbformat.read(p, as_version=4), p.name) for p in notebooks()}
    for name, problems in found.items():
        print(f"{name}: " + ("ok" if not problems else "; ".join(problems)))
    sys.exit(1 if any(found.values()) else 0)
else:
    sys.exit("usage: python -m segutils.course {sync|check}")
