//! Issue 21: the price pass reports its progress (rows checked of the rows its source holds, the
//! total from the CSV byte scan or the Parquet footer) for the terminal's progress bar; at the end
//! both equal the rows read, bad rows included.

mod common;
use priceaudit::{audit, AuditOptions};
use std::sync::Arc;

#[test]
fn the_price_pass_counts_every_row_of_its_total() {
    let p = Arc::new(priceaudit::dump::RowProgress::default());
    let opts = AuditOptions { progress: Some(p.clone()), ..Default::default() };
    let a = audit(std::path::Path::new("fixtures/demo"), &opts).unwrap();
    let read = a.summary.tables["prices"].rows_read;
    assert_eq!(p.get(), Some((read, Some(read))));

    // a bad row is checked, and counted, like the others
    let bad = common::one_registration(&[
        "O1,A,2024-05-20 10:00:00,10,txn,,",
        "O1,A,2024-05-21 10:00:00,1e3,txn,,",
        "O1,A,2024-05-22 10:00:00,9,txn,,",
    ]);
    let p = Arc::new(priceaudit::dump::RowProgress::default());
    let opts = AuditOptions { progress: Some(p.clone()), ..Default::default() };
    let a = audit(bad.path(), &opts).unwrap();
    assert_eq!(a.summary.tables["prices"].rows_rejected, 1);
    assert_eq!(p.get(), Some((3, Some(3))));

    // Parquet: the footer's total
    let d = tempfile::tempdir().unwrap();
    priceaudit::synth::synth(d.path(), 40, 30, 5, priceaudit::synth::Format::Parquet).unwrap();
    let p = Arc::new(priceaudit::dump::RowProgress::default());
    let opts = AuditOptions { progress: Some(p.clone()), ..Default::default() };
    let a = audit(d.path(), &opts).unwrap();
    let read = a.summary.tables["prices"].rows_read;
    assert!(read > 1000);
    assert_eq!(p.get(), Some((read, Some(read))));

    // held price rows (explain) are not followed
    let p = Arc::new(priceaudit::dump::RowProgress::default());
    let opts = AuditOptions { progress: Some(p.clone()), stream_prices: false, ..Default::default() };
    audit(std::path::Path::new("fixtures/demo"), &opts).unwrap();
    assert_eq!(p.get(), None);
}

/// In shares (audited two at a time, each passing over its own rows), the passes' rows add up: at
/// the end, every row of the table, of the table's total.
#[test]
fn passes_in_shares_add_up_to_the_table() {
    let d = tempfile::tempdir().unwrap();
    priceaudit::synth::synth(d.path(), 40, 30, 6, priceaudit::synth::Format::Parquet).unwrap();
    let p = Arc::new(priceaudit::dump::RowProgress::default());
    let opts = AuditOptions { progress: Some(p.clone()), ..Default::default() };
    let input = priceaudit::dump::Input::Dir(d.path().to_path_buf());
    let plan = priceaudit::plan_shares(&input, &opts, Some(3), None).unwrap();
    let out = tempfile::tempdir().unwrap();
    let outputs = priceaudit::output::Outputs::default();
    let w = priceaudit::audit_into(&input, &opts, plan, out.path(), &outputs, &mut |_, _| {}).unwrap();
    assert_eq!(w.shares, 3);
    let read = w.digest.summary.tables["prices"].rows_read;
    assert!(read > 1000);
    assert_eq!(p.get(), Some((read, Some(read))));
}
