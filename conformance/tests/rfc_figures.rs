//! RFC 793 figures 7 to 14 and the teaching flows (three-way handshake, four-way close,
//! half-close with the passive side still sending), played through the simulator with no faults
//! and fixed ISNs, kept as insta snapshots in RFC figure notation.

use synack::scenario;

#[test]
fn rfc_figures_and_flows() {
    for (name, s) in scenario::all() {
        let trace = scenario::play(&s).unwrap();
        insta::assert_snapshot!(name, trace);
    }
}
