"""cl.sweep, cl.simulate and cl.recover: convlab's studies (the same library entries as
`convlab sweep`, `convlab simulate` and `convlab recover`), with their results as Python
objects."""

import json

from . import _native

# Keyword arguments of sweep that set a run's training (sweep.toml's keys).
_TRAINING_KEYS = ("data", "data_dir", "model", "optimizer", "epochs", "batch_size", "loss", "rng",
                  "test_fraction", "schedule", "early_stop", "clip_grad_norm")


def sweep(lab=None, config=None, grid=None, seeds=None, seed_start=None, success=None, data_seed=None,
          out=None, shard=None, jobs=0, force=False, progress=True, **settings):
    """Trains a grid of settings × seeds, one run per core, and summarises how often training
    succeeds, as `convlab sweep` (same results, bit for bit, for any jobs and shards).

    lab: start from a lab's setup ("pattern1d": SGD .05/.9/1e-3, full batch, 500 epochs, numpy
        init); config: or from a sweep.toml file; settings (keywords) override either:
        data, data_dir, model, optimizer, epochs, batch_size (None or "full": full batch), loss,
        rng ("convlab" or "numpy"), test_fraction, schedule, early_stop, clip_grad_norm.
    grid: {setting: [values]}, every combination a grid point; settings are filters, lr,
        momentum, weight_decay, epochs, batch_size, optimizer, model, data, loss, rng, schedule,
        early_stop, clip_grad_norm. E.g. grid={"filters": [3, 4]}.
    seeds: seeds per grid point (default 10), from seed_start (0); data_seed: the train/test
        split's seed, the same for every run.
    success: the criterion at the last epoch, e.g. "train_accuracy >= 1" (the default for a
        classifier) or "train_loss < 0.05" (otherwise).
    out: results folder (default sweeps/LAB, sweeps/CONFIG-NAME or sweeps/DATA); force: replace
        earlier results there. shard: "I/N" runs only that shard (merge with `convlab sweep merge`).
    jobs: runs at once (0: all cores), each on one thread. progress: print the header, a count
        of finished runs and the table.
    Ctrl-C raises KeyboardInterrupt after the steps under way; nothing is written then.

    Returns a dict: "runs" (one dict per run: run, point, seed, final_train_loss,
    final_train_accuracy, final_test_loss, final_test_accuracy, success, epochs_to_success,
    error), "summary" (one dict per grid point: point, runs, successes, success_rate,
    success_rate_95, median_epochs_to_success, final_train_loss_q10/_median/_q90, errors; None for
    a shard), "table" (summary.txt), "success" (the criterion), "fingerprint", "folder", "files".
    """
    unknown = sorted(set(settings) - set(_TRAINING_KEYS))
    if unknown:
        raise TypeError(f"sweep() got unexpected keyword argument(s) {', '.join(unknown)}; "
                        f"the training settings are {', '.join(_TRAINING_KEYS)}")
    values = {k: v for k, v in settings.items() if v is not None}
    if values.get("batch_size") == "full" or ("batch_size" in settings and settings["batch_size"] is None):
        values["batch_size"] = 0
    for key, v in (("seeds", seeds), ("seed_start", seed_start), ("success", success), ("data_seed", data_seed)):
        if v is not None:
            values[key] = v
    if grid is not None:
        if not isinstance(grid, dict):
            raise ValueError(f"grid must be a dict of {{setting: [values]}}, not {type(grid).__name__}")
        values["grid"] = {k: [str(x) for x in (v if isinstance(v, (list, tuple)) else [v])] for k, v in grid.items()}
    r = _native.sweep(json.dumps(values), lab, None if config is None else str(config),
                      None if out is None else str(out), shard, int(jobs), bool(force), bool(progress))
    r["runs"] = json.loads(r["runs"])
    r["summary"] = json.loads(r["summary"])
    return r


def simulate(model="sim1d-linear", input=None, n=1000, noise=1.0, seed=1337, bias=None, truth=None, out=None,
             force=False):
    """Data from a known network, as `convlab simulate`: the true parameters drawn N(0, 1) (or
    read from the safetensors file `truth`), inputs N(0, 1), outputs through the true network
    plus Gaussian noise of sd `noise`, all from numpy's legacy stream seeded with `seed`; the
    default is tutorial 000's network and seed, whose inputs and weights it gives exactly.

    model: spec or preset of the true network; input: its sample shape (C, L) or (C, H, W)
    (presets know theirs); bias: the drawn output bias (default -0.5; not with truth).
    out: a folder to save data.npz, truth.safetensors and simulation.json into (for recover);
    None saves nothing. force: replace an earlier simulation there.

    Returns a dict: "X" (n, *input) float32, "y" (n,) or (n, outputs) float32, "truth" (the true
    network as a Model), "info" (what simulation.json holds) and "folder" (out, or None).
    """
    r = _native.simulate(model, None if input is None else [int(v) for v in input], int(n), float(noise), int(seed),
                         None if bias is None else float(bias), None if truth is None else str(truth),
                         None if out is None else str(out), bool(force))
    from . import Model

    r["truth"] = Model._wrap(r["truth"])
    r["info"] = json.loads(r["info"])
    return r


def recover(dir, model=None, replicates=5, optimizer="adam(lr=0.02)", epochs=500, batch_size=None, seed=1,
            test_fraction=0.2, truth=None, jobs=0, out=None, force=False, progress=True):
    """Fits replicates to a simulation (a folder simulate(out=...) or `convlab simulate` wrote)
    from seeds seed, seed+1, ... and compares each with the truth, as `convlab recover`: raw
    weights, filters matched up to order, sign and scale, the effective map of an affine network,
    and predictions against the oracle.

    model: the spec or preset to fit (default: the truth's); batch_size: None for the full batch;
    test_fraction: held out for the prediction check (one split for every replicate); truth:
    compare with this file instead of DIR/truth.safetensors; jobs: replicates at once (0: all
    cores). out: the report folder (default DIR/recover, or DIR/recover-MODEL with model);
    force: replace an earlier report there. progress: print the table.
    Ctrl-C raises KeyboardInterrupt after the steps under way; nothing is written then.

    Returns a dict: "summary" (medians over the replicates: raw_r, filters_r, ..., test_r2,
    test_mse, oracle_test_mse, noise_variance), "replicates" (one dict per replicate: seed,
    final_train_loss and its comparisons), "recovery" (all of recover.json), "table",
    "explanation" (the numbers in words), "models" (the fitted Models), "report" (report.md's
    path), "folder" and "files".
    """
    if batch_size in (None, "full"):
        batch_size = 0
    command = f"convlab_rs.recover({str(dir)!r}, model={model!r}, replicates={replicates}, optimizer={optimizer!r}, " \
              f"epochs={epochs}, batch_size={batch_size or 'None'}, seed={seed}, test_fraction={test_fraction})"
    r = _native.recover(str(dir), model, int(replicates), optimizer, int(epochs), int(batch_size), int(seed),
                        float(test_fraction), None if truth is None else str(truth), int(jobs),
                        None if out is None else str(out), bool(force), bool(progress), command)
    from . import Model

    recovery = json.loads(r.pop("json"))
    r["recovery"] = recovery
    r["summary"] = recovery["summary"]
    r["replicates"] = recovery["replicates"]
    r["models"] = [Model._wrap(m) for m in r["models"]]
    return r
