"""fit against `convlab bench` on the same workloads, alternating, fastest of N each
(not a test: a measurement; the machine is shared, so compare only within one sitting).

    python python/tests/fit_vs_bench.py [RUNS] [CONVLAB]
"""

import json
import subprocess
import sys
import time

import numpy as np

import convlab_rs as cl

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
convlab = sys.argv[2] if len(sys.argv) > 2 else "target/release/convlab"
X, y, _, _ = cl.data.load("fashion-mnist")
P, py_, _, _ = cl.data.load("pattern1d")
work = {
    "mnist-lab": (lambda: cl.Model("mnist-lab", seed=0), X, y, "sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)", 1, 100),
    "simplecnn-b16": (lambda: cl.Model("simplecnn", seed=0), X, y, "adam(lr=1e-3)", 1, 16),
    "pattern1d": (lambda: cl.Model("pattern1d", seed=0), P, py_, "sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)", 500, None),
}
for name, (make, X_, y_, opt, epochs, batch) in work.items():
    fit_times, bench_times = [], []
    for _ in range(runs):
        m = make()
        t = time.perf_counter()
        m.fit(X_, y_, optimizer=opt, epochs=epochs, batch_size=batch, progress=False)
        fit_times.append(time.perf_counter() - t)
        out = subprocess.run([convlab, "bench", "--workload", name, "--runs", "1", "--json"], capture_output=True, text=True, check=True)
        bench_times.append(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
    f, b = min(fit_times), min(bench_times)
    print(f"{name:15s} fit {f:.3f} s   bench {b:.3f} s   fit/bench {f / b:.2f}")
