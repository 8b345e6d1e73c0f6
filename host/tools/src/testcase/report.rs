//! What a run of test cases found, and how it reads: one line per case, and under a
//! failing case one entry per expectation that did not hold, field by field.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The line of the expectation in the test file, when it has one.
    pub line: Option<usize>,
    /// What was looked at: `outcome of event 0, record 0 (photos/a.jpg), plugin "thumbnail"`.
    pub subject: String,
    /// The field that differs (`status`, `content_type`, `metadata.source`, ...); empty
    /// when the subject itself is missing.
    pub field: String,
    pub expected: String,
    pub actual: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        f.write_str(&self.subject)?;
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(
            f,
            "\n  expected: {}\n  actual:   {}",
            self.expected, self.actual
        )
    }
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseReport {
    pub name: String,
    pub duration: Duration,
    /// Empty when the case passed.
    pub mismatches: Vec<Mismatch>,
}

impl CaseReport {
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// `ok   name (12 ms)`, or `FAIL name (12 ms)` followed by the mismatches, indented.
impl fmt::Display for CaseReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed() { "ok  " } else { "FAIL" };
        write!(
            f,
            "{verdict} {} ({} ms)",
            self.name,
            self.duration.as_millis()
        )?;
        for mismatch in &self.mismatches {
            for line in mismatch.to_string().lines() {
                write!(f, "\n    {line}")?;
            }
        }
        Ok(())
    }
}

/// The results of the cases of one test file.
#[derive(Debug, Clone)]
pub struct Report {
    pub path: PathBuf,
    pub cases: Vec<CaseReport>,
    /// Cases left out by a name filter.
    pub filtered_out: usize,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|case| case.passed()).count()
    }

    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }

    pub fn is_success(&self) -> bool {
        self.failed() == 0
    }

    /// `3 passed, 1 failed`.
    pub fn summary(&self) -> String {
        summary(self.passed(), self.failed(), self.filtered_out)
    }

    /// Panics, with every failing case and its diff, unless every case passed: the one
    /// line a plugin author's `cargo test` needs.
    #[track_caller]
    pub fn assert_passed(&self) {
        if self.is_success() {
            return;
        }
        let failing: Vec<String> = self
            .cases
            .iter()
            .filter(|case| !case.passed())
            .map(ToString::to_string)
            .collect();
        panic!(
            "test cases failed in {}:\n{}\n{}",
            self.path.display(),
            failing.join("\n"),
            self.summary()
        );
    }
}

/// The file, every case, and the summary line, as `s3plug test` prints them.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.path.display())?;
        for case in &self.cases {
            writeln!(f, "{case}")?;
        }
        write!(f, "{}", self.summary())
    }
}

/// The summary line of `s3plug test`: `N passed, M failed`, and the cases a filter left out.
pub fn summary(passed: usize, failed: usize, filtered_out: usize) -> String {
    let mut line = format!("{passed} passed, {failed} failed");
    if filtered_out > 0 {
        line.push_str(&format!(", {filtered_out} filtered out"));
    }
    line
}
