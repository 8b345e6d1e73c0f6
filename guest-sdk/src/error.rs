//! [`Error`], the error type of handlers, with [`Context`] and the [`bail!`](crate::bail!)
//! and [`ensure!`](crate::ensure!) macros.

use std::error::Error as StdError;
use std::fmt;

/// Why a handler failed: any error, with optional context, like a small `anyhow::Error`.
///
/// Every `std::error::Error` that is `Send + Sync + 'static` converts into it, so `?` works
/// on [`ObjectError`](crate::ObjectError), `std::io::Error`, parse errors and the errors of
/// most crates. Make one from text with [`Error::msg`] or [`bail!`](crate::bail!), and say
/// what was being done with [`Context::context`].
///
/// Its `Display` text is the message followed by each cause, separated by `": "`; that is the
/// text the host reports for a failed record.
///
/// # Example
///
/// ```
/// use s3plug_guest::{Context, Error};
///
/// fn parse_width(text: &str) -> Result<u32, Error> {
///     let width: u32 = text.parse().context("reading the width")?;
///     if width == 0 {
///         return Err(Error::msg("the width must not be zero"));
///     }
///     Ok(width)
/// }
///
/// let error = parse_width("abc").unwrap_err();
/// assert_eq!(error.to_string(), "reading the width: invalid digit found in string");
/// ```
pub struct Error {
    inner: Box<dyn StdError + Send + Sync + 'static>,
}

impl Error {
    /// Wraps an error value.
    ///
    /// ```
    /// # use s3plug_guest::Error;
    /// let error = Error::new(std::io::Error::other("disk on fire"));
    /// assert_eq!(error.to_string(), "disk on fire");
    /// ```
    pub fn new(error: impl StdError + Send + Sync + 'static) -> Self {
        Self {
            inner: Box::new(error),
        }
    }

    /// Makes an error from a message.
    ///
    /// ```
    /// # use s3plug_guest::Error;
    /// let error = Error::msg(format!("unexpected header {:?}", "name;age"));
    /// assert_eq!(error.to_string(), r#"unexpected header "name;age""#);
    /// ```
    pub fn msg(message: impl fmt::Display) -> Self {
        Self::new(Message(message.to_string()))
    }

    /// Wraps this error in a message that says what was being done when it happened.
    ///
    /// ```
    /// # use s3plug_guest::Error;
    /// let error = Error::msg("no such bucket").context("writing the thumbnail");
    /// assert_eq!(error.to_string(), "writing the thumbnail: no such bucket");
    /// ```
    pub fn context(self, context: impl fmt::Display) -> Self {
        Self::new(WithContext {
            context: context.to_string(),
            source: self.inner,
        })
    }

    /// Returns the first error of type `E` in the chain of causes, if there is one. It also
    /// looks inside each `std::io::Error`, so it finds the [`ObjectError`](crate::ObjectError)
    /// behind a failed `Read` or `Write` of an object.
    ///
    /// ```
    /// # use s3plug_guest::{Error, ObjectError};
    /// let error = Error::from(ObjectError::NotFound).context("reading the input");
    /// assert_eq!(error.downcast_ref::<ObjectError>(), Some(&ObjectError::NotFound));
    /// ```
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.chain().find_map(|error| {
            error.downcast_ref::<E>().or_else(|| {
                let io = error.downcast_ref::<std::io::Error>()?;
                io.get_ref()?.downcast_ref::<E>()
            })
        })
    }

    /// Iterates over this error and its causes, outermost first.
    ///
    /// ```
    /// # use s3plug_guest::Error;
    /// let error = Error::msg("inner").context("outer");
    /// let texts: Vec<String> = error.chain().map(|e| e.to_string()).collect();
    /// assert_eq!(texts, ["outer", "inner"]);
    /// ```
    pub fn chain(&self) -> impl Iterator<Item = &(dyn StdError + 'static)> {
        let outermost: &(dyn StdError + 'static) = &*self.inner;
        std::iter::successors(Some(outermost), |&error| error.source())
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for Error {
    fn from(error: E) -> Self {
        Self::new(error)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut written = String::new();
        for error in self.chain() {
            let text = error.to_string();
            // Many errors repeat their cause in their own message; say it once.
            if text.is_empty() || written.ends_with(&text) {
                continue;
            }
            if !written.is_empty() {
                written.push_str(": ");
            }
            written.push_str(&text);
        }
        f.write_str(&written)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Error")
            .field(&format_args!("{self}"))
            .finish()
    }
}

/// An error made from a message alone.
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

/// An error wrapped in a message about what was being done.
#[derive(Debug)]
struct WithContext {
    context: String,
    source: Box<dyn StdError + Send + Sync + 'static>,
}

impl fmt::Display for WithContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)
    }
}

impl StdError for WithContext {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

/// Adds context to the error of a `Result`, or turns a `None` into an [`Error`].
///
/// # Example
///
/// ```
/// use s3plug_guest::{Context, Error};
///
/// fn first_column(header: &str) -> Result<&str, Error> {
///     header.split(',').next().filter(|name| !name.is_empty()).context("the header is empty")
/// }
///
/// fn port(text: &str) -> Result<u16, Error> {
///     text.parse().with_context(|| format!("bad port {text:?}"))
/// }
///
/// assert_eq!(first_column("name,age").unwrap(), "name");
/// assert_eq!(port("http").unwrap_err().to_string(), r#"bad port "http": invalid digit found in string"#);
/// ```
pub trait Context<T> {
    /// Wraps the error, or replaces `None`, with `context`.
    fn context(self, context: impl fmt::Display) -> Result<T, Error>;

    /// Like [`context`](Context::context), with the message built only on failure.
    fn with_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T, Error>;
}

impl<T, E: Into<Error>> Context<T> for Result<T, E> {
    fn context(self, context: impl fmt::Display) -> Result<T, Error> {
        self.map_err(|error| error.into().context(context))
    }

    fn with_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T, Error> {
        self.map_err(|error| error.into().context(context()))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, context: impl fmt::Display) -> Result<T, Error> {
        self.ok_or_else(|| Error::msg(context))
    }

    fn with_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T, Error> {
        self.ok_or_else(|| Error::msg(context()))
    }
}

/// Returns early with an [`Error`] made from a format string.
///
/// ```
/// use s3plug_guest::{Error, bail};
///
/// fn check(key: &str) -> Result<(), Error> {
///     if key.ends_with('/') {
///         bail!("{key:?} is a folder marker");
///     }
///     Ok(())
/// }
///
/// assert_eq!(check("a/").unwrap_err().to_string(), r#""a/" is a folder marker"#);
/// ```
#[macro_export]
macro_rules! bail {
    ($($arg:tt)+) => {
        return ::core::result::Result::Err($crate::Error::msg(::std::format!($($arg)+)))
    };
}

/// Returns early with an [`Error`] made from a format string unless a condition holds.
///
/// ```
/// use s3plug_guest::{Error, ensure};
///
/// fn check(size: u64) -> Result<(), Error> {
///     ensure!(size <= 1024, "{size} bytes is too large");
///     Ok(())
/// }
///
/// assert!(check(10).is_ok());
/// assert_eq!(check(2048).unwrap_err().to_string(), "2048 bytes is too large");
/// ```
#[macro_export]
macro_rules! ensure {
    ($condition:expr, $($arg:tt)+) => {
        if !$condition {
            $crate::bail!($($arg)+);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_joins_the_chain_once() {
        let io = std::io::Error::other("connection reset");
        let error = Error::from(io).context("reading \"a.csv\"");
        assert_eq!(error.to_string(), "reading \"a.csv\": connection reset");
    }

    #[test]
    fn display_skips_a_cause_the_message_already_repeats() {
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl fmt::Display for Wrapper {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "csv error: {}", self.0)
            }
        }
        impl StdError for Wrapper {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let error = Error::new(Wrapper(std::io::Error::other("denied")));
        assert_eq!(error.to_string(), "csv error: denied");
    }
}
