//! Counters and histograms for Ström's `/metrics`, rendered in the Prometheus text exposition
//! format (version 0.0.4). Hand-written because the needs are small: lock-free counting on the
//! hot path, a short lock only for a label set seen for the first time, and a text renderer.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

/// Upper bounds (seconds) for latency histograms: 0.5 ms to 30 s.
pub const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Upper bounds (seconds) for the time Ström takes to answer a station: 0.1 ms to 5 s, finest
/// around the milliseconds a busy server answers in.
pub const ANSWER_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// Upper bounds for sizes (e.g. writes per commit).
pub const SIZE_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];

/// A histogram with fixed buckets; observations are lock-free.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    count: AtomicU64,
    /// The sum, as f64 bits.
    sum: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    pub fn observe(&self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| Some((f64::from_bits(bits) + value).to_bits()));
    }

    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Writes the `_bucket`, `_sum` and `_count` series of `name`.
    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count());
        let _ = writeln!(out, "{name}_sum {}", f64::from_bits(self.sum.load(Ordering::Relaxed)));
        let _ = writeln!(out, "{name}_count {}", self.count());
    }
}

/// Label names and values of one series, in the order they were given.
type Labels = Vec<(&'static str, String)>;

/// A counter family with labels, e.g. messages by direction, action and result.
///
/// Counted on every message, so a known series is found without allocating: by a hash of the
/// borrowed label values, then compared value by value.
#[derive(Debug, Default)]
pub struct CounterVec {
    series: RwLock<SeriesByHash>,
}

/// Each label set's counter, under the hash of its labels (sets whose hashes collide share a
/// bucket).
type SeriesByHash = HashMap<u64, Vec<(Labels, AtomicU64)>, BuildHasherDefault<Prehashed>>;

/// FNV-1a over the labels, each name and value closed by a byte no UTF-8 text holds. Not
/// SipHash: the labels are Ström's own words or bounded sets (unknown actions are one label),
/// so there is no one to flood the map, and SipHash over six strings cost 815 instructions
/// per message.
fn hash_labels(labels: &[(&'static str, &str)]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, value) in labels {
        for byte in name.bytes().chain([0xff]).chain(value.bytes()).chain([0xff]) {
            hash = fnv1a(hash, byte);
        }
    }
    hash
}

/// One byte of FNV-1a (64 bits).
fn fnv1a(hash: u64, byte: u8) -> u64 {
    (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
}

/// The map's keys are `hash_labels` already: used as they are.
#[derive(Debug, Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here; any other input is folded in all the same.
        self.0 = bytes.iter().fold(self.0, |hash, &byte| fnv1a(hash, byte));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn same_labels(stored: &[(&'static str, String)], wanted: &[(&'static str, &str)]) -> bool {
    stored.len() == wanted.len() && stored.iter().zip(wanted).all(|((k1, v1), (k2, v2))| k1 == k2 && v1 == v2)
}

impl CounterVec {
    /// Applies `f` to the series' counter, if the series exists.
    fn with_counter<R>(
        &self,
        hash: u64,
        labels: &[(&'static str, &str)],
        f: impl FnOnce(&AtomicU64) -> R,
    ) -> Option<R> {
        let series = self.series.read().unwrap_or_else(|p| p.into_inner());
        series.get(&hash)?.iter().find(|(stored, _)| same_labels(stored, labels)).map(|(_, c)| f(c))
    }

    pub fn inc(&self, labels: &[(&'static str, &str)]) {
        let hash = hash_labels(labels);
        if self.with_counter(hash, labels, |c| c.fetch_add(1, Ordering::Relaxed)).is_some() {
            return;
        }
        let mut series = self.series.write().unwrap_or_else(|p| p.into_inner());
        let bucket = series.entry(hash).or_default();
        match bucket.iter().find(|(stored, _)| same_labels(stored, labels)) {
            Some((_, counter)) => counter.fetch_add(1, Ordering::Relaxed),
            None => {
                let key: Labels = labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect();
                bucket.push((key, AtomicU64::new(1)));
                0
            }
        };
    }

    pub fn get(&self, labels: &[(&'static str, &str)]) -> u64 {
        self.with_counter(hash_labels(labels), labels, |c| c.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// The series in label order, so that scrapes list them the same way every time.
    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        let sorted: BTreeMap<Labels, u64> = self
            .series
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .flatten()
            .map(|(labels, value)| (labels.clone(), value.load(Ordering::Relaxed)))
            .collect();
        for (labels, value) in sorted {
            let _ = writeln!(out, "{name}{} {value}", render_labels(&labels));
        }
    }
}

/// A part of the process that renders its own series (e.g. the binary's listener).
type Renderer = Box<dyn Fn(&mut String) + Send + Sync>;

/// Series of parts of the process that the API holds no handle to, added by the binary that
/// wires them; `/metrics` renders them after its own.
static ADDED: Mutex<Vec<Renderer>> = Mutex::new(Vec::new());

/// Adds `render` to what [`render_added`] writes, for the life of the process.
pub fn add_renderer(render: impl Fn(&mut String) + Send + Sync + 'static) {
    ADDED.lock().unwrap_or_else(|p| p.into_inner()).push(Box::new(render));
}

/// Writes the series of every renderer added with [`add_renderer`].
pub fn render_added(out: &mut String) {
    for render in ADDED.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        render(out);
    }
}

/// Writes a gauge family from values computed at scrape time.
pub fn render_gauge(out: &mut String, name: &str, help: &str, series: &[(Labels, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in series {
        let _ = writeln!(out, "{name}{} {value}", render_labels(labels));
    }
}

fn render_labels(labels: &[(&'static str, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    format!("{{{}}}", parts.join(","))
}

/// Label values escape backslash, double quote and newline (exposition format 0.0.4).
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_renders_cumulative_buckets() {
        let h = Histogram::new(&[1.0, 2.0]);
        for v in [0.5, 1.5, 1.7, 9.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out, "x", "help");
        assert!(out.contains("x_bucket{le=\"1\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"2\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 4\n"), "{out}");
        assert!(out.contains("x_sum 12.7\n") && out.contains("x_count 4\n"), "{out}");
    }

    #[test]
    fn counters_keep_label_sets_apart_and_escape_values() {
        let c = CounterVec::default();
        c.inc(&[("action", "Heartbeat")]);
        c.inc(&[("action", "Heartbeat")]);
        c.inc(&[("action", "a\"b")]);
        assert_eq!(c.get(&[("action", "Heartbeat")]), 2);
        // The same bytes split otherwise are another series.
        c.inc(&[("ab", "c")]);
        c.inc(&[("a", "bc")]);
        c.inc(&[("a", "b"), ("c", "")]);
        assert_eq!((c.get(&[("ab", "c")]), c.get(&[("a", "bc")]), c.get(&[("a", "b"), ("c", "")])), (1, 1, 1));
        let mut out = String::new();
        c.render(&mut out, "m_total", "help");
        assert!(out.contains("m_total{action=\"Heartbeat\"} 2\n"), "{out}");
        assert!(out.contains("m_total{action=\"a\\\"b\"} 1\n"), "{out}");
    }
}
