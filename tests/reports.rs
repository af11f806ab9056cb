//! The human outputs: report.html is self-contained and holds the tables, counts and charts;
//! `explain` tells a newcomer the whole derivation; its SVG is snapshot-tested.

mod common;

use priceaudit::{audit, AuditOptions};
use std::path::Path;

/// `explain` reads the held price rows, so these audits hold them (as the `explain` command does).
fn held() -> AuditOptions {
    AuditOptions { stream_prices: false, ..Default::default() }
}

fn demo() -> priceaudit::Audit {
    audit(Path::new("fixtures/demo"), &held()).unwrap()
}

/// Elements matching `selector` inside the element with id `id` (parsed with `tl`).
fn inside<'a>(dom: &'a tl::VDom<'a>, id: &str, selector: &str) -> Vec<&'a tl::HTMLTag<'a>> {
    let p = dom.parser();
    let root = dom.get_element_by_id(id).unwrap_or_else(|| panic!("no element #{id}"));
    let tag = root.get(p).unwrap().as_tag().unwrap();
    tag.query_selector(p, selector)
        .map(|it| it.filter_map(|h| h.get(p).and_then(|n| n.as_tag())).collect())
        .unwrap_or_default()
}

#[test]
fn html_report_has_tables_counts_and_charts_and_is_self_contained() {
    let a = demo();
    let html = priceaudit::output::report::html(&a);
    let dom = tl::parse(&html, tl::ParserOptions::default().track_ids()).expect("report.html parses");
    let p = dom.parser();
    // every finding is a row of the findings table (plus the header row)
    assert_eq!(inside(&dom, "findings", "tr").len(), a.findings.len() + 1);
    // by-rule table: one row per rule that fired
    let rules_fired: std::collections::BTreeSet<&str> = a.findings.iter().map(|f| f.rule).collect();
    assert_eq!(inside(&dom, "by-rule", "tr").len(), rules_fired.len() + 1);
    // the verdict cards carry the verdict counts
    let cards: Vec<String> = inside(&dom, "cards", ".card").iter().map(|c| c.inner_text(p).to_string()).collect();
    assert!(cards.iter().any(|c| c == "26fail"), "{cards:?}");
    assert!(cards.iter().any(|c| c == "42registrations"), "{cards:?}");
    // two inline SVG charts with one bar label per rule that fired
    let svgs: Vec<&tl::HTMLTag> =
        dom.query_selector("svg").unwrap().filter_map(|h| h.get(p).and_then(|n| n.as_tag())).collect();
    assert_eq!(svgs.len(), 2);
    let chart_text = svgs[0].inner_text(p);
    for r in &rules_fired {
        assert!(chart_text.contains(r), "chart lacks {r}");
    }
    assert!(inside(&dom, "would-pass", "tr").len() > 1);
    assert_eq!(inside(&dom, "input", "tr").len(), 6);
    // the merchants failing merchant gates (fixtures/demo/merchants.csv): 12, and the header
    assert_eq!(inside(&dom, "merchant-gates", "tr").len(), 13);
    // self-contained: no external resources
    for sel in ["link", "img", "iframe"] {
        assert_eq!(dom.query_selector(sel).map(|i| i.count()).unwrap_or(0), 0, "{sel}");
    }
    let scripts: Vec<&tl::HTMLTag> =
        dom.query_selector("script").unwrap().filter_map(|h| h.get(p).and_then(|n| n.as_tag())).collect();
    assert!(scripts.iter().all(|s| s.attributes().get("src").is_none()));
    for attr in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(attr), "external reference {attr}");
    }
}

#[test]
fn markdown_report_has_the_sections() {
    let md = priceaudit::output::report::markdown(&demo());
    for h in
        ["## Input", "## Findings: 87", "## What would pass", "## Not checked", "| P106 | warmup-undercut | 4 | 0 |"]
    {
        assert!(md.contains(h), "report.md lacks {h:?}");
    }
}

#[test]
fn explain_shows_the_derivation() {
    let a = demo();
    let e = priceaudit::explain::explain(&a, "R01").unwrap();
    let t = priceaudit::explain::text(&e);
    for needle in [
        "lowest_30d   [2024-05-02 10:00:00 +08:00, 2024-06-01 10:00:00 +08:00]",
        "excluded: huopin",
        "★ evidence",
        "basis is txn",
        "P101 FAIL",
        "fails when promo ≥ 10.8 (list 12 × 0.9); promo 9.6",
        "Highest compliant promo price: 9.5 (bound by P101)",
    ] {
        assert!(t.contains(needle), "explain R01 lacks {needle:?}\n{t}");
    }
    // the warm-up of R12 is undercut by another registration
    let t12 = priceaudit::explain::text(&priceaudit::explain::explain(&a, "R12").unwrap());
    assert!(t12.contains("R13 yanxuan") && t12.contains("counts for P106"), "{t12}");
    // every registration explains without error (the row-by-row minimum equals the plan's)
    for r in &a.facts.registrations {
        priceaudit::explain::explain(&a, &r.registration_id).unwrap();
    }
    assert!(priceaudit::explain::explain(&a, "NOPE").is_err());
}

#[test]
fn explain_json_and_svg() {
    let a = demo();
    let e = priceaudit::explain::explain(&a, "R01").unwrap();
    let json: serde_json::Value = serde_json::to_value(&e).unwrap();
    assert_eq!(json["max_ok_price"], "9.5");
    assert_eq!(
        json["rows"].as_array().unwrap().len(),
        7,
        "six rows of R01's SKU before the promo, its huopin sale in the promo"
    );
    let svg = priceaudit::explain::svg::render(&e.chart);
    assert!(svg.starts_with("<svg") && svg.contains("lowest_30d: 9.5") && svg.contains("window: warm-up"));
    // dates on the x axis; the price axis on the prices' range (R01's lowest shown price is 7,
    // so no 0 label), the legend beside the plot (x ≥ 760)
    assert!(svg.contains("\n05-22\n") && svg.contains("date (UTC"), "dates on the x axis");
    assert!(!svg.contains("\n0.0\n") && svg.contains("\n7.0\n"), "the y axis is not from 0");
    let legend_x: Vec<u32> = svg
        .split("<text x=\"")
        .skip(1)
        .filter(|t| t.contains("\nwindow: warm-up\n"))
        .filter_map(|t| t.split('"').next()?.parse().ok())
        .collect();
    assert!(legend_x.iter().all(|&x| x >= 760) && !legend_x.is_empty(), "{legend_x:?}");
    insta::assert_snapshot!("explain_r01_svg", svg);
}

/// `explain` reads every registration's facts row by row (SPEC §4, §5.1, §9) and cross-checks
/// the bulk fold on each of them (lowest prices, list in force, warm-up minimum, baselines and
/// the cn-samr fallback): on the conformance dumps (hard edges, ties, superseded rows) and a
/// synthetic dump, every registration agrees.
#[test]
fn explain_cross_checks_every_fact_of_every_registration() {
    let s = tempfile::tempdir().unwrap();
    priceaudit::synth::synth(s.path(), 150, 200, 5, priceaudit::synth::Format::Csv).unwrap();
    for dir in [Path::new("fixtures/conformance/basic"), Path::new("fixtures/conformance/bad-rows"), s.path()] {
        let a = audit(dir, &held()).unwrap();
        assert!(a.facts.registrations.len() > 100);
        for r in &a.facts.registrations {
            if let Err(e) = priceaudit::explain::explain(&a, &r.registration_id) {
                panic!("{}: {}: {e}", dir.display(), r.registration_id);
            }
        }
    }
}
