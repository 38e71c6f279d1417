"""examples/python/tutorial_002.ipynb is a real notebook whose code is its .py twin's (which
test_model.py runs), so the two cannot drift."""

import importlib.util
import json
import pathlib

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python"


def test_the_notebook_is_its_twins_code():
    nb = json.loads((EXAMPLES / "tutorial_002.ipynb").read_text())
    assert nb["nbformat"] == 4 and nb["metadata"]["kernelspec"]["language"] == "python"
    for c in nb["cells"]:
        assert c["cell_type"] in ("code", "markdown") and isinstance(c["source"], list)
        if c["cell_type"] == "code":
            assert c["outputs"] == [] and c["execution_count"] is None
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    # The twin's code, read here on its own: the lines of its code cells, between the markers.
    twin, block, kind = [], [], None
    for line in (EXAMPLES / "tutorial_002.py").read_text().splitlines() + ["# %% end"]:
        if line.startswith("# %%"):
            if kind == "code":
                twin.append("\n".join(block).strip("\n"))
            block, kind = [], "markdown" if "[markdown]" in line else "code"
        else:
            block.append(line)
    assert code == twin
    # And byte for byte what notebook.py makes (rerun it after editing the twin).
    spec = importlib.util.spec_from_file_location("notebook", EXAMPLES / "notebook.py")
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    assert (EXAMPLES / "tutorial_002.ipynb").read_text() == maker.text((EXAMPLES / "tutorial_002.py").read_text()), \
        "tutorial_002.ipynb is out of date: python examples/python/notebook.py"
