//! A Lambda invocation's time: when its calls must be over, and which plugins cannot fit in
//! a function's timeout (what `s3plug check --function-timeout` warns about). Built with
//! or without the Lambda front end.

use std::time::Duration;

use s3plug_host::config::Config;

/// The time kept free before an invocation's deadline to report the outcomes and post the
/// answer: no plugin call runs into it, so the function always answers in time. Calls cut
/// short by it fail with `timeout`, which is retryable.
pub(crate) const ANSWER_MARGIN: Duration = Duration::from_millis(300);

/// When the calls of an invocation must be over: its deadline less [`ANSWER_MARGIN`], as an
/// instant of the runtime's clock. `None` when the Runtime API gave no deadline.
#[cfg(feature = "lambda")]
pub(crate) fn calls_deadline(deadline_ms: u64) -> Option<tokio::time::Instant> {
    use std::time::{SystemTime, UNIX_EPOCH};
    if deadline_ms == 0 {
        return None;
    }
    let left = if deadline_ms < EPOCH_MS_FLOOR {
        // Not a time of this century: an emulator's function timeout (cargo-lambda's
        // sends `600000`), which runs from now.
        Duration::from_millis(deadline_ms)
    } else {
        (UNIX_EPOCH + Duration::from_millis(deadline_ms))
            .duration_since(SystemTime::now())
            .unwrap_or_default()
    };
    Some(tokio::time::Instant::now() + left.saturating_sub(ANSWER_MARGIN))
}

/// 2001-09-09 in milliseconds since the epoch: a `Lambda-Runtime-Deadline-Ms` below it is
/// no timestamp but a duration (Lambda's longest timeout is 900 000 ms).
#[cfg(feature = "lambda")]
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// The plugins whose `timeout_ms` cannot fit in a function timeout of `seconds`, less
/// [`ANSWER_MARGIN`]: their calls would be cut at the invocation's deadline instead.
pub(crate) fn timeout_warnings(config: &Config, seconds: f64) -> Vec<String> {
    let usable = Duration::from_secs_f64(seconds.max(0.0)).saturating_sub(ANSWER_MARGIN);
    config
        .plugins
        .iter()
        .filter(|plugin| plugin.limits.timeout > usable)
        .map(|plugin| {
            format!(
                "plugin {:?} has limits.timeout_ms = {}, more than the {} ms a function timeout \
                 of {seconds} s leaves (less {} ms to answer): its calls would be cut at the \
                 invocation's deadline and retried; lower timeout_ms or raise the function's timeout",
                plugin.name,
                plugin.limits.timeout.as_millis(),
                usable.as_millis(),
                ANSWER_MARGIN.as_millis()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "lambda")]
    fn deadlines_are_read_as_lambda_and_its_emulators_send_them() {
        use std::time::{SystemTime, UNIX_EPOCH};
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let left = |deadline_ms| {
            calls_deadline(deadline_ms)
                .map(|at| at.saturating_duration_since(tokio::time::Instant::now()))
        };
        let lambda = left(now_ms + 5_000).unwrap();
        assert!(lambda > Duration::from_millis(4_500) && lambda <= Duration::from_millis(4_700));
        let emulator = left(600_000).unwrap();
        assert!(emulator > Duration::from_secs(599), "{emulator:?}");
        assert_eq!(
            left(now_ms - 1_000),
            Some(Duration::ZERO),
            "a passed deadline"
        );
        assert_eq!(left(0), None);
    }

    #[test]
    fn a_timeout_that_cannot_fit_the_function_is_warned_about() {
        let config = Config::parse(
            "[[plugin]]\nname = \"slow\"\nwasm = \"p.wasm\"\ntrigger = { bucket = \"inbox\" }\n\
             limits = { timeout_ms = 3000 }\n\n\
             [[plugin]]\nname = \"quick\"\nwasm = \"p.wasm\"\ntrigger = { bucket = \"inbox2\" }\n\
             limits = { timeout_ms = 1000 }\n",
            "test",
            std::path::Path::new("/"),
        )
        .unwrap();
        let warnings = timeout_warnings(&config, 3.0);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0]
                .starts_with("plugin \"slow\" has limits.timeout_ms = 3000, more than the 2700 ms"),
            "{}",
            warnings[0]
        );
        assert!(timeout_warnings(&config, 4.0).is_empty());
    }
}
