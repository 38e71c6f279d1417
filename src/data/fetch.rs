//! `convlab data fetch mnist|fashion-mnist`: download the IDX files from the usual public
//! mirrors, check each file's SHA-256, and write it atomically into the cache folder where
//! `--data mnist|fashion-mnist` looks.
//!
//! The downloader (an HTTPS client and SHA-256) is the cargo feature `fetch`, on by default;
//! the catalogue of files and mirrors is always there, so a build without it can say what to
//! download by hand and where to put it.

use crate::error::{Error, Result};
#[cfg(feature = "fetch")]
use sha2::{Digest, Sha256};
#[cfg(feature = "fetch")]
use std::io::Read;
use std::path::{Path, PathBuf};

/// What a correct file hashes to.
#[derive(Clone, Copy, Debug)]
pub enum Check {
    /// SHA-256 of the downloaded (gzip) bytes.
    File(&'static str),
    /// SHA-256 of the decompressed bytes: the mirrors serve differently compressed copies of
    /// the same Fashion-MNIST data, so the content is what is pinned.
    Content(&'static str),
}

#[derive(Clone, Copy, Debug)]
pub struct Remote {
    pub name: &'static str,
    pub check: Check,
}

/// MNIST: SHA-256 as published in TensorFlow Datasets' download checksums.
const MNIST: [Remote; 4] = [
    Remote {
        name: "train-images-idx3-ubyte.gz",
        check: Check::File("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    },
    Remote {
        name: "train-labels-idx1-ubyte.gz",
        check: Check::File("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    },
    Remote {
        name: "t10k-images-idx3-ubyte.gz",
        check: Check::File("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    },
    Remote {
        name: "t10k-labels-idx1-ubyte.gz",
        check: Check::File("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    },
];
const MNIST_MIRRORS: [&str; 2] =
    ["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"];

/// Fashion-MNIST: SHA-256 of the decompressed IDX files (measured on Debian's
/// `dataset-fashion-mnist` package, which ships the upstream data).
const FASHION: [Remote; 4] = [
    Remote {
        name: "train-images-idx3-ubyte.gz",
        check: Check::Content("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    },
    Remote {
        name: "train-labels-idx1-ubyte.gz",
        check: Check::Content("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    },
    Remote {
        name: "t10k-images-idx3-ubyte.gz",
        check: Check::Content("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    },
    Remote {
        name: "t10k-labels-idx1-ubyte.gz",
        check: Check::Content("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    },
];
const FASHION_MIRRORS: [&str; 2] = [
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
];

/// The files and default mirrors of a named set.
pub fn catalogue(name: &str) -> Result<(&'static [Remote], Vec<String>)> {
    match name {
        "mnist" => Ok((&MNIST, MNIST_MIRRORS.iter().map(|s| s.to_string()).collect())),
        "fashion-mnist" => Ok((&FASHION, FASHION_MIRRORS.iter().map(|s| s.to_string()).collect())),
        other => Err(Error::data(format!("cannot fetch `{other}`: convlab knows mnist and fashion-mnist"))),
    }
}

#[cfg(feature = "fetch")]
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `bytes` are the file `r` describes.
#[cfg(feature = "fetch")]
pub fn verify(r: &Remote, bytes: &[u8]) -> Result<()> {
    let (want, got) = match r.check {
        Check::File(want) => (want, hex(&Sha256::digest(bytes))),
        Check::Content(want) => {
            // Bounded: a decompression bomb stops at the data limit.
            let max = super::limits::max_data_bytes()?;
            let mut raw = vec![];
            flate2::read::MultiGzDecoder::new(bytes)
                .take(max.saturating_add(1))
                .read_to_end(&mut raw)
                .map_err(|e| Error::data(format!("not a valid gzip file: {e}")))?;
            if raw.len() as u64 > max {
                super::limits::check_data_bytes("the decompressed file", None)?;
            }
            (want, hex(&Sha256::digest(&raw)))
        }
    };
    if got == want {
        Ok(())
    } else {
        Err(Error::data(format!("SHA-256 {got} is not the expected {want}")))
    }
}

/// Seconds a whole download may take (connecting, waiting, receiving) before it is given up:
/// 30 minutes, enough for MNIST's 10 MB over a very slow link, never a hang.
pub const FETCH_TIMEOUT_SECS: u64 = 1800;
/// Seconds to connect, and to wait for the response to start: 30.
pub const FETCH_CONNECT_SECS: u64 = 30;
/// Environment variable that sets both timeouts (seconds), e.g. `CONVLAB_FETCH_TIMEOUT=60`.
pub const FETCH_TIMEOUT_ENV: &str = "CONVLAB_FETCH_TIMEOUT";

#[cfg(feature = "fetch")]
fn download(url: &str) -> Result<Vec<u8>> {
    use std::time::Duration;
    let env: Option<f64> =
        std::env::var(FETCH_TIMEOUT_ENV).ok().and_then(|v| v.parse().ok()).filter(|v: &f64| *v > 0.0);
    let total = env.unwrap_or(FETCH_TIMEOUT_SECS as f64);
    let connect = env.unwrap_or(FETCH_CONNECT_SECS as f64).min(total);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs_f64(total)))
        .timeout_connect(Some(Duration::from_secs_f64(connect)))
        .timeout_recv_response(Some(Duration::from_secs_f64(connect)))
        .build()
        .into();
    let failed = |e: ureq::Error| match e {
        ureq::Error::Timeout(t) => Error::data(format!(
            "no complete answer in time (the {t} timeout: {connect} s to connect and start, {total} s \
             in all); check the network or try another --mirror, or allow longer with \
             {FETCH_TIMEOUT_ENV}=SECONDS"
        )),
        e => Error::data(e.to_string()),
    };
    let mut resp = agent.get(url).call().map_err(failed)?;
    resp.body_mut().with_config().limit(200 << 20).read_to_vec().map_err(failed)
}

/// Downloads every file of `files` into `dest` (skipping ones already there and correct),
/// trying `mirrors` in order. A file is written only once its checksum is right, via a
/// temporary file and a rename, so a failure never leaves a partial or wrong file behind.
#[cfg(feature = "fetch")]
pub fn fetch_files(files: &[Remote], mirrors: &[String], dest: &Path, mut say: impl FnMut(&str)) -> Result<()> {
    std::fs::create_dir_all(dest).map_err(|e| Error::create(dest, e))?;
    for r in files {
        let path = dest.join(r.name);
        if let Ok(existing) = std::fs::read(&path) {
            if verify(r, &existing).is_ok() {
                say(&format!("{}: already there and correct", path.display()));
                continue;
            }
        }
        let mut failures = vec![];
        let mut done = false;
        for m in mirrors {
            let url = format!("{}/{}", m.trim_end_matches('/'), r.name);
            say(&format!("downloading {url}"));
            match download(&url).and_then(|b| verify(r, &b).map(|_| b)) {
                Ok(bytes) => {
                    crate::fs::write_atomic(&path, &bytes)?;
                    say(&format!("  ok: {} ({} bytes, SHA-256 checked)", path.display(), bytes.len()));
                    done = true;
                    break;
                }
                Err(e) => failures.push(format!("{url}: {e}")),
            }
        }
        if !done {
            return Err(Error::data(format!(
                "could not get {} from any mirror:\n  {}\nCheck the network, or download the files by hand into {}",
                r.name,
                failures.join("\n  "),
                dest.display()
            )));
        }
    }
    Ok(())
}

/// The folder `convlab data fetch NAME` writes to by default (the cache folder `--data NAME` searches).
pub fn default_dest(name: &str) -> Result<PathBuf> {
    super::locate::cache_dir()
        .map(|d| d.join(name))
        .ok_or(Error::config("no cache folder (set $HOME or $XDG_CACHE_HOME), so give one with --dir"))
}

/// What `convlab data fetch` says in a build without the `fetch` feature: how to get a
/// downloader, or which files to download by hand (from the first of `mirrors`) into `dest`.
pub fn without_downloader(name: &str, files: &[Remote], mirrors: &[String], dest: &Path) -> Error {
    let base = mirrors.first().map(|m| m.trim_end_matches('/')).unwrap_or("");
    let urls: Vec<String> = files.iter().map(|r| format!("{base}/{}", r.name)).collect();
    Error::config(format!(
        "this convlab was built without a downloader (the cargo feature `fetch`); get one with \
         `cargo install convlab --features fetch` (or build with the default features), or \
         download the {name} files by hand:\n  {}\ninto {} (or any folder, then give it with \
         --data-dir; --data {name} also looks in $CONVLAB_DATA/{name} and ~/.cache/convlab/{name})",
        urls.join("\n  "),
        dest.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_downloader_the_message_says_how_to_get_the_files() {
        let (files, mirrors) = catalogue("mnist").unwrap();
        let e = without_downloader("mnist", files, &mirrors, Path::new("/c/mnist")).to_string();
        assert!(e.contains("--features fetch") && e.contains("/c/mnist") && e.contains("--data-dir"), "{e}");
        assert!(e.contains("https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz"), "{e}");
    }
}

#[cfg(all(test, feature = "fetch"))]
mod download_tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// A tiny HTTP server on loopback: serves `files` (path → bytes), 404 otherwise; stops
    /// after `requests` requests.
    fn serve(files: Vec<(String, Vec<u8>)>, requests: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(requests) {
                let mut s = stream.unwrap();
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
                match files.iter().find(|(p, _)| *p == path) {
                    Some((_, body)) => {
                        let _ =
                            write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                        let _ = s.write_all(body);
                    }
                    None => {
                        let _ = write!(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    }
                }
            }
        });
        format!("http://{addr}")
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(vec![], flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }

    #[test]
    fn downloads_verifies_falls_back_and_never_writes_a_bad_file() {
        let good = gz(b"IDX payload");
        let files = [
            Remote { name: "a.gz", check: Check::File(leak(hex(&Sha256::digest(&good)))) },
            Remote { name: "b.gz", check: Check::Content(leak(hex(&Sha256::digest(b"IDX payload")))) },
        ];
        // Mirror 1 lacks a.gz (404) and serves a corrupt b.gz; mirror 2 has both right.
        let m1 = serve(vec![("/b.gz".into(), b"garbage".to_vec())], 2);
        let m2 = serve(vec![("/a.gz".into(), good.clone()), ("/b.gz".into(), good.clone())], 2);
        let dest = std::env::temp_dir().join(format!("convlab-fetch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dest);
        let mut log = vec![];
        fetch_files(&files, &[m1, m2], &dest, |s| log.push(s.to_string())).unwrap();
        assert_eq!(std::fs::read(dest.join("a.gz")).unwrap(), good);
        assert_eq!(std::fs::read(dest.join("b.gz")).unwrap(), good);
        // A second fetch finds them correct and downloads nothing (no server left to ask).
        fetch_files(&files, &["http://127.0.0.1:9".into()], &dest, |_| {}).unwrap();
        // A mirror serving only wrong bytes: an error naming the checksum, and no file.
        let bad = [Remote { name: "c.gz", check: Check::File("00") }];
        let m3 = serve(vec![("/c.gz".into(), good)], 1);
        let e = fetch_files(&bad, &[m3], &dest, |_| {}).unwrap_err().to_string();
        assert!(e.contains("SHA-256") && e.contains("c.gz"), "{e}");
        assert!(!dest.join("c.gz").exists());
        std::fs::remove_dir_all(dest).unwrap();
    }

    #[test]
    #[ignore = "needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist); .ci/run installs it and runs this test"]
    fn installed_fashion_mnist_matches_the_pinned_content_hashes() {
        let dir = Path::new("/usr/share/datasets/fashion-mnist");
        for r in &FASHION {
            verify(r, &std::fs::read(dir.join(r.name)).unwrap()).unwrap();
        }
    }
}
