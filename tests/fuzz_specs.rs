//! Fuzzing, bounded to seconds: every parser of settings and model files takes thousands of
//! seeded random and mutated inputs without a panic and without a single allocation larger
//! than convlab's documented caps (a size claimed by the input must be checked before it is
//! allocated). Covered: model specs with input shapes, optimizer / loss / batch-size / rng
//! settings, run and sweep TOML configs, and safetensors model files.

use convlab::engine::dims::MAX_VALUES;
use convlab::engine::Dims;
use convlab::model::{io, Model};
use convlab::rng::Rng;
use convlab::study::sweep::SweepConfig;
use convlab::train::config::{parse_batch_size, InitStream, RunConfig};
use convlab::{Loss, OptimizerConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Records the largest single allocation.
struct Largest;
static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// A model's largest buffer is one tensor of at most MAX_VALUES values (f32 or f64), with room
/// for the allocator's rounding.
const ALLOCATION_CAP: usize = MAX_VALUES * 8 + (1 << 20);

/// Runs `f` on `input`: no panic, no allocation beyond the cap.
fn survives(what: &str, input: &str, f: impl FnOnce() + std::panic::UnwindSafe) {
    LARGEST.store(0, Ordering::Relaxed);
    if std::panic::catch_unwind(f).is_err() {
        panic!("{what} panicked on {input:?}");
    }
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(largest <= ALLOCATION_CAP, "{what} allocated {largest} bytes at once on {input:?}");
}

const TOKENS: &[&str] = &[
    "conv1d",
    "conv2d",
    "maxpool1d",
    "maxpool2d",
    "avgpool2d",
    "avgpool1d",
    "batchnorm1d",
    "batchnorm2d",
    "dropout",
    "relu",
    "leakyrelu",
    "sigmoid",
    "tanh",
    "flatten",
    "linear",
    "adam",
    "sgd",
    "adamw",
    "(",
    ")",
    ",",
    "=",
    " ",
    "k",
    "s",
    "p",
    "d",
    "x",
    "same",
    "valid",
    "bias",
    "false",
    "lr",
    "momentum",
    "betas",
    "0",
    "1",
    "2",
    "3",
    "5",
    "8",
    "16",
    "1e-3",
    "-1",
    "0.5",
    "nan",
    "inf",
    "1e308",
    "65535",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "99999999999999999999999",
    "ü",
    "\"",
    "\n",
];

fn random_text(rng: &mut Rng, max_tokens: usize) -> String {
    let n = 1 + rng.below(max_tokens);
    (0..n).map(|_| TOKENS[rng.below(TOKENS.len())]).collect()
}

/// `text` with a few characters replaced, deleted or inserted, or one of its numbers replaced
/// by an extreme one.
fn mutate(rng: &mut Rng, text: &str) -> String {
    const NUMBERS: &[&str] = &["0", "1", "65535", "4294967297", "9223372036854775808", "1e308", "-3", "nan", "0.0"];
    let digits: Vec<usize> = text.char_indices().filter(|(_, c)| c.is_ascii_digit()).map(|(i, _)| i).collect();
    if !digits.is_empty() && rng.below(2) == 0 {
        let at = digits[rng.below(digits.len())];
        let end = text[at..].find(|c: char| !c.is_ascii_digit()).map_or(text.len(), |e| at + e);
        return format!("{}{}{}", &text[..at], NUMBERS[rng.below(NUMBERS.len())], &text[end..]);
    }
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(2) {
        let at = rng.below(chars.len() + 1);
        match rng.below(3) {
            0 if at < chars.len() => chars[at] = TOKENS[rng.below(TOKENS.len())].chars().next().unwrap_or('x'),
            1 if at < chars.len() => {
                chars.remove(at);
            }
            _ => chars.splice(at..at, TOKENS[rng.below(TOKENS.len())].chars()).for_each(drop),
        }
    }
    chars.into_iter().collect()
}

fn random_dims(rng: &mut Rng) -> Dims {
    let n = |rng: &mut Rng| [1, 2, 3, 5, 8, 11, 28, 64, 1000][rng.below(9)];
    match rng.below(3) {
        0 => Dims::flat(n(rng)),
        1 => Dims::signal(n(rng), n(rng)),
        _ => Dims::image(n(rng), n(rng), n(rng)),
    }
}

const SPECS: &[(&str, &str)] = &[
    ("conv2d(8,k=5,p=2) relu maxpool2d(2) flatten linear(10)", "1,28,28"),
    ("conv1d(4,k=5,p=2) relu maxpool1d(20) flatten linear(1)", "1,20"),
    ("conv1d(4,k=3,p=1,bias=false) batchnorm1d relu dropout(0.25) flatten linear(1)", "2,5"),
    (
        "conv2d(16,k=3,p=same,d=2) leakyrelu(negative_slope=0.1) avgpool2d(2,s=1) batchnorm2d flatten linear(32) tanh linear(2)",
        "3,11,11",
    ),
];

#[test]
fn model_specs_never_panic_nor_overallocate() {
    let mut rng = Rng::new(1);
    let built = std::sync::Arc::new(AtomicUsize::new(0));
    for i in 0..4000 {
        let (base, natural) = SPECS[rng.below(SPECS.len())];
        let spec = if i % 4 == 0 { random_text(&mut rng, 12) } else { mutate(&mut rng, base) };
        let dims = if i % 4 == 3 { random_dims(&mut rng) } else { Dims::parse(natural).unwrap() };
        let (s, built) = (spec.clone(), built.clone());
        survives("Model::new", &format!("{spec} on {dims}"), move || {
            if Model::<f32>::new(&s, dims).is_ok() {
                built.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    // Not only parse errors: many inputs build a model (and allocate it).
    assert!(built.load(Ordering::Relaxed) > 150, "only {built:?} specs built");
}

#[test]
fn settings_never_panic() {
    let mut rng = Rng::new(2);
    let optimizers = ["sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)", "adam(lr=1e-3,betas=(0.9,0.999),eps=1e-8)"];
    for i in 0..4000 {
        let base = optimizers[rng.below(optimizers.len())];
        let text = if i % 2 == 0 { random_text(&mut rng, 10) } else { mutate(&mut rng, base) };
        let t = text.clone();
        survives("settings", &text, move || {
            let _ = OptimizerConfig::parse(&t).map(|o| o.build::<f32>());
            let _ = Loss::parse(&t);
            let _ = parse_batch_size(&t);
            let _ = InitStream::parse(&t);
        });
    }
}

#[test]
fn run_and_sweep_configs_never_panic() {
    let mut rng = Rng::new(3);
    let run = RunConfig::default().to_toml();
    let sweep = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster/sweep.toml")).unwrap();
    let parsed = std::sync::Arc::new(AtomicUsize::new(0));
    for i in 0..3000 {
        let text = mutate(&mut rng, if i % 2 == 0 { &run } else { &sweep });
        let (t, parsed) = (text.clone(), parsed.clone());
        survives("config", &text, move || {
            if let Ok(c) = RunConfig::from_toml(&t) {
                parsed.fetch_add(1, Ordering::Relaxed);
                if c.validate().is_ok() {
                    let _ = c.to_toml();
                }
            }
            let _ = SweepConfig::from_toml(&t);
        });
    }
    assert!(parsed.load(Ordering::Relaxed) > 300, "only {parsed:?} configs parsed");
}

#[test]
fn model_files_never_panic_nor_overallocate() {
    let mut rng = Rng::new(4);
    let mut m = Model::<f32>::new(SPECS[2].0, Dims::signal(2, 5)).unwrap();
    m.init(0);
    let good = io::to_bytes(&m, &[]).unwrap();
    for _ in 0..3000 {
        let mut bytes = good.clone();
        match rng.below(4) {
            0 => bytes.truncate(rng.below(bytes.len())),
            1 => {
                // A huge number in the 8-byte header length or inside the JSON header.
                let at = rng.below(8.min(bytes.len()));
                bytes[at] = 0xff;
            }
            2 => {
                let header_end = 8 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
                let at = 8 + rng.below(header_end - 8);
                bytes[at] = b"0123456789[]{},:\"9e"[rng.below(19)];
            }
            _ => {
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(bytes.len());
                    bytes[at] ^= 1 << rng.below(8);
                }
            }
        }
        let mut into = m.clone();
        survives("load_state", "a mutated model file", move || {
            let _ = io::load_state(&mut into, &bytes);
        });
    }
}
