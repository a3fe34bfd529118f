//! Record reader: the async stream over several files, and a large file read
//! with flat memory.

use std::{
    path::{Path, PathBuf},
    pin::Pin,
    task::{Context, Poll, Waker},
};

use crate::support::{
    alloc,
    records::{event_json, record_error, write_csv, write_ndjson},
};
use futures::{Stream, StreamExt};
use userpilot_appex::{
    Error,
    error::RecordLocation,
    records::{ReadOptions, RecordReader, records_stream, records_stream_with},
};

/// Writes events `range` as `dir/name` (see [`write_ndjson`]); returns its path.
fn ndjson_file(dir: &Path, name: &str, range: std::ops::Range<usize>, gz: bool) -> PathBuf {
    let path = dir.join(name);
    write_ndjson(&path, range, gz);
    path
}

fn id_of(item: &userpilot_appex::Result<userpilot_appex::records::ExportedEvent>) -> String {
    item.as_ref()
        .unwrap()
        .internal_event_id
        .clone()
        .unwrap_or_default()
}

fn expected_ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("evt-{i}")).collect()
}

/// Three files of mixed formats, events 0..900 in order.
fn three_files(dir: &Path) -> Vec<PathBuf> {
    let a = dir.join("a.ndjson.gz");
    let b = dir.join("b.csv");
    let c = dir.join("c.ndjson");
    write_ndjson(&a, 0..300, true);
    write_csv(&b, 300..600);
    write_ndjson(&c, 600..900, false);
    vec![a, b, c]
}

#[tokio::test]
async fn stream_over_several_files_yields_every_event_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let paths = three_files(dir.path());
    let items: Vec<_> = records_stream(&paths).collect().await;
    let ids: Vec<String> = items.iter().map(id_of).collect();
    assert_eq!(ids, expected_ids(0..900));
}

#[tokio::test]
async fn stream_ends_at_the_first_bad_row_naming_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let a = ndjson_file(dir.path(), "a.ndjson", 0..5, false);
    let b = dir.path().join("b.ndjson");
    std::fs::write(
        &b,
        format!(
            "{}\n{}\nnot json\n{}\n",
            event_json(5),
            event_json(6),
            event_json(7)
        ),
    )
    .unwrap();
    let c = ndjson_file(dir.path(), "c.ndjson", 8..10, false);
    let items: Vec<_> = records_stream([&a, &b, &c]).collect().await;
    assert_eq!(items.len(), 8, "5 + 2 events, then the error, then the end");
    let ids: Vec<String> = items[..7].iter().map(id_of).collect();
    assert_eq!(ids, expected_ids(0..7));
    record_error(&items[7], &b, RecordLocation::Line(3));
}

#[tokio::test]
async fn lenient_stream_skips_bad_rows_and_reports_them_in_its_summary() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = three_files(dir.path());
    let bad = dir.path().join("d.ndjson");
    std::fs::write(
        &bad,
        format!("[]\n{}\n{{\"inserted_at\":\"soon\"}}\n", event_json(900)),
    )
    .unwrap();
    paths.push(bad);
    let mut stream = records_stream_with(&paths, ReadOptions::lenient());
    let mut n = 0;
    while let Some(item) = stream.next().await {
        item.unwrap();
        n += 1;
    }
    assert_eq!(n, 901);
    assert_eq!(stream.skipped(), 2);

    let summary = records_stream_with(&paths, ReadOptions::lenient())
        .summarize()
        .await
        .unwrap();
    assert_eq!(summary.total, 901);
    assert_eq!(summary.skipped, 2);
    assert_eq!(summary.files, 4);
    assert_eq!(summary.by_event_type["track"], 301); // i % 3 == 0 for i in 0..=900
    assert_eq!(summary.by_event_type["page_view"], 600);
}

#[tokio::test]
async fn a_missing_file_ends_the_stream_with_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = ndjson_file(dir.path(), "a.ndjson", 0..3, false);
    let missing = dir.path().join("missing.ndjson");
    let items: Vec<_> = records_stream([&a, &missing, &a]).collect().await;
    assert_eq!(items.len(), 4);
    match &items[3] {
        Err(Error::Io { path, .. }) => assert_eq!(path, &missing),
        other => panic!("expected Io, got {other:?}"),
    }
}

#[test]
fn outside_a_tokio_runtime_the_stream_yields_an_error() {
    let mut stream = records_stream(["whatever.ndjson"]);
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(&mut stream).poll_next(&mut cx) {
        Poll::Ready(Some(Err(Error::NoRuntime { operation }))) => {
            assert_eq!(operation, "records_stream")
        }
        other => panic!("expected a NoRuntime error, got {other:?}"),
    }
    assert!(matches!(
        Pin::new(&mut stream).poll_next(&mut cx),
        Poll::Ready(None)
    ));
}

#[test]
fn a_large_gzip_file_is_read_with_flat_memory() {
    const ROWS: usize = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let path = ndjson_file(dir.path(), "big.ndjson.gz", 0..ROWS, true);
    let decompressed: usize = (0..ROWS).map(|i| event_json(i).to_string().len() + 1).sum();

    let ((count, last), peak_growth) = alloc::thread_peak_growth(|| {
        let mut reader = RecordReader::open(&path).unwrap();
        let mut count = 0usize;
        let mut last = None;
        for event in &mut reader {
            let event = event.unwrap();
            count += 1;
            last = event.internal_event_id;
        }
        (count, last)
    });

    assert_eq!(count, ROWS);
    assert_eq!(last.as_deref(), Some("evt-199999"));
    alloc::assert_bounded("reading", decompressed, peak_growth, 2 * 1024 * 1024, 10);
}
