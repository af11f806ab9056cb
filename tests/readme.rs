//! The README's rule table is generated from the registry: this fails when they drift.
//! Regenerate with `cargo run --release -- rules --markdown`.

mod common;

#[test]
fn readme_rule_table_matches_the_registry() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start =
        readme.find("<!-- rules-table:start -->\n").expect("start marker") + "<!-- rules-table:start -->\n".len();
    let end = readme.find("<!-- rules-table:end -->").expect("end marker");
    let want = priceaudit::output::report::rules_markdown_table();
    assert_eq!(
        &readme[start..end],
        want,
        "README rule table is stale; paste `priceaudit rules --markdown` between the markers"
    );
}

#[test]
fn readme_quick_start_is_the_two_commands() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    assert!(readme.contains("cargo run --release -- audit fixtures/demo --out reports/demo\ncargo test --release\n"));
    let ci = std::fs::read_to_string(".ci/run").unwrap();
    assert!(ci.contains("cargo test --release"), ".ci/run calls the README's test command");
}
