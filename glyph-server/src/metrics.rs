//! Prometheus metrics at `/metrics`: requests by route and status, request
//! latency, messages stored and pushed, open WebSocket connections, media
//! bytes stored and blobs deleted from storage, and the inbox reads live
//! push makes.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    total: u64,
}

/// The server's counters.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// Message copies stored.
    pub messages_stored: AtomicU64,
    /// Inbox entries pushed over WebSockets.
    pub messages_pushed: AtomicU64,
    /// Inbox reads made for push: at connecting, and for each wake-up
    /// that did not carry its entries (one from another instance, after
    /// missed wake-ups, a reader that fell behind).
    pub push_inbox_reads: AtomicU64,
    /// Open WebSocket connections.
    pub connections: AtomicI64,
    /// Bytes of media blobs stored (uploads that completed).
    pub media_bytes_stored: AtomicU64,
    /// Media blobs deleted from storage.
    pub media_blobs_purged: AtomicU64,
}

impl Metrics {
    /// Records one request.
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        drop(requests);
        let mut latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let histogram = latency.entry(route.to_owned()).or_default();
        for (count, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *count += 1;
            }
        }
        histogram.sum += seconds;
        histogram.total += 1;
    }

    /// The Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# TYPE glyph_http_requests_total counter");
        for ((method, route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "glyph_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# TYPE glyph_http_request_duration_seconds histogram");
        for (route, h) in self
            .latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "glyph_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "glyph_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.total
            );
            let _ = writeln!(
                out,
                "glyph_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "glyph_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.total
            );
        }
        let _ = writeln!(out, "# TYPE glyph_messages_stored_total counter");
        let _ = writeln!(
            out,
            "glyph_messages_stored_total {}",
            self.messages_stored.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# TYPE glyph_messages_pushed_total counter");
        let _ = writeln!(
            out,
            "glyph_messages_pushed_total {}",
            self.messages_pushed.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# TYPE glyph_push_inbox_reads_total counter");
        let _ = writeln!(
            out,
            "glyph_push_inbox_reads_total {}",
            self.push_inbox_reads.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# TYPE glyph_websocket_connections gauge");
        let _ = writeln!(
            out,
            "glyph_websocket_connections {}",
            self.connections.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# TYPE glyph_media_bytes_stored_total counter");
        let _ = writeln!(
            out,
            "glyph_media_bytes_stored_total {}",
            self.media_bytes_stored.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# TYPE glyph_media_blobs_purged_total counter");
        let _ = writeln!(
            out,
            "glyph_media_blobs_purged_total {}",
            self.media_blobs_purged.load(Ordering::Relaxed)
        );
        out
    }
}
