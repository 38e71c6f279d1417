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
def sweep(
    lab: Optional[str] = None,
    config: Optional[PathType] = None,
    grid: Optional[Dict[str, Sequence[object]]] = None,
    seeds: Optional[int] = None,
    seed_start: Optional[int] = None,
    success: Optional[str] = None,
    data_seed: Optional[int] = None,
    out: Optional[PathType] = None,
    shard: Optional[str] = None,
    jobs: int = 0,
    force: bool = False,
    progress: bool = True,
    *,
    data: Optional[str] = None,
    data_dir: Optional[str] = None,
    model: Optional[str] = None,
    optimizer: Optional[str] = None,
    epochs: Optional[int] = None,
    batch_size: Union[int, str, None] = None,
    loss: Optional[str] = None,
    rng: Optional[str] = None,
    test_fraction: Optional[float] = None,
    schedule: Optional[str] = None,
    early_stop: Optional[str] = None,
    clip_grad_norm: Optional[float] = None,
) -> Dict[str, object]:
    """Trains a grid of settings × seeds (as `convlab sweep`); returns {"runs": [dict per run],
    "summary": [dict per grid point], "table", "success", "fingerprint", "folder", "files"}."""

def simulate(
    model: str = "sim1d-linear",
    input: Optional[Sequence[int]] = None,
    n: int = 1000,
    noise: float = 1.0,
    seed: int = 1337,
    bias: Optional[float] = None,
    truth: Optional[PathType] = None,
    out: Optional[PathType] = None,
    force: bool = False,
) -> Dict[str, object]:
    """Data from a known network (as `convlab simulate`); returns {"X", "y" (NumPy), "truth"
    (Model), "info", "folder"}; saves into out when given."""

def recover(
    dir: PathType,
    model: Optional[str] = None,
    replicates: int = 5,
    optimizer: str = "adam(lr=0.02)",
    epochs: int = 500,
    batch_size: Union[int, str, None] = None,
    seed: int = 1,
    test_fraction: float = 0.2,
    truth: Optional[PathType] = None,
    jobs: int = 0,
    out: Optional[PathType] = None,
    force: bool = False,
    progress: bool = True,
) -> Dict[str, object]:
    """Fits replicates to a simulation and compares them with the truth (as `convlab recover`);
    returns {"summary", "replicates", "recovery", "table", "explanation", "models" (Models),
    "report" (report.md), "folder", "files"}."""
