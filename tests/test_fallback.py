"""06 and 07 without notebook 05's runs: the retraining's cost is printed first, and only the defaults train."""

import dataclasses
import json
import sys

import pytest

from segutils import config
from segutils.course import fallback

TINY = dataclasses.replace(config.get("ci"), img_size=32, batch_size=2, epochs=2, steps_per_epoch=1)


def _record(root, model, dataset, step_s, seed=0, profile="ci"):
    folder = root / "train" / profile / dataset / f"{model}-seed{seed}"
    folder.mkdir(parents=True)
    record = dict(model=model, seed=seed, config=dict(dataset=dataset), timings=dict(median_step_s=step_s))
    (folder / "record.json").write_text(json.dumps(record))


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGUTILS_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    return tmp_path / "runs"


def test_the_estimate_is_budget_steps_times_seeds_times_each_models_seconds_per_step(runs_dir):
    _record(runs_dir, "unet", "membrane", 0.25)
    _record(runs_dir, "linknet", "membrane", 0.5)
    cpu = config.get("cpu")  # 30 epochs x 20 steps = 600 steps
    _record(runs_dir, "unet", "membrane", 1.5, profile="cpu")
    _record(runs_dir, "linknet", "membrane", 0.5, profile="cpu")
    seconds, sentence = fallback.retrain_estimate(["unet", "linknet"], 3, cpu)
    assert seconds == 600 * 3 * (1.5 + 0.5) == 3600
    assert sentence == ("Retraining 2 model(s) x 3 seed(s) x 600 steps of the 'cpu' profile: about 60 min of "
                        "training steps (s/step from course.plan: unet 1.5 s, linknet 0.5 s), plus validation.")
    assert fallback.retrain_estimate(["unet"], 1, TINY)[0] == 2 * 1 * 0.25


def test_without_runs_only_the_default_models_train_with_one_seed_unless_asked(runs_dir, capsys):
    _record(runs_dir, "unet", "membrane", 0.25)  # another dataset's run: not used, but its s/step is
    runs, note = fallback.runs_for(("unet", "unet-resnet34"), "shapes", 3, TINY, subset=4)
    estimate = ("No run of notebook 05 for ['unet'] on 'shapes' in the 'ci' profile. Retraining 1 model(s) x 1 "
                "seed(s) x 2 steps of the 'ci' profile: about 0.5 s of training steps (s/step from course.plan: unet "
                "0.25 s), plus validation.")
    assert capsys.readouterr().out.splitlines()[0] == estimate
    assert [(r["model"], r["seed"], r["config"]["dataset"]) for r in runs] == [("unet", 0, "shapes")]
    assert (runs[0]["config"]["num_classes"], runs[0]["config"]["ignore_index"]) == (4, None)  # shapes has no void
    assert note.startswith("No run of notebook 05 for ['unet'] on 'shapes': trained here in ")
    assert (", as notebook 05 would, 1 seed(s) each. No run of notebook 05 for ['unet-resnet34'] on 'shapes', and not "
            "retrained here (only ['unet', 'linknet'] are, unless you add them to the retrained models): left out. "
            f"Looked for notebook 05's runs in {runs_dir}/train/ci.") in note

    more, _ = fallback.runs_for(("unet",), "shapes", 3, TINY, subset=4, retrain_seeds=2)
    assert [(r["model"], r["seed"]) for r in more] == [("unet", 0), ("unet", 1)]
    assert "x 2 seed(s) x 2 steps" in capsys.readouterr().out


def test_with_every_run_present_nothing_trains_and_nothing_is_estimated(runs_dir, capsys):
    _record(runs_dir, "unet", "shapes", 0.25)
    _record(runs_dir, "linknet", "shapes", 0.5)
    runs, note = fallback.runs_for(("unet", "linknet"), "shapes", 1, TINY)
    assert [r["model"] for r in runs] == ["unet", "linknet"] and capsys.readouterr().out == ""
    assert note == f"2 run(s) of notebook 05 from {runs_dir}/train/ci."


@pytest.mark.parametrize("seeds", [0, 1.5, "2"])
def test_retrain_seeds_must_be_a_whole_number_from_1(runs_dir, seeds):
    with pytest.raises(ValueError, match=r"^retrain_seeds \(RETRAIN_SEEDS\) must be a whole number >= 1, got "):
        fallback.runs_for(("unet",), "shapes", 1, TINY, retrain_seeds=seeds)
