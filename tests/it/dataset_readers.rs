//! The landed dataset read by engines nobody here wrote: DuckDB (through
//! `_appex/views.sql`) and pyarrow (`pyarrow.dataset`, hive partitioning),
//! from the Python environment the test support creates. The counts they
//! find equal the crate's own.
#![cfg(feature = "cli")]

use std::{
    collections::{BTreeMap, HashSet},
    path::PathBuf,
};

use futures::StreamExt;
use serde_json::Value;
use userpilot_appex::records::records_stream;

use crate::support::{
    cli::{Sim, days_ago},
    python,
};

const DUCKDB_COUNTS: &str = r#"
import os, sys, duckdb
os.chdir(sys.argv[1])
con = duckdb.connect()
con.execute(open("_appex/views.sql").read())
print(con.execute("SELECT typeof(inserted_at) FROM events LIMIT 1").fetchone()[0])
for dt, n in con.execute("SELECT CAST(dt AS VARCHAR), count(*) FROM events GROUP BY dt ORDER BY dt").fetchall():
    print(dt, n)
"#;

/// Rows per UTC day the crate's own reader finds in the raw files, each
/// dedupe key counted once.
fn own_counts(sim: &Sim, files: &[PathBuf]) -> Vec<(String, u64)> {
    sim.block_on(async {
        let mut seen = HashSet::new();
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut events = records_stream(files);
        while let Some(event) = events.next().await {
            let event = event.expect("an event");
            let key = event
                .internal_event_id
                .clone()
                .expect("the simulator sends ids");
            if seen.insert(key) {
                let day = event.inserted_at.expect("inserted_at").date_naive();
                *counts.entry(day.to_string()).or_default() += 1;
            }
        }
        counts.into_iter().collect()
    })
}

fn report_counts(report: &Value) -> Vec<(String, u64)> {
    report["days"]
        .as_array()
        .expect("days")
        .iter()
        .map(|d| {
            (
                d["day"].as_str().unwrap().to_string(),
                d["rows_after"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The downloaded files an `export --json` lists.
fn raw_files(out: &Value) -> Vec<PathBuf> {
    out["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| PathBuf::from(f["path"].as_str().expect("a path")))
        .collect()
}

#[test]
fn an_exported_week_lands_and_duckdb_and_pyarrow_count_what_the_crate_counts() {
    let sim = Sim::start();
    let tmp = tempfile::tempdir().unwrap();
    let (raw, ds) = (tmp.path().join("raw"), tmp.path().join("ds"));
    let (raw_s, ds_s) = (raw.to_str().unwrap(), ds.to_str().unwrap());
    let export = |format: &str| {
        sim.appex(&[
            "export",
            "--from",
            &days_ago(7),
            "--to",
            &days_ago(1),
            "--format",
            format,
            "--out",
            raw_s,
            "--dest",
            ds_s,
            "--json",
        ])
        .ok()
        .json()
    };
    let out = export("ndjson");
    let landed = &out["landed"];
    let own = own_counts(&sim, &raw_files(&out));
    assert!(own.len() >= 7, "a week of days: {own:?}");
    assert_eq!(report_counts(landed), own);
    assert_eq!(
        landed["rows_new"].as_u64(),
        Some(own.iter().map(|d| d.1).sum())
    );

    let (duck_type, duck) = python::parse_counts(&python::run(DUCKDB_COUNTS, &[ds_s]));
    assert_eq!(duck_type, "TIMESTAMP WITH TIME ZONE");
    assert_eq!(duck, own);
    let (arrow_type, arrow) = python::pyarrow_counts(ds_s, None);
    assert_eq!(arrow_type, "timestamp[us, tz=UTC]");
    assert_eq!(arrow, own);

    // The same export again, as CSV this time: nothing new, no day rewritten.
    let again = export("csv");
    assert_eq!(again["landed"]["rows_new"].as_u64(), Some(0));
    assert_eq!(again["landed"]["days_written"].as_u64(), Some(0));
    assert_eq!(
        python::parse_counts(&python::run(DUCKDB_COUNTS, &[ds_s])).1,
        own
    );

    // `appex sql` prints what _appex/views.sql holds.
    let sql = sim.appex(&["sql", "--dest", ds_s]).ok().stdout;
    assert_eq!(
        sql,
        std::fs::read_to_string(ds.join("_appex/views.sql")).unwrap()
    );
}

const DUCKDB_LOOKUPS: &str = r#"
import os, sys, duckdb
os.chdir(sys.argv[1])
con = duckdb.connect()
con.execute(open("_appex/views.sql").read())
for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE view_name LIKE 'lookup_%' ORDER BY 1").fetchall():
    print(name, con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
"#;

#[test]
fn lookups_dest_lands_twelve_tables_that_duckdb_reads() {
    let sim = Sim::start();
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().to_str().unwrap();
    let out = sim.appex(&["lookups", "--dest", ds, "--json"]).ok().json();
    let tables = out["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), 12);
    let mut expected: Vec<(String, u64)> = tables
        .iter()
        .map(|t| {
            (
                format!("lookup_{}", t["kind"].as_str().unwrap()),
                t["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    expected.sort();
    assert!(expected.iter().any(|(_, n)| *n > 0), "{expected:?}");
    let duck: Vec<(String, u64)> = python::run(DUCKDB_LOOKUPS, &[ds])
        .lines()
        .map(|l| {
            let (name, n) = l.split_once(' ').unwrap();
            (name.to_string(), n.parse().unwrap())
        })
        .collect();
    assert_eq!(duck, expected);
}
