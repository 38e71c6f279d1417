#!/usr/bin/env python3
"""Regenerate convlab's PyTorch reference fixtures (tests/fixtures/).

    python tools/make_fixtures.py OUT                      # fresh files into OUT/{torch,pt}
    python tools/make_fixtures.py OUT --inputs-from tests/fixtures
                                                           # same, random inputs read from the committed files
    python tools/make_fixtures.py OUT --compare tests/fixtures
                                                           # regenerate, then compare with the committed files
    python tools/make_fixtures.py OUT --compare-only tests/fixtures   # compare two existing folders

Needs the Python standard library, numpy, torch (CPU is enough) and safetensors. The committed
files were written by torch 2.15.0 (their `torch` metadata key). Fashion-MNIST (the first 2000
training images) is read from IDX files in --fashion-mnist DIR (Debian: dataset-fashion-mnist);
without them the two Fashion-MNIST trainings and the files derived from them are skipped.

Seeding. What the tutorials and the committed files fix is reproduced exactly: numpy's seeds for
the data generators (pattern1d: 0, sim1d: 1337, lines: 1) and torch.manual_seed before building
each nn.Sequential (see SEEDS). The other random tensors of the committed layer, loss, optimizer,
explain and shared-storage cases (inputs, weights, upstream gradients) came from a seeding that
is not recorded in the files; this script draws them from torch.Generator().manual_seed(crc32 of
the case's group name). A fresh run therefore writes the same names, shapes, dtypes and case
metadata with different random values; with --inputs-from DIR those given tensors are read from
DIR instead and every computed tensor comes out as in the committed files.
"""
import argparse
import gzip
import io
import json
import os
import pickletools
import sys
import zipfile
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

SUBDIRS = ("torch", "pt")

# torch.manual_seed(...) right before each nn.Sequential is built.
SEEDS = {
    "pattern1d": 0,        # the lab's model: init is torch.manual_seed(0)
    "sim1d": 1,
    "mnist_lab": 2,
    "simplecnn": 3,
    "pt_mnist_lab": 11,    # pt/mnist_lab_state_dict and its dataparallel/float64/legacy copies
    "pt_simplecnn": 12,    # pt/simplecnn_checkpoint (then one Adam step)
    "pt_pattern1d": 13,    # pt/whole_module_pattern1d
}

# ----------------------------------------------------------------------------------------------
# Helpers: writing, random draws, convlab's model notation


def write(out, sub, name, tensors, case=None):
    """safetensors.torch.save_file(tensors, path, metadata={"case": json, "torch": version})."""
    os.makedirs(os.path.join(out, sub), exist_ok=True)
    meta = None
    if case is not None:
        meta = {"case": json.dumps(case, sort_keys=True), "torch": torch.__version__}
    tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(out, sub, name + ".safetensors"), metadata=meta)
    print(f"wrote {sub}/{name}.safetensors")


class Draws:
    """Random tensors of one case group: torch.randn from torch.Generator().manual_seed(crc32(group)),
    unless --inputs-from supplied the tensor under that name (then it is used as given)."""

    def __init__(self, group, given=None):
        self.g = torch.Generator().manual_seed(zlib.crc32(group.encode()))
        self.given = given or {}

    def randn(self, key, shape, scale=1.0, shift=0.0):
        if key in self.given:
            return self.given[key].clone()
        return torch.randn(tuple(shape), generator=self.g) * scale + shift

    def randint(self, key, high, shape):
        if key in self.given:
            return self.given[key].clone()
        return torch.randint(0, high, tuple(shape), generator=self.g)

    def bernoulli(self, key, shape):
        if key in self.given:
            return self.given[key].clone()
        return torch.randint(0, 2, tuple(shape), generator=self.g).float()


def parse_spec(spec):
    """'conv2d(8,k=5,p=2) relu maxpool2d(2)' -> [('conv2d', [8], {'k': 5, 'p': 2}), ('relu', [], {}), ...]"""
    layers = []
    for tok in spec.split():
        name, args, kw = tok, [], {}
        if "(" in tok:
            name, rest = tok[:-1].split("(", 1)
            for a in rest.split(","):
                if "=" in a:
                    k, v = a.split("=")
                    kw[k] = {"false": False, "true": True}.get(v, v)
                    if isinstance(kw[k], str):
                        kw[k] = float(v) if "." in v or "e" in v else int(v)
                else:
                    args.append(a)
        layers.append((name, args, kw))
    return layers


def build(spec, input_shape):
    """nn.Sequential for convlab's notation, built layer by layer in order (so torch.manual_seed
    before it gives PyTorch's default initial weights); sizes follow from input_shape (C, ...)."""
    x = torch.zeros((1,) + tuple(input_shape))
    mods = []
    for name, args, kw in parse_spec(spec):
        c = x.shape[1]
        if name in ("conv1d", "conv2d"):
            cls = nn.Conv1d if name == "conv1d" else nn.Conv2d
            m = cls(c, int(args[0]), kw["k"], stride=kw.get("s", 1), padding=kw.get("p", 0),
                    dilation=kw.get("d", 1), bias=kw.get("bias", True))
        elif name in ("maxpool1d", "maxpool2d", "avgpool1d", "avgpool2d"):
            cls = {"maxpool1d": nn.MaxPool1d, "maxpool2d": nn.MaxPool2d, "avgpool1d": nn.AvgPool1d,
                   "avgpool2d": nn.AvgPool2d}[name]
            m = cls(int(args[0]), stride=kw.get("s"), padding=kw.get("p", 0))
        elif name == "adaptivemaxpool1d":
            m = nn.AdaptiveMaxPool1d(int(args[0]))
        elif name == "adaptiveavgpool2d":
            m = nn.AdaptiveAvgPool2d(tuple(int(v) for v in args[0].split("x")) if "x" in args[0] else int(args[0]))
        elif name == "batchnorm1d":
            m = nn.BatchNorm1d(c)
        elif name == "batchnorm2d":
            m = nn.BatchNorm2d(c)
        elif name == "linear":
            m = nn.Linear(x.shape[1], int(args[0]))
        else:
            m = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "flatten": nn.Flatten}[name]()
        mods.append(m)
        with torch.no_grad():
            m.eval()
            x = m(x)
            m.train()
    return nn.Sequential(*mods)


def state(model):
    """The state dict without BatchNorm's num_batches_tracked (the fixtures leave it out)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


# ----------------------------------------------------------------------------------------------
# kind = layer


def make_module(case):
    """The PyTorch module of a layer case, e.g. nn.Conv2d(in, out, kernel_size, stride, padding,
    dilation, bias=...), nn.MaxPool2d(kernel_size, stride, padding), nn.BatchNorm1d(n, eps, momentum),
    nn.AdaptiveAvgPool2d(output_size), nn.LeakyReLU(negative_slope)."""
    L = case["layer"]
    if L == "linear":
        return nn.Linear(case["in_features"], case["out_features"], bias=case["bias"])
    if L in ("conv1d", "conv2d"):
        cls = nn.Conv1d if L == "conv1d" else nn.Conv2d
        return cls(case["in_channels"], case["out_channels"], tuple(case["kernel_size"]), stride=tuple(case["stride"]),
                   padding=tuple(case["padding"]), dilation=tuple(case["dilation"]), bias=case["bias"])
    if L in ("maxpool1d", "maxpool2d", "avgpool2d"):
        cls = {"maxpool1d": nn.MaxPool1d, "maxpool2d": nn.MaxPool2d, "avgpool2d": nn.AvgPool2d}[L]
        return cls(tuple(case["kernel_size"]), stride=tuple(case["stride"]), padding=tuple(case["padding"]))
    if L in ("batchnorm1d", "batchnorm2d"):
        cls = nn.BatchNorm1d if L == "batchnorm1d" else nn.BatchNorm2d
        return cls(case["num_features"], eps=case["eps"], momentum=case["momentum"])
    if L.startswith("adaptive"):
        cls = {"adaptiveavgpool1d": nn.AdaptiveAvgPool1d, "adaptiveavgpool2d": nn.AdaptiveAvgPool2d,
               "adaptivemaxpool1d": nn.AdaptiveMaxPool1d, "adaptivemaxpool2d": nn.AdaptiveMaxPool2d}[L]
        size = case["output_size"]
        return cls(size[0] if len(size) == 1 else tuple(size))
    if L == "leaky_relu":
        return nn.LeakyReLU(case["negative_slope"])
    return {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[L]()


def layer_case(name, case, given):
    """One module's forward and backward in float64 from float32 tensors:
        m = make_module(case).double(); m.train(case["train"])
        x = input.double().requires_grad_(); y = m(x); y.backward(grad_output.double())
    then input, output, grad_output, grad_input, the parameters and buffers under their PyTorch
    names, grad_<param>, and for batch norm running_mean_after / running_var_after (after forward)."""
    d = Draws(name, given)
    m = make_module(case)
    x = d.randn("input", case["input_shape"])
    t = {"input": x}
    for pname, p in m.named_parameters():
        t[pname] = d.randn(pname, p.shape, scale=0.5)
    for bname, b in m.named_buffers():
        if bname in ("running_mean", "running_var"):
            t[bname] = given.get(bname, b.detach().clone())
    m = m.double().train(case["train"])
    with torch.no_grad():
        for k, v in list(m.named_parameters()) + list(m.named_buffers()):
            if k in t:
                v.copy_(t[k].double())
    xd = x.double().requires_grad_()
    y = m(xd)
    go = d.randn("grad_output", y.shape)
    y.backward(go.double())
    t.update(output=y.float(), grad_output=go, grad_input=xd.grad.float())
    for pname, p in m.named_parameters():
        t["grad_" + pname] = p.grad.float()
    if "running_mean" in t:
        t["running_mean_after"] = m.running_mean.float()
        t["running_var_after"] = m.running_var.float()
    case = dict(case, kind="layer", output_shape=list(y.shape))
    return t, case


def conv(layer, cin, cout, k, s, p, dil, bias, shape):
    return dict(layer=layer, in_channels=cin, out_channels=cout, kernel_size=k, stride=s, padding=p,
                dilation=dil, bias=bias, input_shape=shape, train=True)


def pool(layer, k, s, p, shape):
    return dict(layer=layer, kernel_size=k, stride=s, padding=p, input_shape=shape, train=True)


def bn(layer, n, shape, train):
    return dict(layer=layer, num_features=n, eps=1e-05, momentum=0.1, input_shape=shape, train=train)


def adaptive(layer, size, shape):
    return dict(layer=layer, output_size=size, input_shape=shape, train=True)


LAYER_CASES = [
    ("torch", "relu", dict(layer="relu", input_shape=[3, 4, 5], train=True)),
    ("torch", "sigmoid", dict(layer="sigmoid", input_shape=[3, 4, 5], train=True)),
    ("torch", "tanh", dict(layer="tanh", input_shape=[3, 4, 5], train=True)),
    ("torch", "leaky_relu", dict(layer="leaky_relu", negative_slope=0.1, input_shape=[3, 4, 5], train=True)),
    ("torch", "linear", dict(layer="linear", in_features=7, out_features=3, bias=True, input_shape=[5, 7], train=True)),
    ("torch", "conv1d_basic", conv("conv1d", 2, 4, [3], [1], [1], [1], True, [3, 2, 11])),
    ("torch", "conv1d_stride_dilation", conv("conv1d", 3, 2, [5], [2], [3], [2], False, [2, 3, 17])),
    ("torch", "conv2d_basic", conv("conv2d", 3, 5, [3, 3], [1, 1], [1, 1], [1, 1], True, [2, 3, 9, 8])),
    ("torch", "conv2d_asymmetric", conv("conv2d", 2, 3, [3, 5], [2, 1], [1, 2], [1, 2], True, [2, 2, 10, 13])),
    ("torch", "conv2d_full_kernel", conv("conv2d", 1, 1, [8, 8], [1, 1], [0, 0], [1, 1], True, [3, 1, 8, 8])),
    ("torch", "conv2d_lab", conv("conv2d", 1, 8, [5, 5], [1, 1], [2, 2], [1, 1], True, [4, 1, 28, 28])),
    # SimpleCNN's second convolution, which convlab computes with Winograd F(2×2, 3×3).
    ("torch", "conv2d_winograd", conv("conv2d", 16, 32, [3, 3], [1, 1], [1, 1], [1, 1], True, [2, 16, 14, 14])),
    ("torch", "maxpool1d_full_width", pool("maxpool1d", [20], [20], [0], [5, 4, 20])),
    ("torch", "maxpool2d_k2s1", pool("maxpool2d", [2, 2], [1, 1], [0, 0], [2, 2, 10, 10])),
    ("torch", "maxpool2d_k2s2", pool("maxpool2d", [2, 2], [2, 2], [0, 0], [2, 3, 8, 9])),
    ("torch", "maxpool2d_k3s2p1", pool("maxpool2d", [3, 3], [2, 2], [1, 1], [2, 3, 11, 12])),
    ("torch", "avgpool2d_k2", pool("avgpool2d", [2, 2], [2, 2], [0, 0], [2, 3, 8, 8])),
    ("torch", "batchnorm1d_train", bn("batchnorm1d", 4, [6, 4, 5], True)),
    ("torch", "batchnorm1d_eval", bn("batchnorm1d", 4, [6, 4, 5], False)),
    ("torch", "batchnorm2d_train", bn("batchnorm2d", 3, [4, 3, 5, 6], True)),
    ("torch", "batchnorm2d_eval", bn("batchnorm2d", 3, [4, 3, 5, 6], False)),
    ("torch", "adaptiveavgpool1d_4", adaptive("adaptiveavgpool1d", [4], [3, 2, 11])),
    ("torch", "adaptiveavgpool2d_1", adaptive("adaptiveavgpool2d", [1, 1], [2, 3, 7, 6])),
    ("torch", "adaptiveavgpool2d_3x2", adaptive("adaptiveavgpool2d", [3, 2], [2, 2, 8, 7])),
    ("torch", "adaptivemaxpool1d_1", adaptive("adaptivemaxpool1d", [1], [3, 4, 20])),
    ("torch", "adaptivemaxpool2d_2", adaptive("adaptivemaxpool2d", [2, 2], [2, 3, 7, 9])),
]

# ----------------------------------------------------------------------------------------------
# kind = loss


def loss_case(name, case, given):
    """A loss's value and input gradient in float64 from float32 tensors:
        F.mse_loss(x, target, reduction=r)
        F.binary_cross_entropy_with_logits(x, target, reduction=r)
        F.cross_entropy(x, target, reduction=r)              # target: int64 class indices
        out.backward(grad_output)   # 1.0 for mean/sum, a random tensor for none
    The three reductions of one loss share input and target (drawn per loss name)."""
    loss, r = case["loss"], case["reduction"]
    d = Draws(loss, given)
    shape = case["input_shape"]
    x = d.randn("input", shape)
    if loss == "mse":
        target = d.randn("target", shape, shift=1.0)
    elif loss == "bce_with_logits":
        target = d.bernoulli("target", shape)
    else:
        target = d.randint("target", shape[1], shape[:1])
    xd = x.double().requires_grad_()
    td = target if loss == "cross_entropy" else target.double()
    fn = {"mse": F.mse_loss, "bce_with_logits": F.binary_cross_entropy_with_logits,
          "cross_entropy": F.cross_entropy}[loss]
    out = fn(xd, td, reduction=r)
    go = torch.ones(()) if r != "none" else Draws(loss + "_none", given).randn("grad_output", out.shape)
    out.backward(go.double())
    t = dict(input=x, target=target, output=out.float(), grad_output=go, grad_input=xd.grad.float())
    return t, dict(case, kind="loss")


LOSS_CASES = [("torch", f"{loss}_{r}", dict(loss=loss, reduction=r, input_shape=shape))
              for loss, shape in (("mse", [6, 1]), ("bce_with_logits", [6, 1]), ("cross_entropy", [6, 5]))
              for r in ("mean", "none", "sum")]

# ----------------------------------------------------------------------------------------------
# kind = optimizer


def optimizer_case(name, case, given):
    """One float32 parameter p (4x3) and six given gradients:
        opt = torch.optim.SGD([p], lr, momentum, dampening, weight_decay, nesterov)
              | torch.optim.Adam([p], lr, betas, eps, weight_decay) | torch.optim.AdamW(...)
        for i in range(steps): p.grad = grad_i; opt.step()   # param_after_i"""
    d = Draws(name, given)
    p = nn.Parameter(d.randn("param_initial", (4, 3)))
    t = {"param_initial": p.detach().clone()}
    if case["optimizer"] == "sgd":
        opt = torch.optim.SGD([p], lr=case["lr"], momentum=case["momentum"], dampening=case["dampening"],
                              weight_decay=case["weight_decay"], nesterov=case["nesterov"])
    else:
        cls = torch.optim.Adam if case["optimizer"] == "adam" else torch.optim.AdamW
        opt = cls([p], lr=case["lr"], betas=tuple(case["betas"]), eps=case["eps"], weight_decay=case["weight_decay"])
    for i in range(case["steps"]):
        g = d.randn(f"grad_{i}", (4, 3))
        p.grad = g.clone()
        opt.step()
        t[f"grad_{i}"] = g
        t[f"param_after_{i}"] = p.detach().clone()
    return t, dict(case, kind="optimizer")


def sgd(lr, momentum, wd, nesterov):
    return dict(optimizer="sgd", lr=lr, momentum=momentum, dampening=0.0, weight_decay=wd, nesterov=nesterov, steps=6)


def adam(kind, lr, betas, wd):
    return dict(optimizer=kind, lr=lr, betas=betas, eps=1e-08, weight_decay=wd, steps=6)


OPTIMIZER_CASES = [
    ("torch", "sgd_plain", sgd(0.1, 0.0, 0.0, False)),
    ("torch", "sgd_momentum_wd", sgd(0.05, 0.9, 0.001, False)),
    ("torch", "sgd_nesterov", sgd(0.05, 0.9, 0.0, True)),
    ("torch", "adam", adam("adam", 0.001, [0.9, 0.999], 0.0)),
    ("torch", "adam_wd", adam("adam", 0.01, [0.8, 0.99], 0.01)),
    ("torch", "adamw", adam("adamw", 0.01, [0.9, 0.999], 0.05)),
]

# ----------------------------------------------------------------------------------------------
# kind = data (the tutorials' generators)


def pattern1d_data():
    """Lab 9 (seed 002), exercise 1.1, verbatim: np.random.seed(0); for each of 75 rows
    size = randint(1,3); start = randint(0, W-size); value = choice([-1,-.5,.5,1]);
    X[i,0,start:start+size] = value; y[i] = size == 1 and value == 1."""
    np.random.seed(0)
    N, C, W = 75, 1, 20
    X, y = torch.zeros((N, C, W)), torch.zeros((N, 1))
    for i in range(N):
        size = np.random.randint(1, 3)
        start = np.random.randint(0, W - size)
        value = np.random.choice([-1.0, -0.5, 0.5, 1.0])
        X[i, 0, start:start + size] = value
        y[i] = size == 1 and float(value) == 1
    return X, y


def sim1d_data():
    """Seed 000's simulation: np.random.seed(1337); x = normal(0,1,(1000,2,5));
    w = normal(0,1,(4,2,3)); lin = normal(0,1,20); bias = -0.5;
    y = bias + (lin * flatten(conv1d(x, w, padding=1))).sum(1) + normal(0,1,1000), in float64
    (the tutorial's loop is conv1d with padding 1)."""
    np.random.seed(1337)
    x = np.random.normal(0, 1, size=[1000, 2, 5])
    w = np.random.normal(0, 1, [4, 2, 3])
    lin = np.random.normal(0, 1, 20)
    bias = -0.5
    z = F.conv1d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy().reshape(1000, 20)
    y = bias + (lin * z).sum(axis=1)
    y = y + np.random.normal(0, 1, 1000)
    return dict(X=torch.tensor(x, dtype=torch.float32), y=torch.tensor(y, dtype=torch.float32).reshape(-1, 1),
                true_conv_weight=torch.tensor(w, dtype=torch.float32),
                true_linear_weight=torch.tensor(lin, dtype=torch.float32).reshape(1, 20),
                true_bias=torch.tensor([bias], dtype=torch.float32))


def lines_data(offset, N_images=100, p=0.9):
    """Seed 003's Data(N_images=100, offset=..., p=0.9, train=True), verbatim: np.random.seed(1),
    per image randint(3,3+offset) and randint(1,1+offset) when offset>0 (else low=4, high=1), then
    binomial(1,p,(9,3)) for n <= N//2 (label 0) or binomial(1,p,(3,9)) (label 1)."""
    np.random.seed(1)
    N_images = 2 * (N_images // 2)
    images = np.zeros((N_images, 1, 11, 11))
    start1, start2 = 3, 1
    y = torch.zeros(N_images).type(torch.long)
    for n in range(N_images):
        if offset > 0:
            low = int(np.random.randint(low=start1, high=start1 + offset, size=1)[0])
            high = int(np.random.randint(low=start2, high=start2 + offset, size=1)[0])
        else:
            low, high = 4, 1
        if n <= N_images // 2:
            y[n] = 0
            images[n, 0, high:high + 9, low:low + 3] = np.random.binomial(1, p, (9, 3))
        elif n > N_images // 2:
            y[n] = 1
            images[n, 0, low:low + 3, high:high + 9] = np.random.binomial(1, p, (3, 9))
    return dict(X=torch.from_numpy(images).type(torch.FloatTensor), y=y)


def fashion_mnist(folder, n=2000):
    """The first n Fashion-MNIST training images (uint8, N x 1 x 28 x 28) and labels (int64) from
    IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz]); None when absent."""
    def read(stem, offset):
        for p in (os.path.join(folder, stem), os.path.join(folder, stem + ".gz")):
            if os.path.exists(p):
                with (gzip.open(p) if p.endswith(".gz") else open(p, "rb")) as f:
                    return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)
        return None
    img, lab = read("train-images-idx3-ubyte", 16), read("train-labels-idx1-ubyte", 8)
    if img is None or lab is None:
        return None
    return (torch.from_numpy(img.reshape(-1, 1, 28, 28)[:n].copy()),
            torch.from_numpy(lab[:n].astype(np.int64)))


def data_case(name, case, given):
    """Reference arrays of the tutorials' data generators (see the generator functions)."""
    if name == "sim1d_truth":
        return sim1d_data(), case
    return lines_data(offset=int(name[-1])), dict(case, note=case["note"].format(offset=name[-1]))


SIM_NOTE = ("seed 000: x~N(0,1) (1000,2,5); conv weights (4,2,3); linear weights (20,); bias -0.5; "
            "y = bias + lin . flatten(conv1d(x, w, padding=1)) + N(0,1) noise; numpy seed 1337 in that order")
LINES_NOTE = ("seed 003's Data(N_images=100, offset={offset}, p=0.9, train=True): np.random.seed(1), then per image "
              "randint(3,3+offset) and randint(1,1+offset) when offset>0, then binomial(1,0.9,(9,3)) for n <= 50 "
              "(label 0, vertical bar) or binomial(1,0.9,(3,9)) (label 1, horizontal bar)")
DATA_CASES = [
    ("torch", "sim1d_truth", dict(kind="data", note=SIM_NOTE)),
    ("torch", "lines_offset0", dict(kind="data", note=LINES_NOTE)),
    ("torch", "lines_offset2", dict(kind="data", note=LINES_NOTE)),
]

# ----------------------------------------------------------------------------------------------
# kind = training


def make_optimizer(params, o):
    if o["name"] == "sgd":
        return torch.optim.SGD(params, lr=o["lr"], momentum=o.get("momentum", 0.0), weight_decay=o.get("weight_decay", 0.0))
    return torch.optim.Adam(params, lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"])


def make_scheduler(opt, spec):
    """'cosine(t_max=100)' -> torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100);
    'onecycle(max_lr=0.1,total_steps=60)' -> OneCycleLR(opt, max_lr=0.1, total_steps=60) (its defaults,
    which cycle SGD's momentum between 0.95 and 0.85)."""
    name, _, kw = parse_spec(spec)[0]
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=kw["max_lr"], total_steps=kw["total_steps"])
    assert name == "cosine"
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=kw["t_max"], eta_min=kw.get("eta_min", 0))


def training_case(name, case, given, data):
    """A float32 training run from PyTorch's own initial weights:
        torch.manual_seed(seed); model = nn.Sequential(...)         # init.<name>
        loss_fn = nn.MSELoss() | nn.BCEWithLogitsLoss() | nn.CrossEntropyLoss()
        opt = torch.optim.SGD(model.parameters(), lr, momentum, weight_decay) | torch.optim.Adam(...)
        for step: xb, yb = batch (in order, no shuffle; whole set when batch is None)
            loss = loss_fn(model(xb), yb)          # losses[step], before the update
            opt.zero_grad(); loss.backward()
            [torch.nn.utils.clip_grad_norm_(model.parameters(), case["clip_grad_norm"])]
            opt.step(); [scheduler.step()]
    X_u8 cases feed X_u8.float() / 255."""
    X, y, seed = data
    xin = X.float() / 255 if X.dtype == torch.uint8 else X
    torch.manual_seed(seed)
    model = build(case["model"], xin.shape[1:])
    if any(k.startswith("init.") for k in given):
        model.load_state_dict({k[5:]: v for k, v in given.items() if k.startswith("init.")}, strict=False)
    t = {("X_u8" if X.dtype == torch.uint8 else "X"): X, "y": y}
    t.update({"init." + k: v for k, v in state(model).items()})
    loss_fn = {"mse": nn.MSELoss(), "bce_with_logits": nn.BCEWithLogitsLoss(), "cross_entropy": nn.CrossEntropyLoss()}[case["loss"]]
    opt = make_optimizer(model.parameters(), case["optimizer"])
    sched = make_scheduler(opt, case["schedule"]) if "schedule" in case else None
    losses, lrs = [], []
    bs = case["batch"]
    per_epoch = 1 if bs is None else len(xin) // bs
    for step in range(case["steps"]):
        if bs is None:
            xb, yb = xin, y
        else:
            i = (step % per_epoch) * bs
            xb, yb = xin[i:i + bs], y[i:i + bs]
        lrs.append(opt.param_groups[0]["lr"])
        loss = loss_fn(model(xb), yb)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        if "clip_grad_norm" in case:
            torch.nn.utils.clip_grad_norm_(model.parameters(), case["clip_grad_norm"])
        opt.step()
        if sched is not None:
            sched.step()
    t.update({"final." + k: v for k, v in state(model).items()})
    t["losses"] = torch.tensor(losses, dtype=torch.float32)
    if sched is not None:
        t["lr"] = torch.tensor(lrs, dtype=torch.float32)
    return t, dict(case, kind="training")


def training(model, loss, optimizer, steps, batch, note, **extra):
    c = dict(model=model, loss=loss, optimizer=optimizer, steps=steps, batch=batch, note=note,
             loss_recorded="loss of each step's batch, before that step's update",
             order="sequential batches, no shuffle")
    c.update(extra)
    if "schedule" not in c:
        c["param_names"] = "PyTorch state_dict names of an nn.Sequential"
    return c


LAB_SGD = dict(lr=0.05, momentum=0.9, name="sgd", weight_decay=0.001)
PATTERN = "conv1d(4,k=5,p=2) relu maxpool1d(20) flatten linear(1)"
MNIST_LAB = "conv2d(8,k=5,p=2) relu maxpool2d(2) flatten linear(10)"
SIMPLECNN = "conv2d(16,k=3,p=1) relu maxpool2d(2) conv2d(32,k=3,p=1) relu maxpool2d(2) flatten linear(32) relu linear(10)"
TRAINING_CASES = [
    ("torch", "train_pattern1d", "pattern1d", training(
        PATTERN, "bce_with_logits", LAB_SGD, 500, None,
        "X,y reproduce the lab's numpy seed-0 data exactly; init is torch.manual_seed(0). "
        "The lab prints losses 0.5462 (epoch 1) ... 0.0095 (epoch 500).")),
    ("torch", "train_sim1d_bn", "sim1d", training(
        "conv1d(4,k=3,p=1,bias=false) batchnorm1d relu flatten linear(1)", "mse", dict(lr=0.001, name="sgd"), 300, None,
        "seed 000's simulation (numpy seed 1337); dropout left out because its random mask cannot match across "
        "libraries; the running_mean/var after training are in final.*",
        true_params=dict(bias=-0.5, conv_weight="true_conv_weight", linear_weight="true_linear_weight"))),
    ("torch", "train_mnist_lab", "fashion", training(
        MNIST_LAB, "cross_entropy", LAB_SGD, 40, 100,
        "X_u8: the first 2000 Fashion-MNIST training images as bytes; the model sees X_u8 / 255 in float32; "
        "y: their labels (int64)")),
    ("torch", "train_simplecnn_adam", "fashion", training(
        SIMPLECNN, "cross_entropy", dict(betas=[0.9, 0.999], eps=1e-08, lr=0.001, name="adam"), 60, 16,
        "seed 001's SimpleCNN on the first 2000 Fashion-MNIST training images")),
    ("torch", "train_pattern1d_cosine", "pattern1d", training(
        "conv1d(4,k=5,p=2) relu adaptivemaxpool1d(1) flatten linear(1)", "bce_with_logits", LAB_SGD, 150, None,
        "the pattern lab's data; lr[i] is the learning rate of step i",
        schedule="cosine(t_max=100)", schedule_every="epoch (full batch: every step)")),
    ("torch", "train_pattern1d_onecycle", "pattern1d", training(
        "conv1d(4,k=5,p=2) relu adaptivemaxpool1d(1) flatten linear(1)", "bce_with_logits", LAB_SGD, 60, 25,
        "the pattern lab's data in batches of 25; OneCycleLR also cycles SGD's momentum (0.95 -> 0.85 -> 0.95); "
        "lr[i] is the learning rate of step i",
        schedule="onecycle(max_lr=0.1,total_steps=60)", schedule_every="batch")),
    ("torch", "train_pattern1d_clip", "pattern1d", training(
        PATTERN, "bce_with_logits", LAB_SGD, 100, None,
        "the pattern lab with torch.nn.utils.clip_grad_norm_(model.parameters(), 0.05) between backward and step",
        clip_grad_norm=0.05)),
]
TRAINING_SEEDS = {"train_pattern1d": "pattern1d", "train_sim1d_bn": "sim1d", "train_mnist_lab": "mnist_lab",
                  "train_simplecnn_adam": "simplecnn", "train_pattern1d_cosine": "pattern1d",
                  "train_pattern1d_onecycle": "pattern1d", "train_pattern1d_clip": "pattern1d"}

# ----------------------------------------------------------------------------------------------
# kind = schedule


def schedule_case(name, case, given):
    """A learning-rate scheduler alone, on torch.optim.SGD([param], lr=case["lr"]):
        for e in range(epochs): lr[e] = opt.param_groups[0]["lr"]; opt.step(); sched.step()
    (ReduceLROnPlateau: sched.step(metric[e])). The constructor is the case's "torch" text."""
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=case["lr"])
    S = torch.optim.lr_scheduler
    metric = None
    kind = name.split("_", 1)[1]
    if kind == "step":
        sched = S.StepLR(opt, step_size=3, gamma=0.5)
    elif kind == "multistep":
        sched = S.MultiStepLR(opt, milestones=[2, 5, 9], gamma=0.1)
    elif kind == "exponential":
        sched = S.ExponentialLR(opt, gamma=0.9)
    elif kind == "cosine":
        sched = S.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)
    elif kind == "linear":
        sched = S.LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=5)
    elif kind == "onecycle":
        sched = S.OneCycleLR(opt, max_lr=0.1, total_steps=20)
    else:
        sched = S.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2, threshold=1e-4,
                                    threshold_mode="rel", cooldown=0, min_lr=0)
        metric = torch.tensor(PLATEAU_METRIC, dtype=torch.float32)
    lrs = []
    for e in range(case["epochs"]):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(metric[e].item()) if metric is not None else sched.step()
    t = {"lr": torch.tensor(lrs, dtype=torch.float32)}
    if metric is not None:
        t["metric"] = metric
    return t, case


PLATEAU_METRIC = [1.0, 0.9, 0.85, 0.86, 0.87, 0.84, 0.85, 0.86, 0.86, 0.8, 0.81, 0.82, 0.83, 0.84]
SCHED_NOTE = ("lr[e] is the learning rate used in epoch e (scheduler.step() after each epoch; "
              "for plateau, step(metric[e]))")


def sched(epochs, lr, schedule, torch_text):
    return dict(kind="schedule", epochs=epochs, lr=lr, note=SCHED_NOTE, schedule=schedule, torch=torch_text)


SCHEDULE_CASES = [
    ("torch", "schedule_step", sched(12, 0.1, "step(step_size=3,gamma=0.5)", "StepLR(step_size=3, gamma=0.5)")),
    ("torch", "schedule_multistep", sched(12, 0.5, "multistep(milestones=(2,5,9),gamma=0.1)",
                                              "MultiStepLR(milestones=[2,5,9], gamma=0.1)")),
    ("torch", "schedule_exponential", sched(10, 0.05, "exponential(gamma=0.9)", "ExponentialLR(gamma=0.9)")),
    ("torch", "schedule_cosine", sched(25, 0.1, "cosine(t_max=10,eta_min=0.001)",
                                           "CosineAnnealingLR(T_max=10, eta_min=0.001)")),
    ("torch", "schedule_linear", sched(9, 0.2, "linear(start_factor=0.1,end_factor=1,total_iters=5)",
                                           "LinearLR(start_factor=0.1, end_factor=1.0, total_iters=5)")),
    ("torch", "schedule_onecycle", sched(20, 0.1, "onecycle(max_lr=0.1,total_steps=20)",
                                             "OneCycleLR(max_lr=0.1, total_steps=20) (defaults: pct_start=0.3, cos, "
                                             "div_factor=25, final_div_factor=1e4, three_phase=False)")),
    ("torch", "schedule_plateau", sched(14, 0.1, "plateau(factor=0.5,patience=2)",
                                            "ReduceLROnPlateau(mode='min', factor=0.5, patience=2, threshold=1e-4, "
                                            "threshold_mode='rel', cooldown=0, min_lr=0)")),
]

# ----------------------------------------------------------------------------------------------
# kind = explain


def explain_case(name, case, given):
    """Input gradient and Grad-CAM of a model in eval mode, float32:
        model.eval(); x.requires_grad_(); A = output of model[gradcam_layer] (forward hook, A.retain_grad())
        logits = model(x); logits[0, target].backward()
        gradient = x.grad; weights[k] = A.grad[0, k].mean(); gradcam = relu((weights[:, None..] * A[0]).sum(0))
    Weights: randn * 0.5 (BatchNorm: weight, bias randn * 0.5, running_mean randn * 0.1,
    running_var 0.5 + rand) unless given."""
    d = Draws(name, given)
    shape = case["input_shape"]
    model = build(case["model"], shape)
    st = {}
    for k, v in state(model).items():
        if k.endswith("running_mean"):
            st[k] = d.randn("state." + k, v.shape, scale=0.1)
        elif k.endswith("running_var"):
            st[k] = given["state." + k].clone() if "state." + k in given else 0.5 + torch.rand(v.shape, generator=d.g)
        else:
            st[k] = d.randn("state." + k, v.shape, scale=0.5)
    model.load_state_dict(st, strict=False)
    model.eval()
    x = d.randn("input", [1] + shape).requires_grad_()
    acts = {}
    layer = model[case["gradcam_layer"]]

    def keep(module, inputs, output):
        output.retain_grad()
        acts["A"] = output

    layer.register_forward_hook(keep)
    logits = model(x)
    logits[0, case["target"]].backward()
    A = acts["A"]
    dims = tuple(range(1, A.dim() - 1))
    weights = A.grad[0].mean(dim=dims)
    cam = torch.relu((weights.view((-1,) + (1,) * len(dims)) * A[0]).sum(0))
    t = {"state." + k: v for k, v in st.items()}
    t.update(input=x.detach(), logits=logits.detach(), gradient=x.grad, gradcam_activation=A.detach(),
             gradcam_weights=weights, gradcam=cam.detach())
    return t, case


EXPLAIN_NOTE = ("gradient = d logits[0,target] / d input; Grad-CAM on the output A of layer gradcam_layer "
                "(nn.Sequential index): weights = spatial mean of d logits[0,target] / dA, gradcam = "
                "relu(sum_k weights[k] * A[0,k]), no upsampling")


def explain(model, shape, layer, target):
    return dict(kind="explain", mode="eval", model=model, input_shape=shape, gradcam_layer=layer, target=target,
                note=EXPLAIN_NOTE)


EXPLAIN_CASES = [
    ("torch", "explain_pattern1d", explain(PATTERN, [1, 20], 1, 0)),
    ("torch", "explain_mnistlike", explain(
        "conv2d(6,k=3,p=1) relu maxpool2d(2) conv2d(8,k=3,p=1) relu maxpool2d(2) flatten linear(10)", [1, 28, 28], 4, 3)),
    ("torch", "explain_rgb_bn", explain(
        "conv2d(4,k=3) batchnorm2d relu conv2d(5,k=3,s=2) relu adaptiveavgpool2d(1) flatten linear(3)", [3, 12, 12], 4, 2)),
    # Two-channel 1-D input through batch norm and average pooling; Grad-CAM on the last ReLU
    # (target 0: the other two give an all-zero map, which would check little).
    ("torch", "explain_conv1d_bn_avgpool", explain(
        "conv1d(4,k=3,p=1) batchnorm1d relu avgpool1d(2) conv1d(6,k=3) relu flatten linear(3)", [2, 24], 5, 0)),
    # Batch norm and average pooling in 2-D; Grad-CAM on the pooling layer's output.
    ("torch", "explain_bn2d_avgpool", explain(
        "conv2d(4,k=3,p=1) batchnorm2d relu avgpool2d(2) conv2d(6,k=3) relu flatten linear(4)", [1, 12, 12], 3, 2)),
    # Two convs, Grad-CAM on a chosen early layer (the first conv), not the default last one.
    ("torch", "explain_twoconv_layer0", explain(
        "conv2d(3,k=3) relu conv2d(5,k=3) relu flatten linear(2)", [1, 10, 10], 0, 1)),
]

# ----------------------------------------------------------------------------------------------
# pt/: files written by torch.save


class Payload:
    """Pickles as posix.system('touch /tmp/convlab-pwned-by-pickle'): REDUCE would run it when a
    Python unpickler loads the file. Written with torch.save only; this script never loads it."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/convlab-pwned-by-pickle",))


MANIFEST = {
    "mnist_lab_state_dict.pt": {"holds": "state_dict", "how": "torch.save(model.state_dict(), path)",
                                "input": [1, 28, 28], "same_as": "mnist_lab_state_dict.safetensors", "spec": MNIST_LAB},
    "dataparallel_state_dict.pt": {"holds": "state_dict with DataParallel's module. prefix", "input": [1, 28, 28],
                                   "same_as": "mnist_lab_state_dict.safetensors", "spec": "mnist-lab"},
    "float64_state_dict.pt": {"holds": "state_dict of float64 tensors", "input": [1, 28, 28],
                              "note": "values equal the float32 file's after conversion",
                              "same_as": "mnist_lab_state_dict.safetensors", "spec": "mnist-lab"},
    "legacy_format.pt": {"holds": "state_dict in the pre-1.6 (non-zip) format", "input": [1, 28, 28],
                         "same_as": "mnist_lab_state_dict.safetensors", "spec": "mnist-lab"},
    "malicious.pt": {"expect": "refused with a clear message; nothing executed (no /tmp/convlab-pwned-by-pickle)",
                     "holds": "a pickle whose REDUCE calls os.system"},
    "shared_storage.pt": {"holds": "state_dict whose tensors are views (storage offsets, one transposed) into one storage",
                          "input": [1, 20], "same_as": "shared_storage.safetensors", "spec": PATTERN},
    "simplecnn_checkpoint.pt": {"holds": "checkpoint dict: epoch, model_state_dict, optimizer_state_dict (Adam), loss",
                                "input": [1, 28, 28], "key": "model_state_dict",
                                "same_as": "simplecnn_checkpoint.safetensors", "spec": SIMPLECNN},
    "whole_module_pattern1d.pt": {"holds": "a whole pickled nn.Sequential (torch.save(model))", "input": [1, 20],
                                  "note": "the spec can be read off the modules' pickled attributes without running any code",
                                  "same_as": "whole_module_pattern1d.safetensors", "spec": PATTERN},
}


def load_given_pt(ref, name):
    """A committed .pt file's contents via torch.load(weights_only=True) (the safe unpickler; never
    used on malicious.pt), for --inputs-from."""
    if ref is None:
        return None
    path = os.path.join(ref, "pt", name)
    return torch.load(path, weights_only=True) if os.path.exists(path) else None


def twin(ref, name):
    """A committed pt/ safetensors twin as {name: tensor}, for --inputs-from."""
    if ref is None:
        return None
    path = os.path.join(ref, "pt", name)
    if not os.path.exists(path):
        return None
    with safe_open(path, "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def pt_files(out, ref, fm):
    """torch.save files and their safetensors twins (save_file(state_dict), no metadata):
        torch.manual_seed(11); sd = mnist_lab.state_dict()
        torch.save(sd, "mnist_lab_state_dict.pt")
        torch.save({"module." + k: v for k, v in sd.items()}, "dataparallel_state_dict.pt")
        torch.save({k: v.double() for k, v in sd.items()}, "float64_state_dict.pt")
        torch.save(sd, "legacy_format.pt", _use_new_zipfile_serialization=False)
        base = torch.randn(100); torch.save({"0.weight": base[10:30].view(4, 1, 5), "0.bias": base[50:54],
            "4.weight": base[40:44].view(4, 1).t(), "4.bias": base[60:61]}, "shared_storage.pt")
        torch.manual_seed(12); one Adam(lr=1e-3) step on the first 16 Fashion-MNIST images;
            torch.save({"epoch": 3, "model_state_dict": ..., "optimizer_state_dict": opt.state_dict(),
                        "loss": 0.2468}, "simplecnn_checkpoint.pt")
        torch.manual_seed(13); torch.save(pattern1d_model, "whole_module_pattern1d.pt")
        torch.save({"0.weight": torch.zeros(2), "payload": Payload()}, "malicious.pt")"""
    d = os.path.join(out, "pt")
    os.makedirs(d, exist_ok=True)

    def save(obj, name, **kw):
        torch.save(obj, os.path.join(d, name), **kw)
        print(f"wrote pt/{name}")

    def save_twin(sd, name):
        save_file({k: v.detach().float().contiguous() for k, v in sd.items()}, os.path.join(d, name))
        print(f"wrote pt/{name}")

    torch.manual_seed(SEEDS["pt_mnist_lab"])
    m = build(MNIST_LAB, (1, 28, 28))
    given = twin(ref, "mnist_lab_state_dict.safetensors")
    if given:
        m.load_state_dict(given)
    sd = m.state_dict()
    save(sd, "mnist_lab_state_dict.pt")
    save_twin(sd, "mnist_lab_state_dict.safetensors")
    save({"module." + k: v for k, v in sd.items()}, "dataparallel_state_dict.pt")
    save({k: v.double() for k, v in sd.items()}, "float64_state_dict.pt")
    save(sd, "legacy_format.pt", _use_new_zipfile_serialization=False)

    old = load_given_pt(ref, "shared_storage.pt")
    if old is not None:
        base = torch.frombuffer(bytearray(bytes(old["0.weight"].untyped_storage())), dtype=torch.float32)
    else:
        base = Draws("shared_storage").randn("base", (100,))
    shared = {"0.weight": base[10:30].view(4, 1, 5), "0.bias": base[50:54],
              "4.weight": base[40:44].view(4, 1).t(), "4.bias": base[60:61]}
    save(shared, "shared_storage.pt")
    save_twin(shared, "shared_storage.safetensors")

    old = load_given_pt(ref, "simplecnn_checkpoint.pt")
    if fm is None and old is None:
        print("skipped pt/simplecnn_checkpoint.pt: no Fashion-MNIST (--fashion-mnist) and no --inputs-from")
    else:
        torch.manual_seed(SEEDS["pt_simplecnn"])
        model = build(SIMPLECNN, (1, 28, 28))
        opt = torch.optim.Adam(model.parameters(), lr=0.001)
        if old is not None:
            model.load_state_dict(old["model_state_dict"])
            opt.load_state_dict(old["optimizer_state_dict"])
        else:
            X, y = fm
            loss = nn.CrossEntropyLoss()(model(X[:16].float() / 255), y[:16])
            opt.zero_grad()
            loss.backward()
            opt.step()
        save({"epoch": 3, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
              "loss": 0.2468}, "simplecnn_checkpoint.pt")
        save_twin(model.state_dict(), "simplecnn_checkpoint.safetensors")

    torch.manual_seed(SEEDS["pt_pattern1d"])
    model = build(PATTERN, (1, 20))
    given = twin(ref, "whole_module_pattern1d.safetensors")
    if given:
        model.load_state_dict(given)
    save(model, "whole_module_pattern1d.pt")
    save_twin(model.state_dict(), "whole_module_pattern1d.safetensors")

    save({"0.weight": torch.zeros(2), "payload": Payload()}, "malicious.pt")

    with open(os.path.join(d, "manifest.json"), "w") as f:
        f.write(json.dumps(MANIFEST, indent=1, sort_keys=True) + "\n")
    print("wrote pt/manifest.json")

# ----------------------------------------------------------------------------------------------
# Driver


def given_for(ref, sub, name, keys):
    """Tensors of the committed file REF/sub/name.safetensors whose names pass keys(name)."""
    if ref is None:
        return {}
    path = os.path.join(ref, sub, name + ".safetensors")
    if not os.path.exists(path):
        return {}
    with safe_open(path, "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys() if keys(k)}


LAYER_GIVEN = {"input", "grad_output", "weight", "bias", "running_mean", "running_var"}


def generate(out, ref, fm_dir):
    fm = fashion_mnist(fm_dir)
    if fm is None:
        print(f"Fashion-MNIST not found in {fm_dir}: skipping train_mnist_lab and train_simplecnn_adam")
    for sub, name, case in LAYER_CASES:
        write(out, sub, name, *layer_case(name, case, given_for(ref, sub, name, LAYER_GIVEN.__contains__)))
    for sub, name, case in LOSS_CASES:
        keys = {"input", "target"} | ({"grad_output"} if case["reduction"] == "none" else set())
        write(out, sub, name, *loss_case(name, case, given_for(ref, sub, name, keys.__contains__)))
    for sub, name, case in OPTIMIZER_CASES:
        g = given_for(ref, sub, name, lambda k: k == "param_initial" or k.startswith("grad_"))
        write(out, sub, name, *optimizer_case(name, case, g))
    for sub, name, case in DATA_CASES:
        write(out, sub, name, *data_case(name, case, {}))
    for sub, name, source, case in TRAINING_CASES:
        if source == "fashion" and fm is None:
            print(f"skipped {sub}/{name}: no Fashion-MNIST")
            continue
        X, y = {"pattern1d": pattern1d_data, "sim1d": lambda: (sim1d_data()["X"], sim1d_data()["y"]),
                "fashion": lambda: fm}[source]()
        g = given_for(ref, sub, name, lambda k: k.startswith("init."))
        write(out, sub, name, *training_case(name, case, g, (X, y, SEEDS[TRAINING_SEEDS[name]])))
    for sub, name, case in SCHEDULE_CASES:
        write(out, sub, name, *schedule_case(name, case, {}))
    for sub, name, case in EXPLAIN_CASES:
        g = given_for(ref, sub, name, lambda k: k.startswith("state.") or k == "input")
        write(out, sub, name, *explain_case(name, case, g))
    pt_files(out, ref, fm)

# ----------------------------------------------------------------------------------------------
# Comparison (--compare / --compare-only)


def max_rel(a, b):
    """max |a - b| / max |b| over the tensor (0 when equal)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    diff = np.abs(a - b).max() if a.size else 0.0
    scale = np.abs(b).max() if b.size else 0.0
    return 0.0 if diff == 0 else diff / (scale if scale > 0 else 1.0)


def compare_tensors(new, ref):
    """(problems, worst relative error, name of worst) for two {name: np.ndarray} dicts."""
    problems, worst, where = [], 0.0, ""
    if set(new) != set(ref):
        problems.append(f"names differ: missing {sorted(set(ref) - set(new))}, extra {sorted(set(new) - set(ref))}")
    for k in sorted(set(new) & set(ref)):
        a, b = new[k], ref[k]
        if a.dtype != b.dtype or a.shape != b.shape:
            problems.append(f"{k}: {a.dtype}{list(a.shape)} vs {b.dtype}{list(b.shape)}")
            continue
        e = max_rel(a, b)
        if e > worst:
            worst, where = e, k
    return problems, worst, where


def st_load(path):
    with safe_open(path, "np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}


def flatten_obj(obj, prefix=""):
    """Tensors in a torch.load result as {path: np.ndarray} plus non-tensor leaves as {path: value};
    for tensors also their storage layout (offset, stride)."""
    tens, other = {}, {}
    if isinstance(obj, torch.Tensor):
        tens[prefix] = obj.detach().numpy()
        other[prefix + "@layout"] = (obj.storage_offset(), tuple(obj.stride()), obj.untyped_storage().nbytes())
    elif isinstance(obj, dict):
        other[prefix + "@type"] = type(obj).__name__
        for k, v in obj.items():
            t, o = flatten_obj(v, f"{prefix}/{k}")
            tens.update(t)
            other.update(o)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            t, o = flatten_obj(v, f"{prefix}/{i}")
            tens.update(t)
            other.update(o)
    elif isinstance(obj, nn.Module):
        other[prefix + "@module"] = repr(obj)
        t, o = flatten_obj(obj.state_dict(), prefix + "/state")
        tens.update(t)
        other.update(o)
    else:
        other[prefix] = obj
    return tens, other


def load_pt_safely(path):
    """torch.load(weights_only=True); for a whole pickled module, the weights-only unpickler with
    only torch.nn's module classes of the pattern1d model allowed (see safe_globals)."""
    allowed = [nn.Sequential, nn.Conv1d, nn.ReLU, nn.MaxPool1d, nn.Flatten, nn.Linear, set]
    with torch.serialization.safe_globals(allowed):
        return torch.load(path, weights_only=True)


def pickle_ops(path):
    """The pickle opcodes (name, argument) of a zip-format .pt file's data.pkl, memo indices left
    out; read with pickletools, never unpickled."""
    with zipfile.ZipFile(path) as z:
        name = [n for n in z.namelist() if n.endswith("data.pkl")][0]
        data = z.read(name)
    return [(op.name, arg) for op, arg, _ in pickletools.genops(data) if op.name not in ("BINPUT", "BINGET", "MEMOIZE")]


def compare_file(new_path, ref_path, rel, tol):
    """One row of the comparison: (status, detail); status exact (bit-identical), close (max rel
    error <= tol) or MISMATCH."""
    if not os.path.exists(new_path):
        return "MISSING", "not regenerated"
    if rel.endswith(".safetensors"):
        (a, ma), (b, mb) = st_load(new_path), st_load(ref_path)
        problems, worst, where = compare_tensors(a, b)
        if ma.get("torch") != mb.get("torch"):
            problems.append(f"torch {ma.get('torch')} vs {mb.get('torch')}")
        ca = json.loads(ma["case"]) if "case" in ma else None
        cb = json.loads(mb["case"]) if "case" in mb else None
        if ca != cb:
            problems.append("case metadata differs: " + ", ".join(
                sorted(k for k in set(ca or {}) | set(cb or {}) if (ca or {}).get(k) != (cb or {}).get(k))))
        elif ma.get("case") != mb.get("case"):
            problems.append("case JSON text differs (same content)")
    elif rel.endswith(".json"):
        with open(new_path) as f1, open(ref_path) as f2:
            ta, tb = f1.read(), f2.read()
        if ta == tb:
            return "exact", "byte-identical"
        return ("MISMATCH", "content differs") if json.loads(ta) != json.loads(tb) else ("close", "same JSON, other text")
    elif rel.endswith("malicious.pt"):
        same = pickle_ops(new_path) == pickle_ops(ref_path)
        return ("exact", "same pickle opcodes (never unpickled)") if same else ("MISMATCH", "pickle opcodes differ")
    else:
        ta, oa = flatten_obj(load_pt_safely(new_path))
        tb, ob = flatten_obj(load_pt_safely(ref_path))
        problems, worst, where = compare_tensors(ta, tb)
        for k in sorted(set(oa) | set(ob)):
            if oa.get(k) != ob.get(k):
                problems.append(f"{k}: {oa.get(k)!r} vs {ob.get(k)!r}")
    if problems:
        return "MISMATCH", "; ".join(problems)[:300] + (f" (max rel {worst:.2e} in {where})" if worst else "")
    if worst == 0:
        return "exact", "all tensors bit-identical"
    if worst > tol:
        return "MISMATCH", f"values differ: max rel {worst:.2e} ({where})"
    return "close", f"max rel {worst:.2e} ({where})"


def compare(out, ref, tol=1e-3):
    rows = []
    for sub in SUBDIRS:
        for fn in sorted(os.listdir(os.path.join(ref, sub))):
            rel = f"{sub}/{fn}"
            try:
                status, detail = compare_file(os.path.join(out, sub, fn), os.path.join(ref, sub, fn), rel, tol)
            except Exception as e:  # a comparison that cannot run is a mismatch, not a crash
                status, detail = "MISMATCH", f"{type(e).__name__}: {e}"
            rows.append((rel, status, detail))
    w = max(len(r[0]) for r in rows)
    for rel, status, detail in rows:
        print(f"{rel:<{w}}  {status:<8}  {detail}")
    counts = {s: sum(1 for r in rows if r[1] == s) for s in ("exact", "close", "MISMATCH", "MISSING")}
    print(", ".join(f"{n} {s}" for s, n in counts.items()))
    return counts["MISMATCH"] + counts["MISSING"] == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="output folder (gets torch/ and pt/)")
    ap.add_argument("--fashion-mnist", default="/usr/share/datasets/fashion-mnist",
                    help="folder with Fashion-MNIST IDX files (default: Debian's dataset-fashion-mnist)")
    ap.add_argument("--inputs-from", metavar="DIR",
                    help="read the random given tensors (inputs, weights, upstream gradients, initial weights) "
                         "from the fixtures in DIR instead of drawing them")
    ap.add_argument("--compare", metavar="DIR", help="after generating, compare OUT with the fixtures in DIR")
    ap.add_argument("--compare-only", metavar="DIR", help="compare OUT with DIR without generating")
    ap.add_argument("--tol", type=float, default=1e-3,
                    help="largest max-relative error (max |new - ref| / max |ref| per tensor) counted as close")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if args.compare_only:
        sys.exit(0 if compare(args.out, args.compare_only, args.tol) else 1)
    generate(args.out, args.inputs_from, args.fashion_mnist)
    if args.compare:
        sys.exit(0 if compare(args.out, args.compare, args.tol) else 1)


if __name__ == "__main__":
    main()
