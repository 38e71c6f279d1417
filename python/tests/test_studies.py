"""cl.sweep, cl.simulate and cl.recover against the CLI: the same library entries, the same results."""

import json
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import convlab_rs as cl


def test_sweep_returns_the_runs_and_summary_the_cli_writes(cli, tmp_path):
    kw = dict(data="pattern1d", model="conv1d(4,k=5,p=2) relu maxpool1d(20) flatten linear(1)", epochs=30,
              batch_size="full", optimizer="sgd(lr=0.05,momentum=0.9)", rng="numpy")
    r = cl.sweep(grid={"filters": [2, 3]}, seeds=3, out=tmp_path / "py", jobs=2, progress=False, **kw)
    assert [run["point"] for run in r["runs"]] == [{"filters": "2"}] * 3 + [{"filters": "3"}] * 3
    assert [run["seed"] for run in r["runs"]] == [0, 1, 2] * 2
    assert [s["runs"] for s in r["summary"]] == [3, 3]
    assert r["success"] == "train_accuracy >= 1" and "grid point" in r["table"]
    cli("sweep", "--data", kw["data"], "--model", kw["model"], "--epochs", 30, "--batch-size", "full",
        "--optimizer", kw["optimizer"], "--rng", "numpy", "--grid", "filters=2,3", "--seeds", 3,
        "--out", tmp_path / "cli", "--jobs", 1, "--quiet")
    lines = (tmp_path / "cli" / "runs.jsonl").read_text().splitlines()
    assert [json.loads(l) for l in lines[1:]] == r["runs"]
    # Same sweep, same fingerprint, same files.
    assert json.loads(lines[0])["fingerprint"] == r["fingerprint"]
    assert (tmp_path / "py" / "summary.txt").read_text() == (tmp_path / "cli" / "summary.txt").read_text()
    assert sorted(p.rsplit("/", 1)[1] for p in r["files"]) == sorted(
        ["runs.jsonl", "summary.json", "summary.txt", "final-loss.png", "sweep.toml"])
    with pytest.raises(ValueError, match="--force"):
        cl.sweep(grid={"filters": [2, 3]}, seeds=3, out=tmp_path / "py", progress=False, **kw)
    with pytest.raises(ValueError, match="not a setting a sweep can vary"):
        cl.sweep(grid={"colour": [1]}, out=tmp_path / "bad", progress=False, **kw)
    with pytest.raises(TypeError, match="colour"):
        cl.sweep(colour=1, out=tmp_path / "bad")


def test_sweep_from_a_lab_prints_its_progress(tmp_path, capsys):
    r = cl.sweep(lab="pattern1d", seeds=2, epochs=20, out=tmp_path, jobs=1)
    printed = capsys.readouterr().out
    assert printed.startswith("sweep ") and "2/2 runs done" in printed and r["table"] in printed
    assert len(r["runs"]) == 2 and r["summary"][0]["point"] == {}


def test_simulate_gives_tutorial_000s_data_and_truth(cli, tmp_path):
    sim = cl.simulate(n=50, out=tmp_path / "sim")
    X, y, truth = sim["X"], sim["y"], sim["truth"]
    assert X.shape == (50, 2, 5) and X.dtype == np.float32 and y.shape == (50,)
    assert truth.spec == "conv1d(4,k=3,p=1,bias=false) flatten linear(1)"
    assert sim["info"]["seed"] == 1337 and sim["info"]["bias"] == -0.5
    # The tutorial's inputs: numpy's legacy stream seeded 1337, standard normals.
    want = np.random.RandomState(1337).normal(size=(50, 2, 5)).astype(np.float32)
    assert np.array_equal(X, want)
    # The truth without noise is close to y (noise sd 1).
    assert np.std(truth.predict(X)[:, 0] - y) < 1.5
    # The same files the CLI writes.
    cli("simulate", "--n", 50, "--out", tmp_path / "cli")
    for name in ["data.npz", "truth.safetensors", "simulation.json"]:
        assert (tmp_path / "sim" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    # Without out, nothing is written; bias and truth together are refused.
    assert cl.simulate(n=5)["folder"] is None
    with pytest.raises(ValueError, match="--bias"):
        cl.simulate(bias=1.0, truth=tmp_path / "sim" / "truth.safetensors")


def test_recover_summarises_as_the_cli_and_writes_the_report(cli, tmp_path):
    sim = cl.simulate(n=200, out=tmp_path / "sim")
    r = cl.recover(tmp_path / "sim", replicates=2, epochs=200, progress=False)
    assert len(r["replicates"]) == 2 and len(r["models"]) == 2
    # A linear truth: its filters are not identifiable, its effective map is.
    assert r["summary"]["map_r"] > 0.99 and r["summary"]["test_r2"] > 0.5
    assert r["report"].endswith("report.md") and open(r["report"]).read().startswith("# Recovery")
    # The fitted models are Models: they predict what the truth predicts (map r ≈ 1).
    assert r["models"][0].spec == sim["truth"].spec
    fitted, true = r["models"][0].predict(sim["X"])[:, 0], sim["truth"].predict(sim["X"])[:, 0]
    assert np.corrcoef(fitted, true)[0, 1] > 0.99
    cli("recover", tmp_path / "sim", "--replicates", 2, "--epochs", 200, "--out", tmp_path / "cli")
    want = json.loads((tmp_path / "cli" / "recover.json").read_text())
    assert want["replicates"] == r["replicates"] and want["summary"] == r["summary"]
    with pytest.raises(ValueError, match="--force"):
        cl.recover(tmp_path / "sim", replicates=2, epochs=200, progress=False)
    with pytest.raises(ValueError, match="simulation.json"):
        cl.recover(tmp_path, progress=False)


def test_ctrl_c_stops_a_sweep(tmp_path):
    code = textwrap.dedent(f"""
        import convlab_rs as cl
        print("ready", flush=True)
        try:
            cl.sweep(data="digits", model="digits", epochs=1000, seeds=4, jobs=2, out={str(tmp_path)!r}, progress=False)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0 and out.strip() == "interrupted", out + err
    assert not (tmp_path / "summary.json").exists()
