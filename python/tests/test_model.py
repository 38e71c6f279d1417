"""The package against the CLI and the lab: same numbers, NumPy in and out, errors as exceptions."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import convlab_rs as cl

PATTERN = "conv1d(4,k=5,p=2) relu maxpool1d(20) flatten linear(1)"
LAB_SGD = "sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)"


def test_fit_gives_the_labs_numbers_and_equals_the_cli_bit_for_bit(cli, tmp_path):
    X, y, Xt, yt = cl.data.load("pattern1d")
    m = cl.Model(PATTERN, input=(1, 20), seed=0, init="torch")
    h = m.fit(X, y, optimizer=LAB_SGD, epochs=500, progress=False)
    # Tutorial 002's printed losses (numpy seed 0 data, torch.manual_seed(0) weights).
    assert f"{h['train_loss'][0]:.4f}" == "0.5462"
    assert f"{h['train_loss'][-1]:.4f}" == "0.0095"
    run = tmp_path / "run"
    cli("train", "--data", "pattern1d", "--model", PATTERN, "--optimizer", LAB_SGD, "--batch-size", "full",
        "--epochs", 500, "--rng", "numpy", "--seed", 0, "--out", run)
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert [l["train_loss"] for l in lines] == h["train_loss"]
    # And the weights: the run's model file predicts what the Python model predicts.
    assert np.array_equal(cl.load(run).predict(Xt), m.predict(Xt))


def test_fit_reads_float32_x_without_a_copy():
    # A 256 MB X: a copy would raise the peak memory of the process by as much again.
    script = textwrap.dedent("""
        import resource, numpy as np, convlab_rs as cl
        X = np.random.default_rng(0).random((65536, 1, 1024), dtype=np.float32)
        y = X[:, 0, :1].copy()
        m = cl.Model("flatten linear(1)", input=(1, 1024), seed=0)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        m.fit(X, y, optimizer="sgd(lr=1e-4)", epochs=1, batch_size=1024, progress=False)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    grew_mb = int(out.stdout.split()[-1])
    assert grew_mb < 128, f"fit raised the peak memory by {grew_mb} MB for a 256 MB X"


def test_numpy_in_and_out():
    X, y, Xt, yt = cl.data.load("digits")
    assert X.dtype == np.float32 and X.shape[1:] == (1, 8, 8) and y.dtype == np.int64
    m = cl.Model("conv2d(8,k=3,p=1) relu maxpool2d(2) flatten linear(10)", input=(1, 8, 8), seed=1)
    # float64 (N, H, W) images and int32 labels are converted.
    h = m.fit(X[:, 0].astype(np.float64), y.astype(np.int32), epochs=3, batch_size=32, test=(Xt, yt), progress=False)
    assert len(h["test_accuracy"]) == 3 and h["test_accuracy"][-1] > 0.5
    out = m.predict(Xt)
    assert out.shape == (len(Xt), 10) and out.dtype == np.float32
    p = m.predict_proba(Xt[:5])
    assert p.shape == (5, 10) and np.allclose(p.sum(1), 1, atol=1e-6)
    e = np.exp(out[:5] - out[:5].max(1, keepdims=True))
    assert np.allclose(p, e / e.sum(1, keepdims=True), atol=1e-6)
    assert m.predict(Xt[0]).shape == (1, 10)  # one sample
    acts = m.activations(Xt[:2])
    assert [n for n, _ in acts][0] == "0 conv2d(8,k=3,p=1)" and acts[-1][1].shape == (2, 10)
    # The same forward pass on a batch of 2 instead of all: summation order may differ.
    assert np.allclose(acts[-1][1], out[:2], atol=1e-5)
    assert m.class_names == [str(d) for d in range(10)]


def test_state_dict_round_trip_and_save_load(tmp_path):
    m = cl.Model("conv2d(4,k=3) batchnorm2d relu flatten linear(3)", input=(1, 6, 6), seed=3)
    sd = m.state_dict()
    assert set(sd) >= {"0.weight", "0.bias", "1.weight", "1.running_mean", "4.weight"}
    other = cl.Model("conv2d(4,k=3) batchnorm2d relu flatten linear(3)", input=(1, 6, 6), seed=4)
    x = np.random.default_rng(0).normal(size=(5, 1, 6, 6)).astype(np.float32)
    assert not np.array_equal(other.predict(x), m.predict(x))
    other.load_state_dict(sd)
    assert np.array_equal(other.predict(x), m.predict(x))
    m.save(tmp_path / "m.safetensors")
    assert np.array_equal(cl.load(tmp_path / "m.safetensors").predict(x), m.predict(x))
    bad = dict(sd)
    bad["0.weight"] = np.zeros((4, 1, 2, 2), np.float32)
    with pytest.raises(ValueError, match="0.weight has shape"):
        other.load_state_dict(bad)


def test_errors_are_python_exceptions_with_convlabs_messages(tmp_path):
    with pytest.raises(ValueError, match="not closed"):
        cl.Model("conv2d(8,k=3", input=(1, 8, 8))
    with pytest.raises(ValueError, match="flatten"):
        cl.Model("conv2d(8,k=3) linear(10)", input=(1, 8, 8))
    m = cl.Model(PATTERN, input=(1, 20))
    with pytest.raises(ValueError, match=r"the model takes \(N, 1, 20\)"):
        m.predict(np.zeros((2, 1, 21), np.float32))
    with pytest.raises(ValueError, match="unknown data source"):
        cl.data.load("cifar10")
    with pytest.raises(ValueError, match="task is unknown"):
        m.predict_proba(np.zeros((1, 1, 20), np.float32))
    with pytest.raises(OSError):
        m.save(tmp_path / "no" / "such" / "dir" / "m.safetensors")
    with pytest.raises(ArithmeticError, match="loss became"):
        X, y, _, _ = cl.data.load("pattern1d")
        cl.Model(PATTERN, input=(1, 20)).fit(X * 1e30, y, optimizer="sgd(lr=1e10)", epochs=5, progress=False)


def test_pictures_show_inline_as_png_and_svg(tmp_path):
    X, y, _, _ = cl.data.load("digits")
    m = cl.Model("conv2d(4,k=3) relu flatten linear(10)", input=(1, 8, 8))
    h = m.fit(X, y, epochs=2, batch_size=64, progress=False)
    for fig in [cl.plot.filters(m), cl.plot.curves(h), cl.plot.activations(m, X[0], y[0])]:
        png = fig._repr_png_()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        # IHDR's width and height are the figure's.
        assert int.from_bytes(png[16:20], "big") == fig.width and int.from_bytes(png[20:24], "big") == fig.height
        assert fig._repr_svg_().lstrip().startswith("<svg") or "<svg" in fig._repr_svg_()[:200]
    cl.plot.filters(m).save(tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"


def test_load_a_run_folder(cli, tmp_path):
    run = tmp_path / "digits-run"
    cli("train", "--data", "digits", "--epochs", 1, "--out", run)
    m = cl.load(run)
    _, _, Xt, _ = cl.data.load("digits")
    p = m.predict_proba(Xt[:3])
    assert p.shape == (3, 10) and m.class_names == [str(d) for d in range(10)]


def test_the_tutorial_002_replay_runs(tmp_path):
    """examples/python/tutorial_002.py prints the notebook's losses (part 2 needs Fashion-MNIST)."""
    script = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python", "tutorial_002.py")
    p = subprocess.run([sys.executable, script, str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Epoch 1 had training loss 0.5462" in p.stdout and "Epoch 500 had training loss 0.0095" in p.stdout
    assert (tmp_path / "pattern1d-filters.png").read_bytes()[:4] == b"\x89PNG"
    if "part 2 skipped" in p.stdout:
        print("tutorial 002 part 2 skipped: Fashion-MNIST is not installed")
    else:
        assert "Epoch 5 had training loss" in p.stdout


def test_schedule_early_stop_and_clipping_as_the_cli(cli, tmp_path):
    X, y, Xt, yt = cl.data.load("digits")
    settings = dict(optimizer="sgd(lr=0.1,momentum=0.9)", epochs=6, batch_size=64, schedule="cosine(t_max=6)",
                    clip_grad_norm=1.0)
    m = cl.Model("digits", seed=5, init="convlab")
    h = m.fit(X, y, test=(Xt, yt), progress=False, **settings)
    assert h["lr"][0] == 0.1 and h["lr"][-1] < h["lr"][1]
    assert all(v is not None for v in h["last_batch_loss"])
    np.savez(tmp_path / "train.npz", X=X, y=y)
    np.savez(tmp_path / "test.npz", X=Xt, y=yt)
    run = tmp_path / "run"
    cli("train", "--data", f"npz:{tmp_path / 'train.npz'},{tmp_path / 'test.npz'}", "--model", "digits", "--seed", 5,
        "--optimizer", settings["optimizer"], "--epochs", 6, "--batch-size", 64, "--schedule", "cosine(t_max=6)",
        "--clip-grad-norm", 1.0, "--out", run)
    lines = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert [l["train_loss"] for l in lines] == h["train_loss"]
    assert [l["lr"] for l in lines] == h["lr"]
    # Early stopping on a metric that cannot improve for long: the best epoch's weights are kept.
    m2 = cl.Model("digits", seed=5, init="convlab")
    h2 = m2.fit(X, y, test=(Xt, yt), optimizer="sgd(lr=3.0)", epochs=30, batch_size=64,
                early_stop="test_loss,patience=2", progress=False)
    stop = h2["early_stop"]
    assert stop is not None and stop["stopped_at_epoch"] == len(h2["epoch"]) < 30
    assert stop["best"] == min(h2["test_loss"])


def test_ctrl_c_raises_keyboard_interrupt_and_keeps_the_last_step(tmp_path):
    code = textwrap.dedent("""
        import sys, numpy as np, convlab_rs as cl
        X, y, _, _ = cl.data.load("digits")
        m = cl.Model("conv2d(64,k=3,p=1) relu conv2d(64,k=3,p=1) relu flatten linear(10)", input=(1, 8, 8))
        before = m.state_dict()["0.weight"].copy()
        print("ready", flush=True)
        try:
            m.fit(X, y, epochs=100000, batch_size=8, progress=False)
        except KeyboardInterrupt:
            changed = not np.array_equal(before, m.state_dict()["0.weight"])
            out = m.predict(X[:2])
            print("interrupted", changed, bool(np.isfinite(out).all()), flush=True)
            sys.exit(0)
        print("not interrupted", flush=True)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.5)  # well into fit
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, out + err
    assert out.strip() == "interrupted True True", out + err


def test_lab_from_python_prints_the_notebook(tmp_path, capsys):
    runs = cl.lab("pattern1d", out=tmp_path)
    printed = capsys.readouterr().out
    assert "Epoch 1 had training loss 0.5462" in printed and "Epoch 500 had training loss 0.0095" in printed
    assert [os.path.basename(r["folder"]) for r in runs] == ["lab-pattern1d-3filters", "lab-pattern1d"]
    assert f"{runs[1]['history']['train_loss'][-1]:.4f}" == "0.0095"
    with pytest.raises(ValueError, match="--force"):
        cl.lab("pattern1d", out=tmp_path)


def test_load_a_pt_file():
    here = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "pt")
    whole = cl.load(os.path.join(here, "whole_module_pattern1d.pt"), input=(1, 20))
    assert whole.spec == "conv1d(4,k=5,p=2) relu maxpool1d(20) flatten linear(1)"
    sd = cl.load(os.path.join(here, "mnist_lab_state_dict.pt"), spec="mnist-lab")
    assert sd.input_shape == (1, 28, 28)
    with pytest.raises(ValueError, match="os.system"):
        cl.load(os.path.join(here, "malicious.pt"))
    assert not os.path.exists("/tmp/convlab-pwned-by-pickle")


def test_to_torch_and_from_torch_round_trip():
    torch = pytest.importorskip("torch", reason="to_torch/from_torch need PyTorch (3 GB; CI does not install it)")
    m = cl.Model("conv2d(4,k=3,p=1) batchnorm2d relu maxpool2d(2) flatten dropout linear(3)", input=(2, 6, 6), seed=1)
    X = np.random.default_rng(1).normal(size=(4, 2, 6, 6)).astype(np.float32)
    seq = m.to_torch().eval()
    with torch.no_grad():
        out = seq(torch.from_numpy(X)).numpy()
    assert np.allclose(out, m.predict(X), atol=1e-5)
    back = cl.Model.from_torch(seq, input=(2, 6, 6))
    assert back.spec == m.spec
    assert np.array_equal(back.predict(X), m.predict(X))


def test_explain_is_exact_on_a_linear_model():
    m = cl.Model("flatten linear(3)", input=(1, 4, 4), seed=2)
    x = np.random.default_rng(2).normal(size=(1, 1, 4, 4)).astype(np.float32)
    w = m.state_dict()["1.weight"]
    e = cl.explain(m, x, method="input-x-gradient", target=1)
    assert e["target"] == 1 and e["map"].shape == (1, 4, 4)
    assert np.allclose(e["gradient"].ravel(), w[1], atol=1e-6)
    assert np.allclose(e["map"].ravel(), (w[1] * x.ravel()), atol=1e-6)
    assert e["figure"]._repr_png_()[:4] == b"\x89PNG"
    X, y, _, _ = cl.data.load("lines")
    lines = cl.Model("lines", seed=0)
    lines.fit(X, y, epochs=1, batch_size=10, progress=False)
    cam = cl.explain(lines, X[0], method="gradcam")
    assert cam["map"].ndim == 2 and cam["target"] == int(np.argmax(cam["outputs"]))
    with pytest.raises(ValueError, match="unknown|method"):
        cl.explain(lines, X[0], method="lime")
