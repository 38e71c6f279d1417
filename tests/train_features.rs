//! `--schedule`, `--early-stop` and `--clip-grad-norm` as a user runs them: the rate of each
//! epoch in metrics.jsonl, the best epoch's weights after a stop, resumption that ends where an
//! uninterrupted run does, and clear errors.

use std::path::Path;

mod common;
use common::{convlab, fails_cleanly, text};

fn scratch(name: &str) -> std::path::PathBuf {
    common::scratch("train_features", name)
}

fn train(out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["train", "--data", "digits", "--model", "digits", "--batch-size", "64", "--seed", "5", "--out"];
    args.push(out.to_str().unwrap());
    args.extend_from_slice(extra);
    let o = convlab(&args);
    assert!(o.status.success(), "{}", text(&o));
    text(&o)
}

fn model_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("model.safetensors")).unwrap()
}

fn metrics(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Losses, accuracies and rates epoch by epoch (the timings differ from run to run).
fn curve(dir: &Path) -> Vec<String> {
    metrics(dir)
        .iter()
        .map(|m| {
            let mut m = m.clone();
            m.as_object_mut().unwrap().remove("seconds");
            m.to_string()
        })
        .collect()
}

#[test]
fn the_rate_of_each_epoch_is_in_the_metrics_and_the_progress_line() {
    let d = scratch("rates");
    let out = d.join("step");
    let t = train(&out, &["--epochs", "4", "--optimizer", "sgd(lr=0.1)", "--schedule", "step(step_size=2,gamma=0.5)"]);
    let lrs: Vec<f64> = metrics(&out).iter().map(|m| m["lr"].as_f64().unwrap()).collect();
    assert_eq!(lrs, [0.1, 0.1, 0.05, 0.05]);
    assert!(t.contains("lr 5.0000e-2"), "{t}");
    // Without a schedule the rate is the optimizer's, and the line does not repeat it.
    let plain = d.join("plain");
    let t = train(&plain, &["--epochs", "1", "--optimizer", "sgd(lr=0.1)"]);
    assert_eq!(metrics(&plain)[0]["lr"].as_f64(), Some(0.1));
    assert!(!t.contains(" lr "), "{t}");
    // The epoch's last batch loss rides along.
    assert!(metrics(&plain)[0]["last_batch_loss"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_resumed_run_with_a_schedule_ends_where_the_uninterrupted_one_did() {
    let d = scratch("resume");
    // plateau in mode max on a loss: every epoch after the first is "worse", so the rate halves
    // each epoch and the checkpoint's plateau state decides the resumed rates.
    for (name, schedule) in
        [("plateau", "plateau(mode=max,factor=0.5,patience=0)"), ("onecycle", "onecycle(max_lr=0.01,total_steps=92)")]
    {
        let extra = |epochs: &'static str, threads: &'static str| {
            vec![
                "--epochs",
                epochs,
                "--threads",
                threads,
                "--quiet",
                "--schedule",
                schedule,
                "--early-stop",
                "test_loss,patience=2",
                "--clip-grad-norm",
                "0.5",
            ]
        };
        let (full1, full2, cut) =
            (d.join(format!("{name}-1")), d.join(format!("{name}-2")), d.join(format!("{name}-cut")));
        train(&full1, &extra("4", "1"));
        train(&full2, &extra("4", "2"));
        assert_eq!(model_bytes(&full1), model_bytes(&full2), "{name}: 1 and 2 threads must give identical weights");
        // A run stopped after epoch 2 (as a kill would leave it: config for 4, checkpoint at 2).
        train(&cut, &extra("2", "2"));
        let cfg = std::fs::read_to_string(cut.join("config.toml")).unwrap().replace("epochs = 2", "epochs = 4");
        std::fs::write(cut.join("config.toml"), cfg).unwrap();
        std::fs::remove_file(cut.join("model.safetensors")).unwrap();
        let o = convlab(&["train", "--resume", cut.to_str().unwrap(), "--quiet"]);
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(
            model_bytes(&full1),
            model_bytes(&cut),
            "{name}: the resumed run must end where the uninterrupted one did"
        );
        assert_eq!(curve(&full1), curve(&cut), "{name}");
        let lrs: Vec<f64> = metrics(&full1).iter().map(|m| m["lr"].as_f64().unwrap()).collect();
        assert!(lrs.windows(2).any(|w| w[0] != w[1]), "{name}: the rate never changed: {lrs:?}");
    }
}

#[test]
fn early_stopping_keeps_the_best_epochs_weights() {
    let d = scratch("stop");
    let (stopped, one) = (d.join("stopped"), d.join("one"));
    // No epoch improves on the first by 100: the run stops at epoch 2 with epoch 1's weights.
    let t = train(&stopped, &["--epochs", "5", "--early-stop", "train_loss,patience=1,min_delta=100"]);
    assert!(
        t.contains("early stop at epoch 2: train_loss did not improve by > 100 for 1 epochs; model.safetensors holds epoch 1's weights"),
        "{t}"
    );
    assert_eq!(metrics(&stopped).len(), 2);
    train(&one, &["--epochs", "1"]);
    assert_eq!(model_bytes(&stopped), model_bytes(&one), "the model must hold epoch 1's weights");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(stopped.join("early_stop.json")).unwrap()).unwrap();
    assert_eq!((record["stopped_at_epoch"].as_u64(), record["best_epoch"].as_u64()), (Some(2), Some(1)));
    assert_eq!(record["best"].as_f64(), metrics(&stopped)[0]["train_loss"].as_f64());
    // Resuming a stopped run trains nothing more and keeps the best weights.
    let o = convlab(&["train", "--resume", stopped.to_str().unwrap()]);
    assert!(o.status.success() && text(&o).contains("early stop at epoch 2"), "{}", text(&o));
    assert_eq!(metrics(&stopped).len(), 2);
    assert_eq!(model_bytes(&stopped), model_bytes(&one));
    // Cut after epoch 1, the watch (its best epoch, value and weights) comes from the checkpoint.
    let cut = d.join("cut");
    train(&cut, &["--epochs", "1", "--early-stop", "train_loss,patience=1,min_delta=100", "--quiet"]);
    let cfg = std::fs::read_to_string(cut.join("config.toml")).unwrap().replace("epochs = 1", "epochs = 5");
    std::fs::write(cut.join("config.toml"), cfg).unwrap();
    let o = convlab(&["train", "--resume", cut.to_str().unwrap(), "--quiet"]);
    assert!(o.status.success() && text(&o).contains("early stop at epoch 2"), "{}", text(&o));
    assert_eq!(model_bytes(&cut), model_bytes(&one));
    assert_eq!(curve(&cut), curve(&stopped));
    // `convlab summary RUN` says so.
    let o = convlab(&["summary", stopped.to_str().unwrap()]);
    assert!(text(&o).contains("early stop at epoch 2"), "{}", text(&o));
    // A run that never stops keeps its last weights and has no record.
    let never = d.join("never");
    train(&never, &["--epochs", "2", "--early-stop", "test_accuracy,patience=5"]);
    assert!(!never.join("early_stop.json").exists());
}

#[test]
fn clipping_changes_the_run_and_bad_settings_are_refused() {
    let d = scratch("clip");
    let (clipped, free) = (d.join("clipped"), d.join("free"));
    train(&clipped, &["--epochs", "1", "--clip-grad-norm", "0.01", "--quiet"]);
    train(&free, &["--epochs", "1", "--quiet"]);
    assert_ne!(model_bytes(&clipped), model_bytes(&free), "a tight clip must change the weights");
    let o = d.join("bad");
    let o = o.to_str().unwrap();
    fails_cleanly(&["train", "--data", "digits", "--schedule", "warmup(3)", "--out", o], "unknown schedule");
    fails_cleanly(&["train", "--data", "digits", "--schedule", "cosine(t_max=0)", "--out", o], "t_max");
    fails_cleanly(&["train", "--data", "digits", "--early-stop", "val_loss", "--out", o], "test_loss");
    fails_cleanly(&["train", "--data", "digits", "--early-stop", "test_loss,wait=3", "--out", o], "patience=N");
    fails_cleanly(&["train", "--data", "digits", "--clip-grad-norm", "0", "--out", o], "--clip-grad-norm");
    fails_cleanly(&["train", "--data", "sim1d", "--early-stop", "test_accuracy", "--out", o], "no accuracy");
    fails_cleanly(
        &["train", "--data", "digits", "--schedule", "onecycle(0.1,total_steps=3)", "--out", o],
        "fewer than the run's",
    );
    assert!(!Path::new(o).exists(), "refused settings must not leave a run folder");
    // A onecycle run spans its epochs' batches, so it is not extended.
    let one = d.join("onecycle");
    train(&one, &["--epochs", "1", "--schedule", "onecycle(max_lr=0.01)", "--quiet"]);
    fails_cleanly(&["train", "--resume", one.to_str().unwrap(), "--epochs", "2"], "cannot be extended");
    // A sweep takes the settings too.
    let config = d.join("sweep.toml");
    std::fs::write(
        &config,
        "data = \"digits\"\nepochs = 1\nclip_grad_norm = 1.0\nseeds = 1\n\
         [grid]\nschedule = [\"cosine(t_max=1)\", \"step(step_size=1,gamma=0.5)\"]\n",
    )
    .unwrap();
    let sweep_out = d.join("sweep");
    let r = convlab(&["sweep", "--config", config.to_str().unwrap(), "--out", sweep_out.to_str().unwrap()]);
    assert!(r.status.success(), "{}", text(&r));
    assert!(text(&r).contains("step(step_size=1,gamma=0.5)"), "{}", text(&r));
}

/// Tutorial 002 prints each epoch's last minibatch loss; the lab prints it beside the mean.
#[test]
fn mnist_lab_prints_the_final_minibatch_loss() {
    let d = scratch("mnist-lab");
    let data = d.join("data").join("fashion-mnist");
    std::fs::create_dir_all(&data).unwrap();
    let idx = |magic: u32, dims: &[u32], body: Vec<u8>| -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        dims.iter().for_each(|x| v.extend(x.to_be_bytes()));
        v.extend(body);
        v
    };
    // 100 training images: one batch of 100 per epoch, so its loss is the epoch's mean.
    for (stem, n) in [("train", 100u32), ("t10k", 20)] {
        let pixels = (0..n * 784).map(|i| (i * 7 % 251) as u8).collect();
        let labels = (0..n).map(|i| (i % 10) as u8).collect();
        std::fs::write(data.join(format!("{stem}-images-idx3-ubyte")), idx(0x803, &[n, 28, 28], pixels)).unwrap();
        std::fs::write(data.join(format!("{stem}-labels-idx1-ubyte")), idx(0x801, &[n], labels)).unwrap();
    }
    let out = d.join("runs");
    let o = common::command()
        .env("CONVLAB_DATA", d.join("data"))
        .args(["lab", "mnist-lab", "--threads", "2", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let run = out.join("lab-mnist-lab");
    for m in metrics(&run) {
        let last = m["last_batch_loss"].as_f64().unwrap();
        let line = format!("Epoch {} final minibatch had loss {last:.4} (epoch mean {last:.4}", m["epoch"]);
        assert!(t.contains(&line), "{line} not in\n{t}");
        assert_eq!(format!("{last:.4}"), format!("{:.4}", m["train_loss"].as_f64().unwrap()));
    }
}
