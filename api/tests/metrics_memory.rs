//! The metrics recorder's memory stays bounded when nobody reads `/metrics`.
//!
//! A binary of its own: it measures the resident memory of the whole process, which
//! other tests running beside it would disturb.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;

/// Resident memory of this process, in bytes.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Records three million request durations, as many requests would, without ever
/// rendering. Each raw sample takes 8 bytes until upkeep folds it into its summary, so
/// without upkeep the process holds at least 24 MB more at the end.
#[test]
fn histogram_samples_do_not_pile_up_without_a_scrape() {
    let recorder = PrometheusBuilder::new().build_recorder();
    monostat::http::keep_metrics_bounded(recorder.handle(), Duration::from_millis(10));
    let record = |samples: u32| {
        metrics::with_local_recorder(&recorder, || {
            let histogram =
                metrics::histogram!("monostat_http_request_duration_seconds", "route" => "/");
            for sample in 0..samples {
                histogram.record(f64::from(sample % 1000) / 1e5);
            }
        });
    };
    // Warm up: the summaries and the allocator's arenas reach their working size.
    for _ in 0..5 {
        record(100_000);
        std::thread::sleep(Duration::from_millis(30));
    }
    let before = resident_bytes();
    for _ in 0..30 {
        record(100_000);
        // Requests keep coming while upkeep runs; the pause only lets it take turns.
        std::thread::sleep(Duration::from_millis(30));
    }
    let grown = resident_bytes().saturating_sub(before);
    assert!(
        grown < 6 << 20,
        "resident memory grew by {grown} bytes over 3 million samples; they are retained"
    );
}
