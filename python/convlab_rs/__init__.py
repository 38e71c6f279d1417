"""convlab_rs: build, train, inspect and explain small CNNs from Python.

The engine is convlab's Rust crate (this package is its bindings; there is no second engine):
numerically faithful to PyTorch and several times faster on a CPU. Arrays go in and come out as
NumPy arrays; pictures show inline in Jupyter.

    import convlab_rs as cl
    X, y, Xt, yt = cl.data.load("pattern1d")
    m = cl.Model("conv1d(4,k=5,p=2) relu maxpool1d(20) flatten linear(1)", input=(1, 20), seed=0)
    h = m.fit(X, y, optimizer="sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)", epochs=500)
    cl.plot.curves(h)
"""

import numpy as _np

from . import _native
from ._native import Figure, __version__, lab

__all__ = ["Model", "Figure", "load", "lab", "explain", "sweep", "simulate", "recover", "data", "plot",
           "__version__"]


def _as_x(X, input_shape):
    """X as float32, C-contiguous, with its channel axis: no copy when it already is."""
    X = _np.asarray(X)
    if X.dtype != _np.float32:
        X = X.astype(_np.float32)
    want = tuple(input_shape)
    if X.ndim == len(want) and X.shape[1:] == want[1:] and want[0] == 1:
        X = X[:, None]  # (N, H, W) or (N, L) for a one-channel model
    if X.ndim == len(want):
        X = X[None]  # one sample
    return _np.ascontiguousarray(X)


def _as_y(y):
    """(classes, values): integer labels as uint32 (N,), anything else as float32 (N, width)."""
    y = _np.asarray(y)
    if y.dtype.kind in "iub":
        if y.ndim != 1:
            raise ValueError(f"integer y must be one class label per sample, shape (N,), not {y.shape}")
        if y.size and y.min() < 0:
            raise ValueError(f"class labels must be ≥ 0; y holds {int(y.min())}")
        return _np.ascontiguousarray(y, dtype=_np.uint32), None
    y = _np.asarray(y, dtype=_np.float32)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2:
        raise ValueError(f"float y must be (N,) or (N, outputs), not {y.shape}")
    return None, _np.ascontiguousarray(y)


class Model:
    """A small CNN in convlab's one-line notation, fitted to an input shape.

    Model(spec, input=None, seed=0, init="torch")

    spec: layers separated by spaces, e.g. "conv2d(8,k=5,p=2) relu maxpool2d(2) flatten linear(10)",
        or a preset ("simplecnn", "mnist-lab", "pattern1d", ...).
    input: the sample shape, (C, L) or (C, H, W); presets know theirs.
    seed: seeds the initial weights and fit's shuffling and dropout.
    init: "torch" gives the weights torch.manual_seed(seed) gives the equivalent nn.Sequential;
        "convlab" convlab's own stream.
    """

    def __init__(self, spec, input=None, seed=0, init="torch"):
        self._m = _native.Model(spec, None if input is None else list(input), seed, init)

    @classmethod
    def _wrap(cls, native):
        obj = cls.__new__(cls)
        obj._m = native
        return obj

    spec = property(lambda self: self._m.spec, doc="The spec as convlab writes it.")
    input_shape = property(lambda self: tuple(self._m.input_shape), doc="(C, L) or (C, H, W).")
    class_names = property(lambda self: self._m.class_names, doc="Class names of a classifier, or None.")

    def __repr__(self):
        return repr(self._m)

    def summary(self):
        """Layers, output shapes, parameters and the size arithmetic, as `convlab summary`."""
        return self._m.summary()

    def fit(self, X, y, optimizer="adam(lr=1e-3)", epochs=10, batch_size=None, loss=None, test=None,
            schedule=None, early_stop=None, clip_grad_norm=None, threads=0, progress=True, seed=None):
        """Trains the model in place on convlab's threads (the GIL is released) and returns the
        history: {"epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy",
        "seconds", "lr", "last_batch_loss"}, per-epoch lists (None where a value does not apply),
        as metrics.jsonl, and "early_stop" (None, or where and why the run stopped).

        X: (N, C, L), (N, C, H, W) or (N, H, W); y: integer classes (N,) or float targets.
        optimizer: "sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)", "adam(lr=1e-3)", ...
        batch_size: None for the full batch. loss: "cross_entropy", "bce_with_logits" or "mse";
        None chooses from y (integers: cross-entropy; 0/1 floats: BCE; else MSE).
        test: (X_test, y_test), evaluated after every epoch.
        schedule: "cosine(t_max=50)", "step(step_size=10,gamma=0.5)", "onecycle(max_lr=0.1)",
        "plateau(patience=3)", ... (PyTorch's schedulers). early_stop: "test_loss,patience=5,min_delta=0";
        the model then holds the best epoch's weights. clip_grad_norm: clip_grad_norm_'s max_norm.
        seed: shuffling and dropout (default: the model's seed, so fit equals `convlab train`
        with the same settings). Minibatches are shuffled each epoch; a full batch is not.
        Ctrl-C raises KeyboardInterrupt after the step under way; the model keeps that step.
        """
        X = _as_x(X, self.input_shape)
        classes, values = _as_y(y)
        tx = tc = tv = None
        if test is not None:
            tx = _as_x(test[0], self.input_shape)
            tc, tv = _as_y(test[1])
        return self._m._fit(X, classes, values, optimizer, int(epochs), int(batch_size or 0), loss,
                            tx, tc, tv, seed, int(threads), bool(progress), schedule, early_stop,
                            None if clip_grad_norm is None else float(clip_grad_norm))

    def predict(self, X):
        """Raw outputs (logits, or values for a regression), shape (N, outputs)."""
        return self._m._predict(_as_x(X, self.input_shape))

    def predict_proba(self, X):
        """Class probabilities, shape (N, classes): softmax, or (1 - σ, σ) for one BCE output."""
        return self._m._predict_proba(_as_x(X, self.input_shape))

    def activations(self, X):
        """Every layer's output for X, in evaluation mode: [(layer name, array)]."""
        return self._m._activations(_as_x(X, self.input_shape))

    def state_dict(self):
        """{PyTorch state-dict name: array}, as the equivalent nn.Sequential names them."""
        return self._m.state_dict()

    def load_state_dict(self, state):
        """Sets every tensor from {name: array} (NumPy, or torch tensors); shapes must match."""
        converted = {}
        for k, v in state.items():
            if hasattr(v, "detach"):
                v = v.detach().cpu().numpy()
            converted[k] = _np.ascontiguousarray(v, dtype=_np.float32)
        self._m._load_state_dict(converted)

    def to_torch(self):
        """The equivalent torch.nn.Sequential with this model's weights (imports torch)."""
        torch = _torch()
        seq = eval(self._m._torch_expr(), {"nn": torch.nn})
        state = {k: torch.as_tensor(_np.asarray(v)) for k, v in self.state_dict().items()}
        seq.load_state_dict(state)
        return seq

    @classmethod
    def from_torch(cls, module, input):
        """A Model from an nn.Sequential of supported layers (Conv1d/2d, pools, BatchNorm, ReLU,
        LeakyReLU, Sigmoid, Tanh, Dropout, Flatten, Linear, adaptive pools) with its weights;
        input is the sample shape, (C, L) or (C, H, W). The layers are read off the module as
        `torch.save(module)` writes it, by convlab's restricted reader: nothing is executed."""
        import io

        torch = _torch()
        if not isinstance(module, torch.nn.Sequential):
            raise ValueError(f"from_torch takes an nn.Sequential, not {type(module).__name__}")
        buf = io.BytesIO()
        torch.save(module, buf)
        return cls._wrap(_native.Model._from_pt(buf.getvalue(), None, list(input)))

    def save(self, path):
        """Writes a convlab model file (safetensors with the spec, the input shape and the task)."""
        self._m.save(str(path))


def explain(model, x, method="gradcam", target=None, layer=None, samples=None, noise=None, seed=0,
            patch=None, stride=None):
    """Explains one prediction, as `convlab explain`: method is gradient (∂ output[target] / ∂ x),
    saliency (max over channels of |gradient|), smoothgrad (mean saliency over `samples` seeded
    noisy copies, σ = noise × the input's range), input-x-gradient, gradcam (on `layer`, as
    nn.Sequential numbers it; default the last spatial one) or occlusion (a `patch` slid by
    `stride`, baseline 0; the drop in the output). target defaults to the predicted class.

    Returns a dict: method, target, score, outputs, map (NumPy), gradient (or None) and figure
    (shows inline in Jupyter)."""
    x = _as_x(x, model.input_shape)[:1]
    return _native.explain(model._m, x, method, target, layer, samples, noise, seed, patch, stride)


def _torch():
    try:
        import torch
    except ImportError as e:
        raise ImportError("to_torch and from_torch need PyTorch: pip install torch") from e
    return torch


def load(path, spec=None, input=None):
    """A Model from a convlab model file (.safetensors), a run folder (runs/NAME), or a file
    torch.save wrote (.pt/.pth: a whole nn.Sequential, or a state dict or checkpoint with
    spec= and input=), read without running anything from it."""
    import os

    path = str(path)
    if os.path.isfile(path) and path.endswith((".pt", ".pth", ".bin", ".ckpt")):
        with open(path, "rb") as f:
            data = f.read()
        return Model._wrap(_native.Model._from_pt(data, spec, None if input is None else list(input)))
    return Model._wrap(_native.load(path))


from . import data, plot  # noqa: E402  (they use Model)
from ._studies import recover, simulate, sweep  # noqa: E402

