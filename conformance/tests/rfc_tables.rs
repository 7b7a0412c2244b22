//! The transition tables as review documents: the generated table of each profile, its
//! comparison with the reference, the Figure 5/6 transitions, and the DOT diagrams, all kept
//! as insta snapshots. The comparison itself must find no unexplained difference.

use synack::rfc::{self, deviations, figures, generate};
use synack_core::Profile;

fn profiles() -> [(Profile, &'static str); 2] {
    [(Profile::Rfc9293, "rfc9293"), (Profile::Rfc793, "rfc793")]
}

#[test]
fn reference_tables_parse_and_cover_every_cell() {
    for (p, _) in profiles() {
        let t = rfc::reference(p).unwrap();
        assert_eq!(t.cells.len(), 11 * 25, "{p:?}");
    }
}

#[test]
fn synack_core_matches_the_reference_tables() {
    for (p, _) in profiles() {
        let reference = rfc::reference(p).unwrap();
        let generated = generate::generate_core(p);
        let c = rfc::compare(&reference, &generated, &deviations::for_profile(p));
        assert!(c.passes(), "{}", rfc::render_comparison(&c));
    }
}

#[test]
fn reference_tables_and_comparisons() {
    for (p, name) in profiles() {
        let reference = rfc::reference(p).unwrap();
        insta::assert_snapshot!(
            format!("reference_{name}"),
            rfc::render_markdown(&reference)
        );
        let generated = generate::generate_core(p);
        let c = rfc::compare(&reference, &generated, &deviations::for_profile(p));
        insta::assert_snapshot!(format!("comparison_{name}"), rfc::render_comparison(&c));
    }
}

#[test]
fn generated_tables() {
    for (p, name) in profiles() {
        let generated = generate::generate_core(p);
        insta::assert_snapshot!(format!("table_{name}"), rfc::render_markdown(&generated));
        insta::assert_snapshot!(format!("diagram_{name}"), rfc::render_dot(&generated));
    }
}

#[test]
fn every_figure_transition_is_taken_by_some_cell() {
    for (p, name) in profiles() {
        let generated = generate::generate_core(p);
        let doc = figures::render(&generated);
        insta::assert_snapshot!(format!("figures_{name}"), doc);
        for a in figures::figure_5() {
            let taken = generated
                .cells
                .iter()
                .any(|((s, _), c)| *s == a.from && c.next == Some(a.to));
            assert!(
                taken,
                "{name}: {} -> {} ({}) is taken by no cell",
                a.from, a.to, a.label
            );
        }
    }
}
