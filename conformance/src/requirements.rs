//! The requirements report: every row of RFC 9293 Appendix B, with what in synack covers it.
//!
//! This module owns the model of `conformance/requirements.toml` (built into the binary), its
//! checks (each row covered or said not to be, each oracle label one the wire oracles check),
//! the listing `synack requirements` prints, and the count of covered MUSTs per area that the
//! README shows. A sweep's report adds how often each requirement was checked and violated.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;

use crate::sim::wire;
use crate::sweep::SweepReport;

/// The data file, as built into the binary.
pub const FILE: &str = include_str!("../requirements.toml");

/// One row of Appendix B.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// Its label: MUST-n, SHLD-n, MAY-n, REC-n.
    pub id: String,
    /// The heading it sits under.
    pub area: String,
    /// The feature, as the appendix words it.
    pub feature: String,
    /// The level the appendix marks: MUST, SHOULD, MAY, SHOULD NOT, MUST NOT.
    pub level: String,
    /// The wire oracle's label that checks it, if one does.
    pub oracle: Option<String>,
    /// What covers it.
    pub covered_by: Option<String>,
    /// Why nothing does.
    pub not_covered: Option<String>,
}

impl Requirement {
    /// A MUST or a MUST NOT.
    pub fn is_must(&self) -> bool {
        self.level.starts_with("MUST")
    }
}

/// A wire oracle whose requirement is not a row of Appendix B.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Beyond {
    /// The oracle's label.
    pub oracle: String,
    /// The RFC that states it.
    pub source: String,
    /// What it checks.
    pub feature: String,
}

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// The rows of Appendix B, in its order.
    pub requirement: Vec<Requirement>,
    /// The other wire oracles.
    pub beyond: Vec<Beyond>,
}

const LEVELS: [&str; 5] = ["MUST", "SHOULD", "MAY", "SHOULD NOT", "MUST NOT"];

impl Catalog {
    /// The catalog built into the binary.
    pub fn builtin() -> Result<Catalog, String> {
        Catalog::parse(FILE, "conformance/requirements.toml")
    }

    /// Parses and checks a catalog; errors name the file and the row.
    pub fn parse(text: &str, name: &str) -> Result<Catalog, String> {
        let c: Catalog = toml::from_str(text).map_err(|e| format!("{name}: {e}"))?;
        let labels: Vec<&str> = wire::labels().collect();
        for (i, r) in c.requirement.iter().enumerate() {
            let at = format!("{name}: requirement {} ({})", i + 1, r.id);
            if !LEVELS.contains(&r.level.as_str()) {
                return Err(format!(
                    "{at}: level {:?} is not one of {LEVELS:?}",
                    r.level
                ));
            }
            match (&r.covered_by, &r.not_covered) {
                (Some(_), None) | (None, Some(_)) => {}
                _ => {
                    return Err(format!(
                        "{at}: give exactly one of covered_by and not_covered"
                    ))
                }
            }
            if let Some(o) = &r.oracle {
                if !labels.contains(&o.as_str()) {
                    return Err(format!("{at}: no wire oracle checks {o:?}"));
                }
                if r.covered_by.is_none() {
                    return Err(format!(
                        "{at}: an oracle covers it, so say how in covered_by"
                    ));
                }
            }
        }
        for b in &c.beyond {
            if !labels.contains(&b.oracle.as_str()) {
                return Err(format!(
                    "{name}: beyond {:?}: no wire oracle checks it",
                    b.oracle
                ));
            }
        }
        // Every oracle is listed somewhere, so that none goes unreported.
        for l in labels {
            let listed = c.requirement.iter().any(|r| r.oracle.as_deref() == Some(l))
                || c.beyond.iter().any(|b| b.oracle == l);
            if !listed {
                return Err(format!("{name}: the wire oracle {l:?} is not listed"));
            }
        }
        Ok(c)
    }

    /// The areas in the appendix's order, each with its MUSTs (and MUST NOTs) and how many of
    /// them are covered.
    pub fn areas(&self) -> Vec<(&str, usize, usize)> {
        let mut out: Vec<(&str, usize, usize)> = Vec::new();
        for r in &self.requirement {
            if out.last().is_none_or(|a| a.0 != r.area) {
                out.push((&r.area, 0, 0));
            }
            if let Some(a) = out.last_mut() {
                a.1 += usize::from(r.is_must());
                a.2 += usize::from(r.is_must() && r.covered_by.is_some());
            }
        }
        out
    }

    /// The README's lines: one per area, how many MUSTs are covered.
    pub fn readme_lines(&self) -> Vec<String> {
        self.areas()
            .into_iter()
            .map(|(area, musts, covered)| format!("- {area}: {covered} of {musts} MUSTs covered"))
            .collect()
    }

    /// The listing `synack requirements` prints. With a sweep's report, each row an oracle
    /// checks says how often the sweep checked it and how many seeds it failed.
    pub fn listing(&self, sweep: Option<&SweepReport>) -> String {
        let violations: BTreeMap<&str, usize> = sweep.map_or_else(BTreeMap::new, |r| {
            let mut v = BTreeMap::new();
            for o in r.failures() {
                if let Some(req) = o.failure.as_ref().and_then(|f| f.requirement) {
                    *v.entry(req).or_default() += 1;
                }
            }
            v
        });
        let counts = |label: &str| -> String {
            match sweep {
                None => String::new(),
                Some(r) => format!(
                    " [checked {}, violated in {} seed(s)]",
                    r.requirement_checks.get(label).copied().unwrap_or(0),
                    violations.get(label).copied().unwrap_or(0)
                ),
            }
        };
        let musts: usize = self.areas().iter().map(|a| a.1).sum();
        let covered: usize = self.areas().iter().map(|a| a.2).sum();
        let rows = self.requirement.len();
        let rows_covered = self
            .requirement
            .iter()
            .filter(|r| r.covered_by.is_some())
            .count();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "RFC 9293 Appendix B: {rows} rows, {rows_covered} covered; MUST and MUST NOT: {covered} of {musts} covered"
        );
        let mut area = "";
        for r in &self.requirement {
            if r.area != area {
                area = &r.area;
                let (_, m, c) = self
                    .areas()
                    .into_iter()
                    .find(|a| a.0 == area)
                    .unwrap_or((area, 0, 0));
                let _ = writeln!(out, "\n{area} ({c} of {m} MUSTs covered)");
            }
            let _ = writeln!(out, "  {:<8} {:<10} {}", r.id, r.level, r.feature);
            match (&r.covered_by, &r.not_covered) {
                (Some(c), _) => {
                    let n = r.oracle.as_deref().map(counts).unwrap_or_default();
                    let _ = writeln!(out, "           covered: {c}{n}");
                }
                (None, Some(why)) => {
                    let _ = writeln!(out, "           not covered: {why}");
                }
                (None, None) => {}
            }
        }
        let _ = writeln!(out, "\nBeyond Appendix B (wire oracles)");
        for b in &self.beyond {
            let _ = writeln!(
                out,
                "  {:<15} {}: {}{}",
                b.oracle,
                b.source,
                b.feature,
                counts(&b.oracle)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalog_parses_and_lists_every_oracle() {
        let c = Catalog::builtin().unwrap();
        assert!(c.requirement.len() > 100);
    }

    #[test]
    fn a_row_without_coverage_or_reason_is_refused_with_its_place() {
        let text = "[[requirement]]\nid = \"MUST-1\"\narea = \"Window\"\nfeature = \"x\"\nlevel = \"MUST\"\n[[beyond]]\noracle = \"§3.1\"\nsource = \"RFC 9293\"\nfeature = \"y\"\n";
        let e = Catalog::parse(text, "f.toml").unwrap_err();
        assert!(e.contains("f.toml: requirement 1 (MUST-1)"), "{e}");
    }

    #[test]
    fn an_oracle_label_no_oracle_checks_is_refused() {
        let text = "[[requirement]]\nid = \"MUST-1\"\narea = \"Window\"\nfeature = \"x\"\nlevel = \"MUST\"\noracle = \"MUST-999\"\ncovered_by = \"z\"\n[[beyond]]\noracle = \"§3.1\"\nsource = \"RFC 9293\"\nfeature = \"y\"\n";
        let e = Catalog::parse(text, "f.toml").unwrap_err();
        assert!(e.contains("no wire oracle checks \"MUST-999\""), "{e}");
    }
}
