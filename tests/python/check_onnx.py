"""Checks convlab's ONNX export against the real thing (run by tests/interop.rs).

    python check_onnx.py MANIFEST.json

The manifest lists cases: {"name", "onnx" (a file), "tolerance", "runs": [{"shape", "x", "y"}]},
where y is convlab's own evaluation forward pass of x. Each model must pass
onnx.checker.check_model(full_check=True) and strict shape inference must agree with every
shape in the file's value_info; onnxruntime's output for each x must equal y within the
tolerance (|ort - y| <= tol * (1 + |y|)). Prints one line per case, then a summary; exits 1 if
any case fails.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def shapes(values):
    out = {}
    for v in values:
        dims = v.type.tensor_type.shape.dim
        out[v.name] = [d.dim_param if d.HasField("dim_param") else d.dim_value for d in dims]
    return out


def check(case):
    model = onnx.load(case["onnx"])
    onnx.checker.check_model(model, full_check=True)
    g = model.graph
    given = shapes(g.value_info)
    # Every node output but the graph's own output has its shape written down ...
    produced = [o for n in g.node for o in n.output]
    missing = [o for o in produced if o not in given and o != g.output[0].name]
    if missing:
        return f"no value_info for {missing}"
    # ... and ONNX's own shape inference agrees with it.
    inferred = shapes(onnx.shape_inference.infer_shapes(model, strict_mode=True).graph.value_info)
    for name, shape in given.items():
        if name in inferred and inferred[name] != shape:
            return f"value_info of {name} says {shape}, shape inference {inferred[name]}"
    meta = {p.key: p.value for p in model.metadata_props}
    if "convlab_spec" not in meta or "convlab_version" not in meta:
        return f"metadata_props lacks the spec or version: {meta}"
    session = ort.InferenceSession(case["onnx"], providers=["CPUExecutionProvider"])
    worst = 0.0
    for run in case["runs"]:
        x = np.array(run["x"], dtype=np.float32).reshape(run["shape"])
        want = np.array(run["y"], dtype=np.float32)
        got = session.run(None, {session.get_inputs()[0].name: x})[0]
        if got.shape[0] != x.shape[0] or got.size != want.size:
            return f"batch {x.shape[0]}: onnxruntime gives shape {got.shape}, convlab {want.size} values"
        err = np.abs(got.reshape(-1).astype(np.float64) - want.astype(np.float64))
        scaled = float(np.max(err / (1.0 + np.abs(want))))
        worst = max(worst, scaled)
        if scaled > case["tolerance"]:
            return f"batch {x.shape[0]}: onnxruntime differs from convlab by {scaled:.3g} (scaled), max |diff| {float(err.max()):.3g}"
    return worst


def main():
    manifest = json.load(open(sys.argv[1]))
    failed = 0
    for case in manifest["cases"]:
        try:
            result = check(case)
        except Exception as e:  # a checker or runtime refusal is a failed case, with its reason
            result = f"{type(e).__name__}: {e}"
        if isinstance(result, float):
            print(f"ok   {case['name']}  (largest scaled difference {result:.2e})")
        else:
            failed += 1
            print(f"FAIL {case['name']}: {result}")
    print(f"onnx check: {len(manifest['cases']) - failed} of {len(manifest['cases'])} models agree")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
