"""Pictures of a model, as `convlab plot` draws them; each is a Figure that shows inline in
Jupyter and saves with .save("x.png") or .save("x.svg")."""

from . import _native


def filters(model, cmap=None):
    """The conv kernels (rows: output channels, columns: input channels) and linear weights."""
    return _native.plot_filters(model._m, cmap)


def curves(history):
    """Loss and accuracy by epoch, from the history fit returned."""
    return _native.plot_curves(history)


def activations(model, x, y=None, cmap=None):
    """One sample and every layer's feature maps for it; y (its label) goes in the title."""
    from . import _as_x, _as_y
    import numpy as np

    x = _as_x(x, model.input_shape)[:1]
    classes, values = _as_y(np.zeros(1, dtype=np.int64) if y is None else np.atleast_1d(y))
    return _native.plot_activations(model._m, x, classes, values, cmap)
