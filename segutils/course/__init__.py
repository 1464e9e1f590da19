"""The course's machinery: what serves the course rather than teaches it.

A learner never needs to open this folder, and nothing outside it imports it.

- :mod:`.catalog`: repository URL, notebook order, badges, the setup cell (``python -m segutils.course sync``)
- :mod:`.conventions`: what a notebook must look like (``python -m segutils.course check``, ``tests/test_notebooks.py``)
- :mod:`.session`: ``course.setup()``, what every setup cell calls: the environment report, the profile's data
  fetched if missing, on Colab runs on Drive
- :mod:`.downloads`: verified downloads, ``course.fetch("membrane")`` (over :mod:`.transfer`: one checked file)
- :mod:`.readiness`: the workshop checklist (``make check``)
- :mod:`.runner`: runs the notebooks headless (``make run``, ``make compare``); :mod:`.parameters`: its ``--param``
- :mod:`.report`: notebooks 06's and 08's ``report.md`` and 06's conclusion
- :mod:`.kit`: the offline workshop kit (``make offline-kit``), unpacked and verified by :mod:`.kit_unpack`
- :mod:`.data`: the data command line (``make data``)
- :mod:`.bench`: speed measurements (``python -m segutils.course.bench ...``)
- :mod:`.exercises`: the answer checks of every notebook's exercises
- :mod:`.leaks`: finds answers a notebook shows before the learner's attempt (``tests/test_solution_leaks.py``)
- :mod:`.fallback`: notebook 05's runs for notebooks 06 and 07, or trained here when 05 did not run
- :mod:`.plan`: each profile's budget and what its steps take here (``python -m segutils.course.plan``)
"""

from .catalog import (  # noqa: F401 - `from segutils import course; course.PLAN` as in notebook 00
    BRANCH,
    NOTEBOOK_DIR,
    PLAN,
    REPO_URL,
    SETUP_MARKER,
    colab_url,
    current_ref,
    github_url,
    new_notebook,
    notebooks,
    pinned_ref,
    repo_path,
    setup_cell_source,
    sync,
    write_notebook,
)
from .downloads import fetch  # noqa: F401 - `course.fetch("membrane")`, what load's DataError names
from .session import setup  # noqa: F401 - every notebook's setup cell calls course.setup()
