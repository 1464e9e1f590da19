"""The workshop kit: built from a data folder, unpacked, served over loopback to an empty data folder."""

import hashlib
import io
import json
import socket
import tarfile
import threading
from contextlib import contextmanager

import pytest

from segutils.course import kit, kit_unpack, readiness
from segutils.course.data import prefetch_encoder_weights, verify
from segutils.course.downloads import fetch
from segutils.course.mirror import check_mirror, make_server
from segutils.data.registry import read_manifest
from segutils.models import weights

WEIGHTS_NAME = "resnet34_imagenet_1000_no_top.h5"
FAKE_WEIGHTS = b"HDF5 stand-in for the ImageNet encoder" * 100


@pytest.fixture
def fake_encoder(monkeypatch, tmp_path):
    """The resnet34 ImageNet weights are a self-made file; its only other origin is unreachable."""
    info = {"name": WEIGHTS_NAME, "url": "http://127.0.0.1:9/unreachable.h5",
            "md5": hashlib.md5(FAKE_WEIGHTS).hexdigest()}
    monkeypatch.setattr(weights, "imagenet_weights_info", lambda backbone: info if backbone == "resnet34" else None)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-instructor"))
    monkeypatch.delenv("SEGUTILS_MIRROR", raising=False)
    monkeypatch.delenv("SEGUTILS_DATA_DIR", raising=False)
    return info


@pytest.fixture
def instructor_data(shared_data, tmp_path, fake_encoder):
    """A data folder with membrane (copied through the verified download) and the fake weights."""
    data = tmp_path / "instructor-data"
    fetch("membrane", data_dir=data, mirror=shared_data / "membrane", progress=False)
    (data / "weights").mkdir()
    (data / "weights" / WEIGHTS_NAME).write_bytes(FAKE_WEIGHTS)
    return data


@contextmanager
def loopback(root):
    server = make_server(root, "127.0.0.1", 0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_kit_serves_the_course_to_an_empty_data_folder(instructor_data, tmp_path, monkeypatch):
    manifest = kit.build(tmp_path / "kit.tar", data_dir=instructor_data, wheels=False)
    assert manifest["datasets"] == ["membrane"] and manifest["weights"] == [WEIGHTS_NAME]
    assert manifest["wheels"] is None
    assert len(manifest["files"]) == 60 + 1 + 1  # membrane's 60 files, the weights, constraints.txt
    assert manifest["notes"] == [
        "camvid: not in " + str(instructor_data) + ", left out (run `make data` first to include it)"
    ]
    weights_entry = next(f for f in manifest["files"] if f["path"] == f"data/weights/{WEIGHTS_NAME}")
    assert weights_entry == {"path": f"data/weights/{WEIGHTS_NAME}", "size": len(FAKE_WEIGHTS),
                             "sha256": hashlib.sha256(FAKE_WEIGHTS).hexdigest()}

    root = kit_unpack.unpack(tmp_path / "kit.tar", tmp_path / "usb")
    assert root == tmp_path / "usb" / "segutils-kit"
    assert json.loads((root / "MANIFEST.json").read_text()) == manifest
    sums = (root / "SHA256SUMS").read_text().splitlines()
    assert len(sums) == 62 and f"{weights_entry['sha256']}  data/weights/{WEIGHTS_NAME}" in sums

    empty = tmp_path / "participant-data"
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-participant"))
    with loopback(root) as url:
        mirror = url + "/data/{name}/"
        assert check_mirror(mirror, names=("membrane", "weights")) == {"membrane": None, "weights": None}
        assert fetch("membrane", data_dir=empty, mirror=mirror, progress=False) == empty / "membrane"
        cached = weights.encoder_weights_path("resnet34", "imagenet", mirror=mirror)
        copied = prefetch_encoder_weights(data_dir=empty, mirror=mirror, progress=False)
    assert verify("membrane", data_dir=empty) == []
    assert len(list((empty / "membrane").rglob("*.png"))) == 60
    assert cached == str(tmp_path / "keras-participant" / "models" / WEIGHTS_NAME)
    assert open(cached, "rb").read() == FAKE_WEIGHTS
    assert copied == empty / "weights" / WEIGHTS_NAME and copied.read_bytes() == FAKE_WEIGHTS


def test_without_the_server_the_same_fetch_fails(fake_encoder, tmp_path, monkeypatch):
    """The weights of the test above came from the kit: the pinned origin is unreachable."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-participant"))
    with pytest.raises(weights.EncoderWeightsError, match="Could not download the ImageNet weights") as err:
        weights.encoder_weights_path("resnet34", "imagenet", mirror="http://127.0.0.1:9/data/{name}/")
    # the path fix names both entry points (unet-resnet34 is built by build_model, not build_linknet)
    assert (f"3. or pass its path as encoder_weights='/path/to/{WEIGHTS_NAME}' (build_model and build_linknet take "
            "it);") in str(err.value)


def test_check_mirror_names_what_it_does_not_serve(instructor_data, tmp_path):
    kit.build(tmp_path / "kit.tar", data_dir=instructor_data, wheels=False)
    root = kit_unpack.unpack(tmp_path / "kit.tar")
    with loopback(root) as url:
        found = check_mirror(url + "/data/{name}/")
    assert found["membrane"] is None and found["weights"] is None
    first = read_manifest("camvid.tsv")[1][0].path
    assert found["camvid"] == f"{url}/data/camvid/{first}: HTTPError: File not found"
    assert check_mirror(None) == {}


def test_the_wheel_step_is_injected_and_its_wheels_are_listed(fake_encoder, tmp_path):
    calls = []

    def fake_pip(constraints, dest, platforms, python_version):
        calls.append((constraints.name, platforms, python_version))
        (dest / "segmentation_models-1.0.1-py3-none-any.whl").write_bytes(b"wheel")

    manifest = kit.build(tmp_path / "kit.tar", data_dir=tmp_path / "nothing", wheels=True,
                         platforms=["macosx_11_0_arm64"], python_version="3.12", download=fake_pip)
    assert calls == [("constraints.txt", ["macosx_11_0_arm64"], "3.12")]
    assert manifest["wheels"] == {"platforms": ["macosx_11_0_arm64"], "python_version": "3.12"}
    assert [f["path"] for f in manifest["files"]] == [
        "constraints.txt",
        "wheels/segmentation_models-1.0.1-py3-none-any.whl",
    ]
    assert manifest["weights"] == [] and manifest["datasets"] == []
    assert "encoder weights: none found" in manifest["notes"][-1]
    with tarfile.open(tmp_path / "kit.tar") as tar:
        assert "segutils-kit/wheels/segmentation_models-1.0.1-py3-none-any.whl" in tar.getnames()


def test_the_default_platforms_include_tensorflows_manylinux_2_27():
    assert "manylinux_2_27_x86_64" in kit.DEFAULT_PLATFORMS and "manylinux2014_x86_64" in kit.DEFAULT_PLATFORMS


def test_pip_download_failure_says_what_to_do(monkeypatch, tmp_path):
    class Done:
        returncode, stderr = 1, "ERROR: No matching distribution found for tensorflow==2.21.0"

    seen = []
    monkeypatch.setattr(kit.subprocess, "run", lambda cmd, **kw: seen.append(cmd) or Done())
    with pytest.raises(kit_unpack.KitError, match="(?s)No matching distribution found.*or build with --no-wheels"):
        kit.pip_download(tmp_path / "constraints.txt", tmp_path, ["win_amd64"], "3.11")
    assert seen[0][-9:] == ["-r", str(tmp_path / "constraints.txt"), "--only-binary=:all:", "--python-version",
                            "3.11", "-d", str(tmp_path), "--platform", "win_amd64"]


def test_a_requested_dataset_must_be_complete(fake_encoder, tmp_path):
    (tmp_path / "data" / "membrane").mkdir(parents=True)
    with pytest.raises(kit_unpack.KitError, match=r"membrane in .* fails its manifest \(60 of 60 files, e\.g\. "):
        kit.build(tmp_path / "kit.tar", data_dir=tmp_path / "data", datasets=["membrane"], wheels=False)
    assert not (tmp_path / "kit.tar").exists() and not (tmp_path / "kit.tar.part").exists()


def test_damaged_weights_are_refused(fake_encoder, tmp_path):
    (tmp_path / "data" / "weights").mkdir(parents=True)
    (tmp_path / "data" / "weights" / WEIGHTS_NAME).write_bytes(b"truncated")
    with pytest.raises(kit_unpack.KitError, match="does not match the md5 .* delete it and run `make data`"):
        kit.build(tmp_path / "kit.tar", data_dir=tmp_path / "data", wheels=False)


def test_a_damaged_copy_is_caught(instructor_data, tmp_path):
    kit.build(tmp_path / "kit.tar", data_dir=instructor_data, wheels=False)
    root = kit_unpack.unpack(tmp_path / "kit.tar")
    assert kit_unpack.verify(root) == []
    (root / "data" / "membrane" / "train" / "label" / "7.png").write_bytes(b"x")
    (root / "constraints.txt").unlink()
    damaged = "data/membrane/train/label/7.png: size or SHA-256 differs from MANIFEST.json"
    assert kit_unpack.verify(root) == ["constraints.txt: missing", damaged]
    assert kit.main(["verify", str(root)]) == 1


def test_readiness_without_a_mirror_is_a_green_optional_row(monkeypatch):
    monkeypatch.delenv("SEGUTILS_MIRROR", raising=False)
    check = readiness._mirror()
    assert (check.ok, check.required) == (True, False)
    assert check.detail == "SEGUTILS_MIRROR not set: files come from their pinned sources"


def test_readiness_checks_a_participant_against_the_kit(instructor_data, tmp_path, monkeypatch):
    kit.build(tmp_path / "kit.tar", data_dir=instructor_data, wheels=False)
    root = kit_unpack.unpack(tmp_path / "kit.tar")
    monkeypatch.setenv("SEGUTILS_PROFILE", "cpu")  # membrane and the ImageNet encoder
    with loopback(root) as url:
        monkeypatch.setenv("SEGUTILS_MIRROR", url + "/data/{name}/")
        check = readiness._mirror()
        assert "_mirror" in [c.__name__ for c in readiness.CHECKS]
        assert check.ok and check.required
        assert check.detail.startswith(f"{url}/data/{{name}}/ serves membrane, weights; not camvid (first problem: ")
        monkeypatch.setenv("SEGUTILS_MIRROR", url + "/{name}/")  # the kit's root, not its data/ folder
        wrong = readiness._mirror()
    assert not wrong.ok and wrong.detail.startswith(f"{url}/{{name}}/ serves nothing; not membrane, camvid, weights")
    assert "python -m segutils.course.kit serve" in wrong.fix


def test_readiness_with_a_dead_mirror_fails_fast(fake_encoder, monkeypatch):
    monkeypatch.setenv("SEGUTILS_MIRROR", "http://127.0.0.1:9/data/{name}/")
    found = check_mirror()
    assert set(found) == {"membrane", "camvid", "weights"}
    assert all("unreachable (URLError" in problem for problem in found.values())
    check = readiness._mirror()
    assert not check.ok and check.required and "serves nothing" in check.detail


def test_weights_in_the_keras_cache_go_into_the_kit(fake_encoder, tmp_path, monkeypatch):
    cache = tmp_path / "keras-instructor" / "models"
    cache.mkdir(parents=True)
    (cache / WEIGHTS_NAME).write_bytes(FAKE_WEIGHTS)
    (cache / "some_other_model.h5").write_bytes(b"not the course's")
    files, notes = kit.collect(tmp_path / "no-data")
    assert files == {f"data/weights/{WEIGHTS_NAME}": cache / WEIGHTS_NAME}
    assert notes[:2] == [f"{name}: not in {tmp_path / 'no-data'}, left out (run `make data` first to include it)"
                         for name in ("membrane", "camvid")]


# ---- issue 16, item 4: a damaged archive replaces nothing, and says so in one line --------------------


def _small_kit(tmp_path, name="kit.tar", text=b"membrane pixels", manifest=None, members=()):
    """A kit archive of one data file (and ``members``: extra ``(name, bytes)``), built by hand in ``tmp_path``."""
    files = {"data/membrane/a.png": text}
    listing = [{"path": p, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for p, b in files.items()]
    manifest = json.dumps({"format": "segutils-kit/1", "files": listing}).encode() if manifest is None else manifest
    archive = tmp_path / name
    with tarfile.open(archive, "w") as tar:
        for member, data in [("segutils-kit/MANIFEST.json", manifest)] + [
                (f"segutils-kit/{p}", b) for p, b in files.items()] + list(members):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


def _one_error_line(capsys, argv) -> str:
    assert kit.main(argv) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    return err.strip()


def _tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_verify_of_a_truncated_archive_is_one_error_line_and_leaves_no_half_folder(tmp_path, capsys):
    archive = _small_kit(tmp_path, text=b"x" * 5000)
    archive.write_bytes(archive.read_bytes()[:3000])  # cut inside the data file
    assert _one_error_line(capsys, ["verify", str(archive)]) == (
        f"error: {archive} cannot be unpacked (ReadError: unexpected end of data; truncated or not a kit?): "
        "copy it again")
    assert _tree(tmp_path) == ["kit.tar"]


def test_a_tampered_archive_replaces_nothing_of_the_good_kit_beside_it(tmp_path, capsys):
    good = kit_unpack.unpack(_small_kit(tmp_path, "good.tar"), tmp_path)
    tampered = _small_kit(tmp_path, "kit.tar")
    tampered.write_bytes(tampered.read_bytes().replace(b"membrane pixels", b"membrane pixelz"))
    assert _one_error_line(capsys, ["verify", str(tampered)]) == (
        f"error: {tampered} is damaged (1 bad file, e.g. data/membrane/a.png: size or SHA-256 differs from "
        "MANIFEST.json): copy it again.")
    with pytest.raises(kit_unpack.KitError, match="is damaged"):
        kit_unpack.unpack(tampered, tmp_path)
    assert (good / "data/membrane/a.png").read_bytes() == b"membrane pixels"
    assert _tree(tmp_path) == sorted(["good.tar", "kit.tar", "segutils-kit", "segutils-kit/MANIFEST.json",
                                      "segutils-kit/data", "segutils-kit/data/membrane",
                                      "segutils-kit/data/membrane/a.png"])


def test_a_good_archive_replaces_the_kit_beside_it_once_it_checks(tmp_path):
    kit_unpack.unpack(_small_kit(tmp_path, "old.tar", text=b"old"), tmp_path)
    root = kit_unpack.unpack(_small_kit(tmp_path, "new.tar", text=b"new pixels"), tmp_path, replace=True)
    assert (root / "data/membrane/a.png").read_bytes() == b"new pixels"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".kit-")] == []


@pytest.mark.parametrize("member", ["segutils-kit/../escaped.txt", "../escaped.txt", "/tmp/escaped.txt"])
def test_a_path_traversal_member_is_one_error_line_and_nothing_is_written(tmp_path, capsys, member):
    archive = _small_kit(tmp_path, members=[(member, b"evil")])
    assert _one_error_line(capsys, ["verify", str(archive)]) == (
        f"error: {archive} holds {member!r}, which is not a file under segutils-kit/ (a path outside the kit, "
        "or a link): refused; copy the kit from its builder again")
    assert _tree(tmp_path) == ["kit.tar"] and not (tmp_path.parent / "escaped.txt").exists()


@pytest.mark.parametrize(("manifest", "found"), [
    (b"{not json", "JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    (b'{"format": "segutils-kit/1"}', "KeyError: 'files'"),
    (b'{"files": [{"path": "../../outside", "size": 1, "sha256": "0"}]}', None),
], ids=["not_json", "no_files", "a_path_outside"])
def test_a_malformed_manifest_is_one_error_line(tmp_path, capsys, manifest, found):
    archive = _small_kit(tmp_path, manifest=manifest)
    expected = (f"MANIFEST.json is unreadable or malformed ({found}): copy the kit again, or rebuild it with "
                "`python -m segutils.course.kit build`" if found else
                "MANIFEST.json lists '../../outside', which is not a file inside the kit (each entry is a relative "
                "path, a size and a SHA-256): copy the kit again")
    assert _one_error_line(capsys, ["verify", str(archive)]) == f"error: {archive}: {expected}"
    assert _tree(tmp_path) == ["kit.tar"]


@pytest.mark.parametrize(("name", "what"), [("membrain", "is not a dataset"),
                                            ("Shapes", "needs no files (generated, or your own folder)")])
def test_a_dataset_the_kit_cannot_pack_is_one_error_line(fake_encoder, tmp_path, capsys, name, what):
    argv = ["build", "--no-wheels", "--dataset", name, "--out", str(tmp_path / "kit.tar")]
    assert _one_error_line(capsys, argv) == (
        f"error: --dataset {name} {what}: a kit packs the downloaded datasets, membrane, camvid")
    assert _tree(tmp_path) == []


def test_serve_on_port_0_prints_the_port_the_system_picked(tmp_path, capsys, monkeypatch):
    servers = []

    def interrupted(root, host, port):  # the real server, then Ctrl-C at once
        servers.append(make_server(root, host, port, quiet=True))
        servers[0].serve_forever = lambda: (_ for _ in ()).throw(KeyboardInterrupt)
        return servers[0]

    monkeypatch.setattr(kit, "make_server", interrupted)
    assert kit.main(["serve", str(tmp_path), "--port", "0", "--bind", "127.0.0.1"]) == 0
    port = servers[0].server_address[1]
    assert port != 0
    assert f"export SEGUTILS_MIRROR=http://127.0.0.1:{port}/data/{{name}}/\n" in capsys.readouterr().out


def test_serve_on_an_unknown_address_says_to_fix_bind_not_the_port(tmp_path, capsys, monkeypatch):
    def unknown(root, host, port):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(kit, "make_server", unknown)
    assert _one_error_line(capsys, ["serve", str(tmp_path), "--bind", "laptop.local"]) == (
        "error: cannot serve on laptop.local (Name or service not known): give --bind an address of this machine, "
        "e.g. 127.0.0.1, or leave it out to serve on every network")
