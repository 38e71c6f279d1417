"""Reads a folder of TensorBoard event files with TensorBoard's own EventAccumulator (run by
tests/interop.rs) and prints what it found as JSON: scalars {tag: [[step, value]]}, histograms
{tag: [[step, count]]} and images {tag: [[step, width, height]]}.

    python read_tensorboard.py DIR
"""
import json
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "histograms": 0, "images": 0})
acc.Reload()
tags = acc.Tags()
out = {
    "scalars": {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]},
    "histograms": {t: [[e.step, e.histogram_value.num] for e in acc.Histograms(t)] for t in tags["histograms"]},
    "images": {t: [[e.step, e.width, e.height] for e in acc.Images(t)] for t in tags["images"]},
}
print(json.dumps(out))
