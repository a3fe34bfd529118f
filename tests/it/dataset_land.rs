//! Landing event batches into a local dataset: days, merge, dedupe, atomic
//! replacement, links refused, the report.

use std::sync::Arc;

use arrow_array::{
    Array, RecordBatch, StringArray, TimestampMicrosecondArray, cast::AsArray,
    types::TimestampMicrosecondType,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use chrono::{DateTime, NaiveDate};
use futures::stream;
use userpilot_appex::{
    Error,
    dataset::{
        DEDUPE_KEY_COLUMN, Dataset, DestinationOptions, LandOptions, LandReport, day_key, open,
        read_parquet,
    },
};

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new(
            "inserted_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new(DEDUPE_KEY_COLUMN, DataType::Utf8, true),
        Field::new("event_name", DataType::Utf8, true),
    ]))
}

/// Rows as (RFC 3339 time, id, name).
fn batch(rows: &[(&str, Option<&str>, &str)]) -> RecordBatch {
    let ts: TimestampMicrosecondArray = rows
        .iter()
        .map(|r| {
            Some(
                DateTime::parse_from_rfc3339(r.0)
                    .unwrap()
                    .timestamp_micros(),
            )
        })
        .collect::<TimestampMicrosecondArray>()
        .with_timezone("UTC");
    let ids: StringArray = rows.iter().map(|r| r.1).collect();
    let names: StringArray = rows.iter().map(|r| Some(r.2)).collect();
    RecordBatch::try_new(schema(), vec![Arc::new(ts), Arc::new(ids), Arc::new(names)]).unwrap()
}

/// Lands `batches` with the default options.
async fn land(
    ds: &Dataset,
    batches: Vec<userpilot_appex::Result<RecordBatch>>,
) -> userpilot_appex::Result<LandReport> {
    ds.land_batches(stream::iter(batches), &LandOptions::default())
        .await
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn read_day(dir: &std::path::Path, d: &str) -> Vec<(i64, Option<String>, String)> {
    let data = std::fs::read(dir.join(day_key(day(d)))).unwrap();
    let contents = read_parquet(data.into()).unwrap();
    let mut out = Vec::new();
    for b in &contents.batches {
        let ts = b.column(0).as_primitive::<TimestampMicrosecondType>();
        let ids = b.column(1).as_string::<i32>();
        let names = b.column(2).as_string::<i32>();
        for r in 0..b.num_rows() {
            out.push((
                ts.value(r),
                ids.is_valid(r).then(|| ids.value(r).to_owned()),
                names.value(r).to_owned(),
            ));
        }
    }
    out
}

/// A dataset in a new temporary directory.
fn local_dataset() -> (tempfile::TempDir, Dataset) {
    let tmp = tempfile::tempdir().unwrap();
    let ds = Dataset::open(tmp.path().to_str().unwrap(), &DestinationOptions::default()).unwrap();
    (tmp, ds)
}

/// The `event_name`s of a landed day, in file order.
async fn day_names(dir: &std::path::Path, d: &str) -> Vec<String> {
    read_day(dir, d).await.into_iter().map(|r| r.2).collect()
}

#[tokio::test]
async fn land_splits_days_sorts_dedupes_and_merges() {
    let (tmp, ds) = local_dataset();
    let first = vec![
        Ok(batch(&[
            ("2026-01-02T10:00:00Z", Some("b"), "b"),
            ("2026-01-01T23:59:59.999999Z", Some("a"), "a"),
            ("2026-01-02T09:00:00Z", Some("c"), "c"),
            ("2026-01-02T09:00:00Z", Some("c"), "c-dup"),
        ])),
        Ok(batch(&[("2026-01-02T08:00:00Z", None, "no-id")])),
    ];
    let report = land(&ds, first).await.unwrap();
    assert_eq!(report.rows_in, 5);
    assert_eq!(report.duplicates_dropped, 1);
    assert_eq!(report.days.len(), 2);
    assert_eq!(report.days[0].day, day("2026-01-01"));
    assert_eq!(report.days[0].rows_after, 1);
    assert_eq!(report.days[1].rows_after, 3);
    assert_eq!(report.days[1].rows_in, 4);
    let day2 = read_day(tmp.path(), "2026-01-02").await;
    let names: Vec<&str> = day2.iter().map(|r| r.2.as_str()).collect();
    assert_eq!(
        names,
        ["no-id", "c", "b"],
        "sorted by inserted_at, first of a key kept"
    );
    let on_disk = std::fs::read(tmp.path().join(day_key(day("2026-01-02")))).unwrap();
    assert_eq!(report.days[1].bytes, on_disk.len() as u64);

    // Again, overlapping: only the new row lands; the unchanged day is not rewritten.
    let second = vec![Ok(batch(&[
        ("2026-01-02T10:00:00Z", Some("b"), "b-again"),
        ("2026-01-02T11:00:00Z", Some("d"), "d"),
        ("2026-01-01T23:59:59.999999Z", Some("a"), "a-again"),
    ]))];
    let report = land(&ds, second).await.unwrap();
    assert_eq!(report.rows_new, 1);
    assert_eq!(report.duplicates_dropped, 2);
    let d1 = &report.days[0];
    assert!(!d1.written);
    assert_eq!((d1.rows_before, d1.rows_after), (1, 1));
    let d2 = &report.days[1];
    assert!(d2.written);
    assert_eq!((d2.rows_before, d2.rows_after, d2.rows_new), (3, 4, 1));
    let names: Vec<String> = day_names(tmp.path(), "2026-01-02").await;
    assert_eq!(names, ["no-id", "c", "b", "d"]);
    assert_eq!(
        ds.days().await.unwrap(),
        [day("2026-01-01"), day("2026-01-02")]
    );
    // No temporary files left behind.
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("events/dt=2026-01-02"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["events.parquet"]);
}

#[tokio::test]
async fn a_row_without_inserted_at_is_an_error_and_nothing_is_written() {
    let (_tmp, ds) = local_dataset();
    let good = batch(&[("2026-01-02T10:00:00Z", Some("b"), "b")]);
    let ts = TimestampMicrosecondArray::from(vec![None::<i64>]).with_timezone("UTC");
    let bad = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(ts),
            Arc::new(StringArray::from(vec![Some("x")])),
            Arc::new(StringArray::from(vec![Some("x")])),
        ],
    )
    .unwrap();
    let err = land(&ds, vec![Ok(good), Ok(bad)]).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput(ref m) if m.contains("inserted_at")),
        "{err}"
    );
    assert!(ds.days().await.unwrap().is_empty());
}

#[tokio::test]
async fn local_destination_puts_atomically_and_refuses_links_and_escapes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ds");
    let dest = open(root.to_str().unwrap(), &DestinationOptions::default()).unwrap();
    dest.put("a/b.txt", "one".into()).await.unwrap();
    dest.put("a/b.txt", "two".into()).await.unwrap();
    assert_eq!(
        dest.get("a/b.txt").await.unwrap().as_deref(),
        Some(&b"two"[..])
    );
    assert_eq!(dest.get("a/none.txt").await.unwrap(), None);
    let listed = dest.list("a/").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].key.as_str(), listed[0].size), ("a/b.txt", 3));
    for bad in ["../x", "/etc/x", "a/../../x", "a//b", ".hidden"] {
        assert!(
            matches!(dest.put(bad, "x".into()).await, Err(Error::InvalidInput(_))),
            "{bad}"
        );
    }
    // A link below the root is refused, not followed.
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&outside, root.join("events")).unwrap();
        let err = dest
            .put("events/dt=2026-01-01/events.parquet", "x".into())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        std::os::unix::fs::symlink(outside.join("f"), root.join("a/link.txt")).unwrap();
        assert!(dest.get("a/link.txt").await.is_err());
        assert!(dest.put("a/link.txt", "x".into()).await.is_err());
        assert!(!outside.join("f").exists());
        // A root that is a link is refused too.
        let link_root = tmp.path().join("link-root");
        std::os::unix::fs::symlink(&outside, &link_root).unwrap();
        assert!(open(link_root.to_str().unwrap(), &DestinationOptions::default()).is_err());
    }
    dest.delete("a/b.txt").await.unwrap();
    dest.delete("a/b.txt").await.unwrap();
    assert_eq!(dest.get("a/b.txt").await.unwrap(), None);
}

#[tokio::test]
async fn a_day_split_across_the_input_lands_like_one_piece() {
    // Day 1 arrives in order, then day 2, then day 1 again (a duplicate of
    // an earlier day-1 row, a new row, and a row older than the rest): the
    // day is rebuilt from its pieces, first row of a key kept, sorted.
    let (tmp, ds) = local_dataset();
    let input = vec![
        Ok(batch(&[
            ("2026-01-01T01:00:00Z", Some("a"), "a"),
            ("2026-01-01T02:00:00Z", Some("b"), "b"),
        ])),
        Ok(batch(&[("2026-01-01T03:00:00Z", Some("c"), "c")])),
        Ok(batch(&[
            ("2026-01-02T01:00:00Z", Some("x"), "x"),
            ("2026-01-02T01:00:00Z", Some("x"), "x-dup"),
        ])),
        Ok(batch(&[
            ("2026-01-01T02:00:00Z", Some("b"), "b-again"),
            ("2026-01-01T04:00:00Z", Some("d"), "d"),
            ("2026-01-01T00:30:00Z", Some("e"), "e"),
        ])),
    ];
    let report = land(&ds, input).await.unwrap();
    assert_eq!(report.rows_in, 8);
    assert_eq!(report.duplicates_dropped, 2);
    let d1 = &report.days[0];
    assert_eq!(
        (d1.rows_in, d1.rows_after, d1.duplicates_dropped),
        (6, 5, 1)
    );
    let d2 = &report.days[1];
    assert_eq!(
        (d2.rows_in, d2.rows_after, d2.duplicates_dropped),
        (2, 1, 1)
    );
    let names: Vec<String> = day_names(tmp.path(), "2026-01-01").await;
    assert_eq!(names, ["e", "a", "b", "c", "d"]);
    let names: Vec<String> = day_names(tmp.path(), "2026-01-02").await;
    assert_eq!(names, ["x"]);
    let on_disk = std::fs::read(tmp.path().join(day_key(day("2026-01-02")))).unwrap();
    assert_eq!(report.days[1].bytes, on_disk.len() as u64);
}
