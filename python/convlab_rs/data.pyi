from typing import Optional, Tuple

import numpy as np
import numpy.typing as npt

def load(
    source: str = "digits", data_dir: Optional[str] = None, test_fraction: float = 0.2, seed: int = 0
) -> Tuple[npt.NDArray[np.float32], np.ndarray, npt.NDArray[np.float32], np.ndarray]: ...
