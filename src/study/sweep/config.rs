//! A sweep's settings: one training setup, the seeds, a grid of values to vary and the
//! success criterion. Read from `sweep.toml` (or flags); written back so a sweep replays.

use crate::error::{Error, Result};
use crate::train::config::{from_toml_keys, RunConfig, TrainingSettings};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SweepConfig {
    /// Every run's training setup, before its grid point's values are applied.
    #[serde(flatten)]
    pub training: TrainingSettings,
    /// How many seeds per grid point: `seed_start`, `seed_start + 1`, ...
    pub seeds: usize,
    pub seed_start: u64,
    /// The seed of the train/test split (when the data needs one), the same for every run:
    /// a run's own seed sets only its initial weights and batch order.
    pub data_seed: u64,
    /// E.g. `train_accuracy >= 1` or `train_loss < 0.05`, judged at the last epoch.
    pub success: Option<String>,
    /// Setting → values; every combination is a grid point (keys in alphabetical order).
    #[serde(deserialize_with = "scalars")]
    pub grid: BTreeMap<String, Vec<String>>,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig::from_run(&RunConfig::default())
    }
}

/// Grid values as text, whether the TOML wrote `3`, `0.05`, `true` or `"adam(lr=1e-3)"`:
/// `filters = [3, 4]` and `--grid filters=3,4` must be the same sweep.
fn scalars<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Int(i64),
        Float(f64),
        Bool(bool),
        Text(String),
    }
    let raw = BTreeMap::<String, Vec<Scalar>>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| {
            let v = v
                .into_iter()
                .map(|s| match s {
                    Scalar::Int(i) => i.to_string(),
                    Scalar::Float(f) => f.to_string(),
                    Scalar::Bool(b) => b.to_string(),
                    Scalar::Text(t) => t,
                })
                .collect();
            (k, v)
        })
        .collect())
}

impl SweepConfig {
    /// A sweep of one training setup (e.g. a lab's), 10 seeds, no grid yet.
    pub fn from_run(r: &RunConfig) -> Self {
        SweepConfig {
            training: r.training.clone(),
            seeds: 10,
            seed_start: 0,
            data_seed: 0,
            success: None,
            grid: BTreeMap::new(),
        }
    }

    /// The training setup of one run, before the grid point's values are applied.
    pub fn run_config(&self, seed: u64) -> RunConfig {
        RunConfig { training: self.training.clone(), seed, threads: 1, restarts: 1, ..RunConfig::default() }
    }

    /// The keys of `sweep.toml`: the training settings' and the sweep's own.
    fn keys() -> Vec<&'static str> {
        let own = ["seeds", "seed_start", "data_seed", "success", "grid"];
        TrainingSettings::KEYS.iter().copied().chain(own).collect()
    }

    pub fn from_toml(text: &str) -> Result<Self> {
        from_toml_keys(text, &Self::keys(), "sweep config")
    }

    /// A sweep's starting point: a `sweep.toml` file's settings, a lab's setup, or the defaults.
    pub fn base(config: Option<&Path>, lab: Option<&str>) -> Result<Self> {
        match (config, lab) {
            (Some(_), Some(lab)) => Err(Error::config(format!("give either --config or --lab {lab}, not both"))),
            (Some(p), None) => Self::from_toml(&std::fs::read_to_string(p).map_err(|e| Error::read(p, e))?),
            (None, Some(lab)) => Ok(Self::from_run(&(crate::train::labs::find(lab)?.config)())),
            (None, None) => Ok(Self::default()),
        }
    }

    /// Sets the keys of `values` (the keys `sweep.toml` takes, with the values it would hold;
    /// what Python's keyword arguments become). `grid` adds to the grid, key by key, as
    /// `--grid` does.
    pub fn override_with(&mut self, values: serde_json::Map<String, serde_json::Value>) -> Result<()> {
        use serde_json::Value;
        let keys = Self::keys();
        let Value::Object(mut all) = serde_json::to_value(&*self).expect("a SweepConfig always serialises") else {
            unreachable!("a struct serialises to an object")
        };
        for (k, v) in values {
            if !keys.contains(&k.as_str()) {
                return Err(Error::config(format!(
                    "sweep: unknown setting `{k}`; the settings are {}",
                    keys.join(", ")
                )));
            }
            match (k.as_str(), v, all.get_mut("grid")) {
                ("grid", Value::Object(new), Some(Value::Object(grid))) => grid.extend(new),
                ("grid", other, _) => {
                    return Err(Error::config(format!("sweep: grid must map settings to value lists, not {other}")))
                }
                (_, v, _) => {
                    all.insert(k, v);
                }
            }
        }
        *self =
            serde_json::from_value(Value::Object(all)).map_err(|e| Error::config(format!("sweep settings: {e}")))?;
        Ok(())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a SweepConfig always serialises")
    }

    /// A short stable identity of the sweep (FNV-1a of its canonical JSON): shards of the
    /// same sweep carry the same one.
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_string(self).expect("a SweepConfig always serialises");
        let mut h: u64 = 0xcbf29ce484222325;
        for b in json.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        format!("{h:016x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_values_of_any_toml_type_become_text_and_round_trip() {
        let c = SweepConfig::from_toml("seeds = 5\n[grid]\nfilters = [3, 4]\nlr = [0.05, \"0.1\"]\n").unwrap();
        assert_eq!(c.grid["filters"], ["3", "4"]);
        assert_eq!(c.grid["lr"], ["0.05", "0.1"]);
        assert_eq!(SweepConfig::from_toml(&c.to_toml()).unwrap(), c);
        assert_eq!(c.fingerprint(), SweepConfig::from_toml(&c.to_toml()).unwrap().fingerprint());
        assert_ne!(c.fingerprint(), SweepConfig { seeds: 6, ..c.clone() }.fingerprint());
        assert!(SweepConfig::from_toml("seedz = 5").unwrap_err().to_string().contains("seedz"));
    }

    #[test]
    fn overrides_set_keys_as_the_toml_file_would_and_add_to_the_grid() {
        let mut c = SweepConfig::from_toml("seeds = 5\nepochs = 3\n[grid]\nfilters = [3, 4]\n").unwrap();
        let json = r#"{"seeds": 2, "optimizer": "adam(lr=0.01)", "loss": "mse", "grid": {"lr": [0.05, "0.1"]}}"#;
        c.override_with(serde_json::from_str(json).unwrap()).unwrap();
        let want = SweepConfig::from_toml(
            "seeds = 2\nepochs = 3\noptimizer = \"adam(lr=0.01)\"\nloss = \"mse\"\n[grid]\nfilters = [3, 4]\nlr = [0.05, \"0.1\"]\n",
        )
        .unwrap();
        assert_eq!(c, want);
        let bad = |json: &str| c.clone().override_with(serde_json::from_str(json).unwrap()).unwrap_err().to_string();
        assert!(bad(r#"{"seedz": 2}"#).contains("unknown setting `seedz`"));
        assert!(bad(r#"{"epochs": "many"}"#).contains("sweep settings"));
        assert!(bad(r#"{"grid": [1]}"#).contains("value lists"));
    }
}
