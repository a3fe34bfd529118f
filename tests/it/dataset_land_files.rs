//! Files landed together (read by several workers at once) land exactly
//! what reading them one after the other lands: the same rows, in the same
//! order, the first row of a key winning, days split across files and
//! files holding several days included.

use std::{io::Write, path::Path};

use flate2::{Compression, write::GzEncoder};
use userpilot_appex::{
    dataset::{Dataset, DestinationOptions, LandOptions},
    records::{self, BatchOptions, RecordReader},
};

/// Writes events `(i, day, pathname)` as gzipped ndjson.
fn write_events(path: &Path, events: &[(usize, u32, &str)]) {
    let mut out = GzEncoder::new(std::fs::File::create(path).unwrap(), Compression::fast());
    for &(i, day, pathname) in events {
        let mut e = crate::support::records::event_json(i);
        e["inserted_at"] = format!("2025-01-{day:02}T{:02}:00:00.{:06}Z", i % 24, i).into();
        e["pathname"] = pathname.into();
        writeln!(out, "{e}").unwrap();
    }
    out.finish().unwrap();
}

fn range(
    ids: std::ops::Range<usize>,
    day: u32,
    pathname: &'static str,
) -> Vec<(usize, u32, &'static str)> {
    ids.map(|i| (i, day, pathname)).collect()
}

/// Every landed row of `ds`, day by day, in file order, as JSON.
fn landed(ds: &Path, keys: &[String]) -> Vec<String> {
    keys.iter()
        .flat_map(|key| RecordReader::open(ds.join(key)).unwrap())
        .map(|e| serde_json::to_string(&e.unwrap()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_landed_together_land_what_reading_them_in_turn_lands() {
    let tmp = tempfile::tempdir().unwrap();
    let files: Vec<_> = (0..5)
        .map(|n| tmp.path().join(format!("part-{n}.ndjson.gz")))
        .collect();
    // Day 10 is split over files 0, 2 and 3; day 11 over 1, 3 and 4. Event
    // 5 comes again in file 1 and event 150 in file 4, changed: the first
    // ones read win.
    write_events(&files[0], &range(0..100, 10, "/first"));
    let mut f1 = range(100..200, 11, "/first");
    f1.push((5, 10, "/later"));
    write_events(&files[1], &f1);
    write_events(&files[2], &range(200..300, 10, "/first"));
    let mut f3 = range(300..400, 11, "/first");
    f3.extend(range(400..450, 10, "/first"));
    write_events(&files[3], &f3);
    let mut f4 = vec![(150, 11, "/later")];
    f4.extend(range(450..500, 11, "/first"));
    write_events(&files[4], &f4);

    let together = Dataset::open(
        tmp.path().join("together").to_str().unwrap(),
        &DestinationOptions::default(),
    )
    .unwrap();
    let report = together
        .land_files(&files, &LandOptions::default())
        .await
        .unwrap();
    let in_turn = Dataset::open(
        tmp.path().join("in-turn").to_str().unwrap(),
        &DestinationOptions::default(),
    )
    .unwrap();
    let expected = in_turn
        .land_batches(
            records::batches(&files, BatchOptions::default()),
            &LandOptions::default(),
        )
        .await
        .unwrap();

    assert_eq!(report.files, 5);
    assert_eq!(report.rows_in, 502);
    assert_eq!(report.rows_new, 500);
    assert_eq!(report.duplicates_dropped, 2);
    let keys: Vec<String> = report.days.iter().map(|d| d.key.clone()).collect();
    assert_eq!(
        keys,
        [
            "events/dt=2025-01-10/events.parquet",
            "events/dt=2025-01-11/events.parquet"
        ]
    );
    for (got, want) in report.days.iter().zip(&expected.days) {
        assert_eq!(
            (got.rows_in, got.rows_after, got.duplicates_dropped),
            (want.rows_in, want.rows_after, want.duplicates_dropped)
        );
    }
    let rows = landed(&tmp.path().join("together"), &keys);
    assert_eq!(rows, landed(&tmp.path().join("in-turn"), &keys));
    assert_eq!(rows.len(), 500);
    assert!(
        rows.iter().all(|r| !r.contains("/later")),
        "the first rows of a key win"
    );
}
