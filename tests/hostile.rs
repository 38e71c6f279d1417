//! Hostile situations for the data commands: a mirror that never answers, a broken --data-dir.

mod common;
use common::fails_cleanly;

/// A mirror that accepts connections and never answers: the download gives up after the
/// timeout (shortened here by CONVLAB_FETCH_TIMEOUT) and says so, instead of hanging.
#[cfg(feature = "fetch")]
#[test]
fn fetch_from_a_silent_mirror_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = vec![];
        for s in listener.incoming().take(8) {
            held.push(s); // accept, read nothing, answer nothing
        }
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
    let dir = std::env::temp_dir().join(format!("convlab-hostile-fetch-{}", std::process::id()));
    let start = std::time::Instant::now();
    let o = common::command()
        .args(["data", "fetch", "mnist", "--dir", dir.to_str().unwrap(), "--mirror", &format!("http://{addr}/")])
        .env("CONVLAB_FETCH_TIMEOUT", "1")
        .output()
        .unwrap();
    let t = common::text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("timeout") && t.contains("CONVLAB_FETCH_TIMEOUT"), "{t}");
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
    let _ = std::fs::remove_dir_all(dir);
}

/// `bench --data-dir` at a folder without the data set is an error, not a silent fall back
/// to synthetic images.
#[test]
fn bench_data_dir_must_hold_the_data() {
    fails_cleanly(
        &["bench", "--workload", "mnist-lab", "--runs", "1", "--data-dir", "/nonexistent/fashion"],
        "bench --data-dir",
    );
}
