"""Notebooks 02, 05 and 06 in a real browser: JupyterLab on 127.0.0.1, headless Chromium driven by Playwright.

Run with ``make test-browser`` (not part of ``make test``). Every cell runs in the browser's
kernel (profile ``ci``), no cell may show an error, and moving the explorer's image slider
must redraw its figure. Skips, saying how to install it, without Chromium or Playwright.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "06_comparison.ipynb"
CHROMIUM_INSTALL = "apt-get update && apt-get install -y chromium"

# The notebook's state read from JupyterLab's own model (exposed by --LabApp.expose_app_in_browser).
STATE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext.session) return null;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  return {
    kernel: panel.sessionContext.session.kernel ? panel.sessionContext.session.kernel.status : 'none',
    counts: cells.map(c => c.model.executionCount),
    running: panel.content.node.querySelectorAll('.jp-InputPrompt').length
      ? [...panel.content.node.querySelectorAll('.jp-InputPrompt')].filter(p => p.textContent.includes('*')).length : 0,
    errors: cells.flatMap((c, i) => c.model.outputs.toJSON()
      .filter(o => o.output_type === 'error').map(o => `code cell ${i}: ${o.ename}: ${o.evalue}`)),
  };
}"""


def chromium() -> str | None:
    """The system's Chromium (Playwright's own browser download does not work offline)."""
    return os.environ.get("SEGUTILS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """JupyterLab serving a copy of one notebook from a temporary folder (autosave never touches the repo)."""

    def __init__(self, notebook: Path, env: dict):
        self.dir = Path(tempfile.mkdtemp(prefix="segutils-browser-"))
        (self.dir / "root").mkdir()
        shutil.copy(notebook, self.dir / "root" / notebook.name)
        self.port, self.token = free_port(), secrets.token_hex(16)
        jupyter = {k: str(self.dir / ".jupyter" / k) for k in ("config", "data", "runtime")}
        env = {**os.environ, **env, "JUPYTER_CONFIG_DIR": jupyter["config"], "JUPYTER_RUNTIME_DIR": jupyter["runtime"]}
        self.log = open(self.dir / "lab.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
             f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.dir / 'root'}",
             "--LabApp.expose_app_in_browser=True", "--ServerApp.port_retries=0",
             f"--LabApp.workspaces_dir={self.dir / '.jupyter' / 'workspaces'}",
             f"--LabApp.user_settings_dir={self.dir / '.jupyter' / 'settings'}",
             "--LabApp.extension_manager=readonly", *(["--allow-root"] if os.geteuid() == 0 else [])],
            cwd=self.dir / "root", env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited: {(self.dir / 'lab.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url('api/status')}", timeout=2) as response:
                    json.load(response)
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError("JupyterLab did not answer within 120 s")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_all(page, timeout: float) -> dict:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    """Run every cell from the menu command and wait until the kernel is idle with nothing queued."""
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=120_000)
    accept = page.locator(".jp-Dialog .jp-mod-accept")  # "Select Kernel", when the notebook names none
    try:
        accept.wait_for(state="visible", timeout=5_000)
        accept.click()
    except PlaywrightTimeout:
        pass
    page.wait_for_function(f"() => {{ const s = ({STATE_JS})(); return s && s.kernel === 'idle'; }}", timeout=120_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline, quiet_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        state = page.evaluate(STATE_JS)
        busy = state["kernel"] != "idle" or state["running"]
        if state["errors"] or (not busy and all(c is not None for c in state["counts"])):
            return state
        quiet_since = None if busy else quiet_since or time.monotonic()
        if quiet_since and time.monotonic() - quiet_since > 10:  # idle, yet cells never ran: stopped
            return state
        time.sleep(0.5)
    raise AssertionError(f"the notebook did not finish within {timeout:.0f} s: {page.evaluate(STATE_JS)}")


def explorer_figure(page):
    """The explorer's figure: the one PNG Image widget in the notebook."""
    image = page.locator(".jp-OutputArea .widget-image")
    image.wait_for(state="visible", timeout=60_000)
    return image


def move_slider(page, label: str, key: str = "ArrowRight") -> None:
    """Move the ipywidgets slider described by ``label`` one step, as a user with the keyboard."""
    slider = page.locator(".widget-slider", has=page.locator(".widget-label", has_text=label)).first
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    handle.press(key)


@pytest.fixture(scope="module")
def browser():
    executable = chromium()
    if executable is None:
        pytest.skip(f"Chromium is not installed; install it with: {CHROMIUM_INSTALL}")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason='Playwright is missing: pip install --constraint constraints.txt -e ".[test]"'
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


def open_and_run_all(browser, lab: Lab, name: str):
    """A page on ``name`` in ``lab`` with every cell run: no cell shows an error, every cell ran."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(lab.url(f"lab/tree/{name}"))
    state = run_all(page, timeout=600)
    assert not state["errors"], state["errors"]
    assert all(c is not None for c in state["counts"]), f"cells that did not run: {state['counts']}"
    return page


@pytest.mark.timeout(900)
def test_notebook_06_runs_in_jupyterlab_and_its_explorer_redraws(browser):
    lab = Lab(NOTEBOOK, {"SEGUTILS_PROFILE": "ci"})
    try:
        page = open_and_run_all(browser, lab, NOTEBOOK.name)
        figure = explorer_figure(page)
        figure.scroll_into_view_if_needed()
        before_src, before_png = figure.get_attribute("src"), figure.screenshot()
        move_slider(page, "image")
        page.wait_for_function(
            "([el, src]) => el.getAttribute('src') !== src", arg=[figure.element_handle(), before_src], timeout=60_000
        )
        assert figure.screenshot() != before_png, "the explorer's figure looks the same after moving the slider"
        assert not page.evaluate(STATE_JS)["errors"]
    finally:
        lab.stop()


def _fit_cell_index(notebook: Path) -> int:
    """Index (among all cells) of the notebook's first cell that calls ``model.fit(`` itself."""
    cells = json.loads(notebook.read_text())["cells"]
    return next(i for i, c in enumerate(cells) if c["cell_type"] == "code" and "model.fit(" in "".join(c["source"]))


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", ["02_unet.ipynb", "05_training.ipynb"])
def test_a_notebook_that_trains_runs_in_jupyterlab_and_draws_while_it_trains(browser, name, tmp_path):
    """02 (your U-Net, its predictions redrawn every epoch) and 05 (both models, live curves) as a learner runs them.

    Screenshots of the training cell land in ``$SEGUTILS_SCREENSHOTS`` (default: the test's temporary folder).
    """
    notebook = ROOT / "notebooks" / name
    lab = Lab(notebook, {"SEGUTILS_PROFILE": "ci", "SEGUTILS_RUNS_DIR": str(tmp_path / "runs")})
    try:
        page = open_and_run_all(browser, lab, name)
        cell = page.locator(".jp-Notebook .jp-Cell").nth(_fit_cell_index(notebook))
        cell.scroll_into_view_if_needed()
        figures = cell.locator(".jp-OutputArea-output img")
        figures.first.wait_for(state="visible", timeout=60_000)
        assert figures.count() >= 1, f"{name}: the cell that trains drew no figure"
        shots = Path(os.environ.get("SEGUTILS_SCREENSHOTS") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        cell.screenshot(path=str(shots / f"{Path(name).stem}-training-cell.png"))
    finally:
        lab.stop()
