"""fit against `convlab bench` on the same workloads, alternating, fastest of N each
(not a test: a measurement; the machine is shared, so compare only within one sitting).

    python python/tests/fit_vs_bench.py [RUNS] [CONVLAB] [WORKLOAD,...]
"""

import json
import subprocess
import sys
import tempfile
import time

import numpy as np

import convlab_rs as cl

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
convlab = sys.argv[2] if len(sys.argv) > 2 else "target/release/convlab"
only = sys.argv[3].split(",") if len(sys.argv) > 3 else None
X, y, _, _ = cl.data.load("fashion-mnist")
P, py_, _, _ = cl.data.load("pattern1d")
work = {
    "mnist-lab": (lambda: cl.Model("mnist-lab", seed=0), X, y, "sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)", 1, 100, "fashion-mnist"),
    "simplecnn-b16": (lambda: cl.Model("simplecnn", seed=0), X, y, "adam(lr=1e-3)", 1, 16, "fashion-mnist"),
    "pattern1d": (lambda: cl.Model("pattern1d", seed=0), P, py_, "sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)", 500, None, "pattern1d"),
}


def cli_train_epochs(name, opt, epochs, batch, data):
    """`convlab train` of the same run: the sum of its epochs' seconds (the same loop as fit)."""
    with tempfile.TemporaryDirectory() as d:
        args = [convlab, "train", "--data", data, "--model", name.split("-b")[0], "--optimizer", opt,
                "--epochs", str(epochs), "--batch-size", str(batch or "full"), "--out", d + "/run", "--test-fraction", "0.5"]
        subprocess.run(args, capture_output=True, check=True)
        lines = [json.loads(l) for l in open(d + "/run/metrics.jsonl")]
        # Its epochs' seconds include the test evaluation; fit here has no test set.
        return sum(l["seconds"] for l in lines)


print("fit: Model.fit, whole call; its epochs: the seconds fit's history records;")
print("train: convlab train's epochs (with a test evaluation each); bench: convlab bench (fixed order, no gather)")
for name, (make, X_, y_, opt, epochs, batch, data) in work.items():
    if only and name not in only:
        continue
    fit_times, epoch_times, bench_times, train_times = [], [], [], []
    for _ in range(runs):
        m = make()
        t = time.perf_counter()
        h = m.fit(X_, y_, optimizer=opt, epochs=epochs, batch_size=batch, progress=False)
        fit_times.append(time.perf_counter() - t)
        epoch_times.append(sum(h["seconds"]))
        out = subprocess.run([convlab, "bench", "--workload", name, "--runs", "1", "--json"], capture_output=True, text=True, check=True)
        bench_times.append(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
        train_times.append(cli_train_epochs(name, opt, epochs, batch, data))
    f, e, b, t = min(fit_times), min(epoch_times), min(bench_times), min(train_times)
    print(f"{name:15s} fit {f:.3f} s (its epochs {e:.3f} s)   train {t:.3f} s   bench {b:.3f} s   "
          f"fit/bench {f / b:.2f}   fit epochs/bench {e / b:.2f}")
