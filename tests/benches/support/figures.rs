//! Figures the benches print beside criterion's: percentiles, and one `FIGURE {json}` line
//! per result that scripts/bench collects.

use std::time::Duration;

/// Prints one figure as a `FIGURE` line of JSON.
pub fn print(figure: &serde_json::Value) {
    println!("FIGURE {figure}");
}

/// The `p`-th percentile (0 to 100) of sorted durations, by the nearest rank, in µs.
pub fn percentile_us(sorted: &[Duration], p: f64) -> f64 {
    assert!(!sorted.is_empty(), "no samples");
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e6
}
