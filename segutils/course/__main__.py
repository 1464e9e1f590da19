"""``python -m segutils.course {sync [--ref REF]|check}``: rewrite or check every notebook's badges and setup cell.

``sync`` pins the ``segutils`` Colab installs to the current commit (a tag on it if there is one), so a
notebook opened on Colab gets the ``segutils`` it was written against; ``--ref`` names another (``main``,
a tag). For a release: ``sync --ref vX.Y``, commit, then tag that commit ``vX.Y``.
"""

import sys

import nbformat

from .catalog import current_ref, notebooks, sync
from .conventions import convention_problems

args = sys.argv[1:]
if args[:1] == ["sync"] and len(args) in (1, 3) and (len(args) == 1 or args[1] == "--ref"):
    try:
        ref = args[2] if len(args) == 3 else current_ref()
        changed = sync(ref=ref)
    except (RuntimeError, ValueError) as err:
        sys.exit(f"sync: {err}")
    for path in changed:
        print(f"updated {path}")
    print(f"setup cells install segutils @ {ref} (Colab can install it once it is pushed)")
elif args == ["check"]:
    found = {p.name: convention_problems(nbformat.read(p, as_version=4), p.name) for p in notebooks()}
    for name, problems in found.items():
        print(f"{name}: " + ("ok" if not problems else "; ".join(problems)))
    sys.exit(1 if any(found.values()) else 0)
else:
    sys.exit("usage: python -m segutils.course {sync [--ref REF]|check}")
