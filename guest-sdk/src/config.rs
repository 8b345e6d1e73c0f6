//! The plugin's own settings: the `config` table of its `[[plugin]]` entry in the host's
//! configuration. Values are strings; [`parse`] and [`parse_or`] turn them into other types
//! with errors that name the setting.
//!
//! # Example
//!
//! For a host configuration with
//!
//! ```toml
//! [[plugin]]
//! name = "thumbnail"
//! config = { target_bucket = "thumbs", max_width = "320" }
//! ```
//!
//! the plugin reads:
//!
//! ```no_run
//! use s3plug_guest::{Error, config};
//!
//! # fn main() -> Result<(), Error> {
//! let bucket = config::require("target_bucket")?; // "thumbs"
//! let prefix = config::get_or("target_prefix", "thumbnails/"); // the default
//! let width: u32 = config::parse_or("max_width", 200)?; // 320
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::str::FromStr;

use crate::Error;
use crate::wit::s3plug::plugin::config as host;

/// Returns the value of one setting, if it is set.
///
/// ```no_run
/// let bucket = s3plug_guest::config::get("target_bucket");
/// ```
pub fn get(key: &str) -> Option<String> {
    host::get(key)
}

/// Returns the value of one setting, or `default` when it is not set.
///
/// ```no_run
/// let prefix = s3plug_guest::config::get_or("target_prefix", "out/");
/// ```
pub fn get_or(key: &str, default: &str) -> String {
    get(key).unwrap_or_else(|| default.to_owned())
}

/// Returns the value of a setting the plugin cannot work without; the error names it.
///
/// ```no_run
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// let bucket = s3plug_guest::config::require("target_bucket")?;
/// # Ok(())
/// # }
/// ```
pub fn require(key: &str) -> Result<String, Error> {
    get(key).ok_or_else(|| Error::msg(format!("config key {key:?} is required but not set")))
}

/// Parses the value of one setting, if it is set. The error names the setting and the bad
/// value.
///
/// ```no_run
/// use std::num::NonZeroU32;
///
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// // With `max_width = "0"`, the error reads:
/// // config key "max_width" has an invalid value "0": number would be zero for non-zero type
/// let width: Option<NonZeroU32> = s3plug_guest::config::parse("max_width")?;
/// # Ok(())
/// # }
/// ```
pub fn parse<T>(key: &str) -> Result<Option<T>, Error>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    get(key).map(|value| parse_value(key, &value)).transpose()
}

/// Parses the value of one setting, or returns `default` when it is not set. The error
/// names the setting and the bad value.
///
/// ```no_run
/// # fn main() -> Result<(), s3plug_guest::Error> {
/// let retries: u8 = s3plug_guest::config::parse_or("retries", 3)?;
/// # Ok(())
/// # }
/// ```
pub fn parse_or<T>(key: &str, default: T) -> Result<T, Error>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    Ok(parse(key)?.unwrap_or(default))
}

/// Returns every setting as `(key, value)` pairs, sorted by key.
///
/// ```no_run
/// for (key, value) in s3plug_guest::config::all() {
///     s3plug_guest::log::debug!("{key} = {value:?}");
/// }
/// ```
pub fn all() -> Vec<(String, String)> {
    host::all()
}

fn parse_value<T>(key: &str, value: &str) -> Result<T, Error>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    value.parse().map_err(|error| {
        Error::msg(format!(
            "config key {key:?} has an invalid value {value:?}: {error}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::parse_value;

    #[test]
    fn a_bad_value_names_the_key_and_the_value() {
        let error = parse_value::<NonZeroU32>("max_width", "abc").expect_err("abc is no number");
        assert_eq!(
            error.to_string(),
            r#"config key "max_width" has an invalid value "abc": invalid digit found in string"#
        );
    }

    #[test]
    fn a_good_value_parses() {
        assert_eq!(
            parse_value::<u32>("max_width", "320").expect("320 is a number"),
            320
        );
    }
}
