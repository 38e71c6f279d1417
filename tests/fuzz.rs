//! Fuzzing every parser of the data side with seeded mutations of valid inputs built here
//! (bit flips, truncations, inserted bytes, huge numbers): none may panic, and none may ask
//! for more than a bounded amount of memory (a counting global allocator keeps the peak).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Peak;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let now = LIVE.fetch_add(new, Ordering::Relaxed) + new;
        PEAK.fetch_max(now, Ordering::Relaxed);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static ALLOCATOR: Peak = Peak;

/// The most memory one input may make a parser take.
const BOUND: usize = 256 << 20;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One seeded mutation of `good`.
fn mutate(good: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = good.to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(b.len());
        match rng.below(5) {
            0 if !b.is_empty() => b[at] ^= 1 << rng.below(8),
            1 => b.truncate(at),
            2 => {
                let n = rng.below(16);
                let ins: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                b.splice(at..at, ins);
            }
            3 => {
                // A huge number in a header field.
                let v = [0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF];
                for (i, &x) in v.iter().enumerate().take(rng.below(8) + 1) {
                    if let Some(c) = b.get_mut(at + i) {
                        *c = x;
                    }
                }
            }
            _ if !b.is_empty() => b[at] = rng.next() as u8,
            _ => {}
        }
    }
    b
}

/// Runs `f` on `n` mutations of `good`, checking it neither panics nor takes more than BOUND.
fn fuzz(what: &str, good: &[u8], n: usize, seed: u64, f: &dyn Fn(&[u8])) {
    let mut rng = Rng(seed);
    f(good);
    for i in 0..n {
        let b = if i == 0 { good.to_vec() } else { mutate(good, &mut rng) };
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&b)));
        assert!(r.is_ok(), "{what}: input {i} panicked");
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
        assert!(peak < BOUND, "{what}: input {i} took {peak} bytes");
    }
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(vec![], flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn idx(magic: u32, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut out = vec![];
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut wr = enc.write_header().unwrap();
    wr.write_image_data(&vec![7; (w * h * 3) as usize]).unwrap();
    wr.finish().unwrap();
    out
}

#[test]
fn data_parsers_survive_mutations_within_bounded_memory() {
    let dir = std::env::temp_dir().join(format!("convlab-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // IDX, raw and gzip, through the loader users reach (idx:DIR).
    let images = idx(0x803, &[6, 4, 4], &[9; 96]);
    let labels = idx(0x801, &[6], &[0, 1, 2, 0, 1, 2]);
    let names =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];
    let write_set = |img: &[u8], lab: &[u8]| {
        for (i, n) in names.iter().enumerate() {
            std::fs::write(dir.join(n), if i % 2 == 0 { img } else { lab }).unwrap();
        }
    };
    let src = convlab::data::DataSource::parse(&format!("idx:{}", dir.display())).unwrap();
    write_set(&images, &labels);
    src.load(None).expect("the valid IDX set loads");
    for (what, good) in [("idx raw", images.clone()), ("idx gzip", gz(&images))] {
        fuzz(what, &good, 150, 1, &|b| {
            write_set(b, &labels);
            let _ = src.load(None);
        });
    }
    fuzz("idx labels gzip", &gz(&labels), 150, 2, &|b| {
        write_set(&images, b);
        let _ = src.load(None);
    });

    // npz (zip + npy headers).
    // Built by convlab's own writers (npy_bytes, npz_bytes), then mutated.
    use convlab::data::npy::{npy_bytes, NpyArray, NpyData};
    let xa = NpyArray { shape: vec![3, 2, 2], data: NpyData::U8(vec![1; 12]) };
    let ya = NpyArray { shape: vec![3], data: NpyData::I64(vec![0, 1, 0]) };
    let x = npy_bytes(&xa);
    let npz = convlab::data::npz_write::npz_bytes(&[("X", &xa), ("y", &ya)]).unwrap();
    convlab::data::npz::npz_from_bytes(&npz, "f.npz", "f".into()).expect("the valid npz loads");
    fuzz("npz", &npz, 400, 3, &|b| {
        let _ = convlab::data::npz::npz_from_bytes(b, "f.npz", "f".into());
    });
    fuzz("npy", &x, 300, 4, &|b| {
        let _ = convlab::data::npy::parse_npy(b, "x.npy");
    });

    // PNG and JPEG.
    let p = png(5, 4);
    convlab::data::images::decode_image(&p, "a.png").expect("the valid PNG decodes");
    fuzz("png", &p, 300, 5, &|b| {
        let _ = convlab::data::images::decode_image(b, "a.png");
    });

    // Data-source strings.
    for (i, s) in
        ["sim1d(n=100,noise=0.1)", "pattern1d(n=5,width=7)", "npz:a.npz,b.npz", "lines(n=10)"].iter().enumerate()
    {
        fuzz("data source", s.as_bytes(), 200, 10 + i as u64, &|b| {
            let s = String::from_utf8_lossy(b);
            if let Ok(convlab::data::DataSource::Synthetic { name, params }) = convlab::data::DataSource::parse(&s) {
                let _ = convlab::data::synthetic::generate(&name, &params);
            }
        });
    }

    // PyTorch .pt files (zip and legacy; the pickle, its memo, storages and views): every
    // fixture, truncated anywhere and mutated, through the importer users reach.
    use convlab::interop::import::{import_pt, ImportOptions};
    let pt = |name: &str| std::fs::read(env!("CARGO_MANIFEST_DIR").to_string() + "/tests/fixtures/pt/" + name).unwrap();
    let fixtures = [
        ("mnist_lab_state_dict.pt", Some("mnist-lab")),
        ("legacy_format.pt", Some("mnist-lab")),
        ("shared_storage.pt", Some("pattern1d")),
        ("simplecnn_checkpoint.pt", Some("simplecnn")),
        ("whole_module_pattern1d.pt", None),
        ("malicious.pt", Some("pattern1d")),
    ];
    for (i, (name, model)) in fixtures.into_iter().enumerate() {
        let good = pt(name);
        let opts = ImportOptions {
            model: model.map(str::to_string),
            input: Some(if i == 4 || i == 2 { "1,20" } else { "1,28,28" }.into()),
            key: None,
        };
        let import = |b: &[u8]| {
            let _ = import_pt(b, name, &opts);
        };
        for cut in (0..good.len()).step_by(good.len() / 97 + 1) {
            fuzz(name, &good[..cut], 1, 0, &import);
        }
        fuzz(name, &good, 150, 30 + i as u64, &import);
        // A zip's checksums catch most flips, so also mutate the pickle itself, re-zipped.
        if good.starts_with(b"PK") {
            let zip = convlab::data::zip::ZipArchive::parse(&good, name).unwrap();
            let members: Vec<(String, Vec<u8>)> =
                zip.names().iter().map(|n| (n.to_string(), zip.read(n).unwrap().unwrap())).collect();
            let pkl = members.iter().find(|(n, _)| n.ends_with("data.pkl")).unwrap().1.clone();
            fuzz(name, &pkl, 300, 40 + i as u64, &|b| {
                let records: Vec<(&str, &[u8])> = members
                    .iter()
                    .map(|(n, d)| (n.as_str(), if n.ends_with("data.pkl") { b } else { d.as_slice() }))
                    .collect();
                import(&convlab::data::npz_write::stored_zip(&records, 64).unwrap());
            });
        }
    }

    // Sweep shard files.
    use convlab::study::sweep::{results, Shard, SweepConfig};
    let shard = dir.join("runs-shard-0-of-2.jsonl");
    results::write(&shard, &results::Header::new(&SweepConfig::default(), Shard { index: 0, count: 2 }, 4), &[])
        .unwrap();
    let good = std::fs::read(&shard).unwrap();
    fuzz("shard file", &good, 300, 20, &|b| {
        std::fs::write(&shard, b).unwrap();
        let _ = results::merge(std::slice::from_ref(&shard));
    });
    std::fs::remove_dir_all(&dir).unwrap();
}
