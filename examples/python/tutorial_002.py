"""Tutorial 002 (the CNN lab) replayed with convlab_rs: the notebook's steps, in order.

Part 1: a 1-D CNN learns to detect the pattern [0, 1, 0] (the notebook's numbers, digit for
digit). Part 2: the lab's 2-D ConvNet on Fashion-MNIST (skipped with a message when the data is
not installed: `apt-get install dataset-fashion-mnist` or `convlab data fetch fashion-mnist`).

    python examples/python/tutorial_002.py [OUT_DIR]
"""

import sys
from pathlib import Path

import numpy as np

import convlab_rs as cl

out = Path(sys.argv[1] if len(sys.argv) > 1 else "tutorial_002")
out.mkdir(parents=True, exist_ok=True)
np.set_printoptions(precision=3, suppress=True)

# 1.1: the synthetic training set, drawn as the notebook draws it after np.random.seed(0).
X, y, X_test, y_test = cl.data.load("pattern1d")
print("X", X.shape, "y", y.shape)

# 1.2: Conv1d(1, 4, 5, padding=2), ReLU, MaxPool1d(20), Flatten, Linear(4, 1), torch.manual_seed(0).
model = cl.Model("conv1d(4,k=5,p=2) relu maxpool1d(20) flatten linear(1)", input=(1, 20), seed=0, init="torch")
print(model.summary())
print(model.predict(X)[:5])  # print(y_pred[:5]) before training

# 1.3: BCEWithLogitsLoss, SGD(lr=0.05, momentum=0.9, weight_decay=1e-3), full batch, 500 epochs.
history = model.fit(X, y, optimizer="sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)", epochs=500, progress=False)
for epoch, loss in zip(history["epoch"], history["train_loss"]):
    if epoch == 1 or epoch % 50 == 0:
        print("Epoch %d had training loss %.4f" % (epoch, loss))
print(model.predict(X)[:5])

# 1.4: the filters and the linear weights that read them.
cl.plot.filters(model).save(out / "pattern1d-filters.png")
cl.plot.curves(history).save(out / "pattern1d-curves.png")
weights = model.state_dict()
print(weights["0.weight"].shape, weights["4.weight"].shape)

# Part 2: the 2-D ConvNet (Conv2d(1, 8, 5, padding=2), ReLU, MaxPool2d(2), Flatten, Linear(1568, 10)).
try:
    X, y, X_test, y_test = cl.data.load("fashion-mnist")
except ValueError as e:
    print(f"part 2 skipped: {e}")
    sys.exit(0)
convnet = cl.Model("mnist-lab", seed=2, init="torch")
history = convnet.fit(X, y, optimizer="sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)", epochs=5, batch_size=100,
                      test=(X_test, y_test), progress=False)
for epoch, loss, acc in zip(history["epoch"], history["train_loss"], history["test_accuracy"]):
    print("Epoch %d had training loss %.4f, test accuracy %.2f%%" % (epoch, loss, 100 * acc))
print("predicted classes of the first 10 test images:", convnet.predict(X_test[:10]).argmax(1))
cl.plot.filters(convnet).save(out / "mnist-lab-filters.png")
