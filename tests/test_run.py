"""training.Run: the learner's own model.fit with the course's callbacks, its lock, a Ctrl-C in the kernel, resume."""

import json

import keras
import pytest

from segutils import training
from segutils.training import runs

from .test_runs import StopAt, data, protocol, tiny_model


def open_run(folder, model, epochs=3, **kwargs):
    return training.Run.open(model, data().repeat(), data(4, seed=1), "tiny", protocol(epochs), folder=folder,
                             quiet=True, measure_input_wait=False, extra=dict(dataset="shapes"), **kwargs)


def test_the_learners_model_fit_with_run_callbacks_writes_the_same_record_as_fit(tmp_path, capsys):
    model = tiny_model()
    run = open_run(tmp_path / "mine", model)
    with pytest.raises(training.RunBusyError, match=r"is busy: another fit \(process \d+\) is training there"):
        with runs.claim(tmp_path / "mine"):  # the folder is held while the run is open
            pass
    history = model.fit(data().repeat(), validation_data=data(4, seed=1), epochs=run.protocol.epochs,
                        steps_per_epoch=run.protocol.steps_per_epoch, callbacks=run.callbacks(), verbose=0)
    record = run.finish(model, history)
    stored = json.loads((tmp_path / "mine" / runs.RECORD).read_text())
    assert record is run.record and json.loads(json.dumps(record, default=str)) == stored
    assert record["history"]["loss"] == pytest.approx(history.history["loss"])
    assert record["protocol"]["phases"] == ["train"] and record["phases"][0]["epochs"] == [1, 3]
    assert record["timings"]["timed_steps"] == 3 * 2 - 2  # two warm-up steps left out
    assert (tmp_path / "mine" / "best.keras").exists() and (tmp_path / "mine" / "final.keras").exists()
    with runs.claim(tmp_path / "mine"):  # released by finish
        pass
    again = open_run(tmp_path / "mine", tiny_model())  # a second training beside the finished one says so
    again.close()
    assert capsys.readouterr().out == (  # Run.open takes folder=, fit and fine_tune run_dir=: the fix names both
        f"Training again in {tmp_path / 'mine'}: its finished run is replaced (another folder=/run_dir= keeps it).\n")
    one_call = training.fit(tiny_model(), data().repeat(), data(4, seed=1), name="tiny", protocol=protocol(3),
                            run_dir=tmp_path / "fit", quiet=True, measure_input_wait=False,
                            extra=dict(dataset="shapes"))
    assert sorted(one_call) == sorted(record) and one_call["protocol"] == record["protocol"]
    assert one_call["history"]["loss"] == pytest.approx(record["history"]["loss"])  # same seed, same steps


def test_a_ctrl_c_in_the_learners_fit_is_resumed_by_opening_the_run_again(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEGUTILS_BACKUP_SECONDS", "3600")  # no backup by the clock: only the interruption saves
    model = tiny_model()
    run = open_run(tmp_path, model)
    with pytest.raises(KeyboardInterrupt):
        model.fit(data().repeat(), validation_data=data(4, seed=1), epochs=3, steps_per_epoch=2,
                  callbacks=run.callbacks() + [StopAt(2)], verbose=0)
    again = open_run(tmp_path, model)  # the same cell run again in the same kernel: not "busy"
    out = capsys.readouterr().out
    assert f"Interrupted: backed up in {tmp_path / 'backup-train'}; run fit again to resume after epoch 2." in out
    assert again.resumed
    history = model.fit(data().repeat(), validation_data=data(4, seed=1), epochs=3, steps_per_epoch=2,
                        callbacks=again.callbacks(), verbose=0)
    assert len(history.history["loss"]) == 1  # epoch 3 only
    record = again.finish(model, history)
    assert record["resumed"] and len(record["history"]["loss"]) == 3
    assert not (tmp_path / "backup-train").exists()


def test_a_stamped_dataset_gives_the_record_its_batch_wait(tmp_path):
    model = tiny_model()
    run = open_run(tmp_path, model)
    train_ds = run.stamped(data().repeat())
    model.fit(train_ds, validation_data=data(4, seed=1), epochs=3, steps_per_epoch=2, callbacks=run.callbacks(),
              verbose=0)
    timings = run.finish(model)["timings"]
    assert timings["timed_steps"] == 4 and 0.0 <= timings["batch_wait_share"] < 1.0


def test_a_run_used_as_a_context_closes_its_lock_when_the_fit_fails(tmp_path):
    model = tiny_model()
    with pytest.raises(RuntimeError, match="broken callback"):
        with open_run(tmp_path, model) as run:
            raise RuntimeError("broken callback")
    assert run.record is None
    with runs.claim(tmp_path):
        pass
    keras.backend.clear_session()


def test_run_open_makes_its_data_checks_before_the_first_step(tmp_path):
    """Issue 23 BAD 5, BAD 8 and the WEAK fit cases, through the Run that fit and notebook 05 open."""
    import numpy as np

    from segutils.training.run import AbsentClassesWarning

    model = tiny_model()
    with pytest.raises(TypeError, match=r"^train_ds must be a tf.data.Dataset of \(image, mask\) batches, got a tuple"):
        training.Run.open(model, (np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8, 1))), data(), "tiny", protocol(),
                          folder=tmp_path / "a")
    nothing = data().unbatch().filter(lambda x, y: False).batch(4).repeat()
    with pytest.raises(ValueError, match=r"^train_ds is empty: it yields no batches\. .*take\(\) or filter\(\)"):
        training.Run.open(model, nothing, data(), "tiny", protocol(), folder=tmp_path / "b")
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(OSError, match=r"^cannot write the training run into .*file/run: .*file is a file, not a"):
        training.Run.open(model, data().repeat(), data(), "tiny", protocol(), folder=tmp_path / "file" / "run")
    with pytest.warns(AbsentClassesWarning, match=r"^num_classes=10, but no train mask holds class\(es\) "
                                                         r"\[2, 3, 4, 5, 6, 7, 8, 9\]"):
        run = training.Run.open(model, data().repeat(), data(), "tiny", protocol(), folder=tmp_path / "c",
                                extra=dict(num_classes=10))
    run.close()
    assert int(model.optimizer.iterations) == 0


def test_find_runs_expands_a_tilde_root_and_refuses_a_path_as_the_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    folder = tmp_path / "my runs" / "train" / "ci" / "shapes" / "unet-seed0"
    folder.mkdir(parents=True)
    runs.write_json(folder / runs.RECORD, dict(model="unet"))
    assert [r["model"] for r in training.find_runs("ci", root="~/my runs")] == ["unet"]
    with pytest.raises(ValueError, match=r"^find_runs takes a profile name \(ci, cpu, gpu\), got '~/my runs'"):
        training.find_runs("~/my runs")
