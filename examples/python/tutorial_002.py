# %% [markdown]
# # Tutorial 002 (the CNN lab), replayed with convlab_rs
#
# The notebook's steps, in order. Part 1: a 1-D CNN learns to detect the pattern [0, 1, 0]
# (the notebook's numbers, digit for digit). Part 2: the lab's 2-D ConvNet on Fashion-MNIST
# (skipped with a message when the data is not installed: `apt-get install
# dataset-fashion-mnist` or `convlab data fetch fashion-mnist`).
#
# This file is the twin of `tutorial_002.ipynb` (each `# %%` starts a cell; the notebook is
# made from it by `python examples/python/notebook.py`). Run it as a script with
# `python examples/python/tutorial_002.py [OUT_DIR]`.

# %%
import sys
from pathlib import Path

import numpy as np

import convlab_rs as cl

# Pictures go to OUT_DIR (the script's argument; a notebook kernel's arguments start with "-").
out = Path(sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "tutorial_002")
out.mkdir(parents=True, exist_ok=True)
np.set_printoptions(precision=3, suppress=True)

# %% [markdown]
# ## 1.1 The synthetic training set
# Drawn as the notebook draws it after `np.random.seed(0)`.

# %%
X, y, X_test, y_test = cl.data.load("pattern1d")
print("X", X.shape, "y", y.shape)

# %% [markdown]
# ## 1.2 The model
# `Conv1d(1, 4, 5, padding=2), ReLU, MaxPool1d(20), Flatten, Linear(4, 1)` after
# `torch.manual_seed(0)`: `init="torch"` gives the same weights.

# %%
model = cl.Model("conv1d(4,k=5,p=2) relu maxpool1d(20) flatten linear(1)", input=(1, 20), seed=0, init="torch")
print(model.summary())
print(model.predict(X)[:5])  # print(y_pred[:5]) before training

# %% [markdown]
# ## 1.3 Training
# `BCEWithLogitsLoss`, `SGD(lr=0.05, momentum=0.9, weight_decay=1e-3)`, full batch, 500 epochs.

# %%
history = model.fit(X, y, optimizer="sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)", epochs=500, progress=False)
for epoch, loss in zip(history["epoch"], history["train_loss"]):
    if epoch == 1 or epoch % 50 == 0:
        print("Epoch %d had training loss %.4f" % (epoch, loss))
print(model.predict(X)[:5])
curves = cl.plot.curves(history)
curves.save(out / "pattern1d-curves.png")
curves

# %% [markdown]
# ## 1.4 What the network learned
# The filters, and the linear weights that read them.

# %%
weights = model.state_dict()
print(weights["0.weight"].shape, weights["4.weight"].shape)
filters = cl.plot.filters(model)
filters.save(out / "pattern1d-filters.png")
filters

# %% [markdown]
# ## Part 2: the 2-D ConvNet on Fashion-MNIST
# `Conv2d(1, 8, 5, padding=2), ReLU, MaxPool2d(2), Flatten, Linear(1568, 10)`, minibatches of
# 100, 5 epochs.

# %%
try:
    X2, y2, X2_test, y2_test = cl.data.load("fashion-mnist")
except ValueError as e:
    X2 = None
    print(f"part 2 skipped: {e}")

# %%
if X2 is not None:
    convnet = cl.Model("mnist-lab", seed=2, init="torch")
    history2 = convnet.fit(X2, y2, optimizer="sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)", epochs=5,
                           batch_size=100, test=(X2_test, y2_test), progress=False)
    for epoch, loss, acc in zip(history2["epoch"], history2["train_loss"], history2["test_accuracy"]):
        print("Epoch %d had training loss %.4f, test accuracy %.2f%%" % (epoch, loss, 100 * acc))
    print("predicted classes of the first 10 test images:", convnet.predict(X2_test[:10]).argmax(1))
    cl.plot.filters(convnet).save(out / "mnist-lab-filters.png")
