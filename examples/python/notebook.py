"""Makes tutorial_002.ipynb from its twin tutorial_002.py, so the two cannot drift: each
`# %%` line starts a code cell, `# %% [markdown]` a markdown cell (its lines without "# ").
python/tests/test_notebook.py checks the notebook equals what this makes.

    python examples/python/notebook.py        # rewrites tutorial_002.ipynb
"""

import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent


def cells(source):
    """[(kind, text)] of a percent-format script."""
    out = []
    for line in source.splitlines():
        if line.startswith("# %%"):
            out.append(["markdown" if "[markdown]" in line else "code", []])
        elif out:
            out[-1][1].append(line)
    result = []
    for kind, lines in out:
        while lines and not lines[-1].strip():
            lines.pop()
        if kind == "markdown":
            lines = [l[2:] if l.startswith("# ") else l.lstrip("#") for l in lines]
        result.append((kind, "\n".join(lines)))
    return result


def notebook(source):
    """The nbformat 4 notebook of a percent-format script, without outputs."""
    def cell(kind, text):
        lines = text.splitlines(keepends=True)
        c = {"cell_type": kind, "metadata": {}, "source": lines}
        if kind == "code":
            c.update(execution_count=None, outputs=[])
        return c

    return {
        "cells": [cell(k, t) for k, t in cells(source)],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def text(source):
    return json.dumps(notebook(source), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    twin = HERE / "tutorial_002.py"
    (HERE / "tutorial_002.ipynb").write_text(text(twin.read_text()))
    print("wrote", HERE / "tutorial_002.ipynb")
