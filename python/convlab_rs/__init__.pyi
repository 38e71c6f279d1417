"""Type stubs of convlab_rs (see the docstrings in __init__.py)."""

from os import PathLike
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import data as data
from . import plot as plot

__version__: str

ArrayLike = npt.ArrayLike
History = Dict[str, list]
PathType = Union[str, "PathLike[str]"]

class Figure:
    """A picture: shows inline in Jupyter, saves as PNG or SVG."""
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    def _repr_png_(self) -> bytes: ...
    def _repr_svg_(self) -> str: ...
    def save(self, path: PathType) -> None: ...

class Model:
    def __init__(self, spec: str, input: Optional[Sequence[int]] = None, seed: int = 0, init: str = "torch") -> None: ...
    @property
    def spec(self) -> str: ...
    @property
    def input_shape(self) -> Tuple[int, ...]: ...
    @property
    def class_names(self) -> Optional[List[str]]: ...
    def summary(self) -> str: ...
    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        optimizer: str = "adam(lr=1e-3)",
        epochs: int = 10,
        batch_size: Optional[int] = None,
        loss: Optional[str] = None,
        test: Optional[Tuple[ArrayLike, ArrayLike]] = None,
        schedule: Optional[str] = None,
        early_stop: Optional[str] = None,
        clip_grad_norm: Optional[float] = None,
        threads: int = 0,
        progress: bool = True,
        seed: Optional[int] = None,
    ) -> History: ...
    def predict(self, X: ArrayLike) -> npt.NDArray[np.float32]: ...
    def predict_proba(self, X: ArrayLike) -> npt.NDArray[np.float32]: ...
    def activations(self, X: ArrayLike) -> List[Tuple[str, npt.NDArray[np.float32]]]: ...
    def state_dict(self) -> Dict[str, npt.NDArray[np.float32]]: ...
    def load_state_dict(self, state: Dict[str, ArrayLike]) -> None: ...
    def save(self, path: PathType) -> None: ...
    def to_torch(self) -> "torch.nn.Sequential": ...  # noqa: F821
    @classmethod
    def from_torch(cls, module: "torch.nn.Sequential", input: Sequence[int]) -> "Model": ...  # noqa: F821

def load(path: PathType, spec: Optional[str] = None, input: Optional[Sequence[int]] = None) -> Model: ...
def explain(
    model: Model,
    x: ArrayLike,
    method: str = "gradcam",
    target: Optional[int] = None,
    layer: Optional[int] = None,
    samples: Optional[int] = None,
    noise: Optional[float] = None,
    seed: int = 0,
    patch: Optional[int] = None,
    stride: Optional[int] = None,
) -> Dict[str, object]: ...
def lab(name: str, out: PathType = "runs", threads: int = 0, force: bool = False) -> List[Dict[str, object]]:
    """Runs a tutorial's workflow (pattern1d, sim1d, digits, lines, mnist-lab, simplecnn) as `convlab lab`,
    printing the notebook's lines; returns [{"folder", "history"}] per run."""
