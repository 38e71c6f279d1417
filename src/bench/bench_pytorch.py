"""convlab bench's workloads in PyTorch, for `convlab bench --compare-pytorch` (which runs this
script and alternates it with its own runs). One JSON object per line:
{"workload", "seconds", "samples_per_second", "threads"}; for infer, seconds for the 10000 images.

    python bench_pytorch.py WORKLOAD THREADS

The images are uniform random 28x28 (the arithmetic does not depend on the values); one
warm-up step is outside the clock, as in convlab bench.
"""

import json
import sys
import time

import torch
from torch import nn

name, threads = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)


def simplecnn():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1568, 32), nn.ReLU(), nn.Linear(32, 10))


def sgd(m):
    return torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)


def adam(m):
    return torch.optim.Adam(m.parameters(), lr=1e-3)


if name == "pattern1d":
    model = nn.Sequential(nn.Conv1d(1, 4, 5, padding=2), nn.ReLU(), nn.MaxPool1d(20), nn.Flatten(), nn.Linear(4, 1))
    X, y = torch.rand(75, 1, 20), torch.randint(0, 2, (75, 1)).float()
    opt, loss_fn, batch, epochs = sgd(model), nn.BCEWithLogitsLoss(), 75, 500
elif name == "mnist-lab":
    model = nn.Sequential(nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1568, 10))
    X, y = torch.rand(60000, 1, 28, 28), torch.randint(0, 10, (60000,))
    opt, loss_fn, batch, epochs = sgd(model), nn.CrossEntropyLoss(), 100, 1
elif name in ("simplecnn-b16", "simplecnn-b128"):
    model = simplecnn()
    X, y = torch.rand(60000, 1, 28, 28), torch.randint(0, 10, (60000,))
    opt, loss_fn, batch, epochs = adam(model), nn.CrossEntropyLoss(), int(name.split("-b")[1]), 1
elif name == "infer":
    model = simplecnn().eval()
    X = torch.rand(10000, 1, 28, 28)
    with torch.no_grad():
        model(X[:1000])
        start = time.perf_counter()
        for b in range(0, len(X), 1000):
            model(X[b:b + 1000])
        secs = time.perf_counter() - start
    print(json.dumps({"workload": name, "seconds": secs, "samples_per_second": len(X) / secs, "threads": threads}))
    sys.exit(0)
else:
    sys.exit(f"unknown workload {name}")


def step(b):
    opt.zero_grad()
    loss = loss_fn(model(X[b:b + batch]), y[b:b + batch])
    loss.backward()
    opt.step()


step(0)
start = time.perf_counter()
for _ in range(epochs):
    for b in range(0, len(X), batch):
        step(b)
secs = time.perf_counter() - start
print(json.dumps({"workload": name, "seconds": secs, "samples_per_second": len(X) * epochs / secs, "threads": threads}))
