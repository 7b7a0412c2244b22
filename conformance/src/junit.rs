//! JUnit XML for CI dashboards: `synack script --junit` (one test case per script) and
//! `synack sweep --junit` (one per seed).
//!
//! This module owns the one shape both commands write ([`Case`]) and [`write`](fn@write), which renders
//! it with the `quick-junit` crate. The report carries no timestamps or host names, so the
//! same run writes the same file.

use std::path::Path;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::Error;

/// How a case ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Passed,
    /// It failed: a one-line message and the full account.
    Failed {
        /// One line.
        message: String,
        /// The full account (trace, replay command, expected and actual lines).
        detail: String,
    },
    /// It was malformed input: the located error.
    Error(String),
    /// It was skipped, and why.
    Skipped(String),
}

/// One test case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// Its name (a script's path, a seed).
    pub name: String,
    /// Its class (the stack, the sweep's pairing).
    pub classname: String,
    /// How it ended.
    pub outcome: Outcome,
}

/// Writes `cases` as one JUnit test suite named `suite` to `path`.
pub fn write(path: &Path, suite: &str, cases: &[Case]) -> Result<(), Error> {
    let mut report = Report::new("synack");
    let mut ts = TestSuite::new(suite);
    for case in cases {
        let status = match &case.outcome {
            Outcome::Passed => TestCaseStatus::success(),
            Outcome::Failed { message, detail } => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(message.as_str())
                    .set_description(detail.as_str());
                s
            }
            Outcome::Error(message) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(message.as_str());
                s
            }
            Outcome::Skipped(why) => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(why.as_str());
                s
            }
        };
        let mut tc = TestCase::new(case.name.as_str(), status);
        tc.set_classname(case.classname.as_str());
        ts.add_test_case(tc);
    }
    report.add_test_suite(ts);
    let xml = report
        .to_string()
        .map_err(|e| Error::file(path, format!("cannot render JUnit XML: {e}")))?;
    std::fs::write(path, xml).map_err(|e| Error::file(path, e))
}
