//! The requirements report: its listing is kept as a snapshot, so that a change of coverage
//! shows in review, and the README's per-area counts are the catalog's.

use synack::requirements::Catalog;

#[test]
fn listing() {
    let catalog = Catalog::builtin().unwrap();
    insta::assert_snapshot!(catalog.listing(None));
}

#[test]
fn the_readme_counts_the_musts_covered_in_each_area_as_the_catalog_does() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    for line in Catalog::builtin().unwrap().readme_lines() {
        assert!(readme.contains(&line), "README.md lacks the line {line:?}");
    }
}
