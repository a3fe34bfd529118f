//! `_appex/views.sql`: DuckDB views over the dataset.

use super::destination::Destination;
use crate::Result;

/// The key of the views file.
pub const VIEWS_KEY: &str = "_appex/views.sql";

/// Whether [`views_sql`] writes the `events` view: only once the dataset
/// holds event files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventsView {
    /// The dataset holds event files: write the view.
    Create,
    /// It holds none yet: leave the view out.
    Omit,
}

/// DuckDB `CREATE VIEW` statements for a dataset at `base` (`""` for paths
/// relative to the dataset's directory, or e.g. `s3://bucket/prefix/`):
/// `events` over every day file, with the `dt` partition column (with
/// [`EventsView::Create`]: DuckDB refuses a view over no files), and
/// `lookup_<kind>` per lookup table.
///
/// ```
/// use userpilot_appex::dataset::{EventsView, views_sql};
/// let sql = views_sql("", EventsView::Create, &["flows"]);
/// assert!(sql.contains("CREATE OR REPLACE VIEW events AS SELECT * FROM read_parquet('events/*/*.parquet', hive_partitioning = true);"));
/// assert!(sql.contains("CREATE OR REPLACE VIEW lookup_flows AS SELECT * FROM read_parquet('lookups/flows.parquet');"));
/// ```
pub fn views_sql(base: &str, events: EventsView, lookup_kinds: &[&str]) -> String {
    let quote = |s: String| s.replace('\'', "''");
    let mut sql = String::from(
        "-- DuckDB views over this userpilot-appex dataset (written by appex).\n\
         -- Run from the dataset's directory: duckdb -init _appex/views.sql\n",
    );
    if events == EventsView::Create {
        sql.push_str(&format!(
            "CREATE OR REPLACE VIEW events AS SELECT * FROM read_parquet('{}', hive_partitioning = true);\n",
            quote(format!("{base}events/*/*.parquet"))
        ));
    }
    for kind in lookup_kinds {
        let name: String = kind
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        sql.push_str(&format!(
            "CREATE OR REPLACE VIEW lookup_{name} AS SELECT * FROM read_parquet('{}');\n",
            quote(format!("{base}lookups/{kind}.parquet"))
        ));
    }
    sql
}

/// The lookup kinds a dataset holds (`lookups/<kind>.parquet`).
pub async fn lookup_kinds(dest: &dyn Destination) -> Result<Vec<String>> {
    Ok(dest
        .list("lookups/")
        .await?
        .into_iter()
        .filter_map(|o| {
            o.key
                .strip_prefix("lookups/")?
                .strip_suffix(".parquet")
                .filter(|k| !k.contains('/'))
                .map(str::to_owned)
        })
        .collect())
}

/// The views SQL for what the dataset holds now (paths as
/// [`Destination::query_base`] says: relative to a directory, `s3://…` on
/// S3).
pub async fn current_views(dest: &dyn Destination) -> Result<String> {
    let kinds = lookup_kinds(dest).await?;
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    let has_events = dest
        .list("events/")
        .await?
        .iter()
        .any(|o| super::parse_day_key(&o.key).is_some());
    let events = if has_events {
        EventsView::Create
    } else {
        EventsView::Omit
    };
    Ok(views_sql(&dest.query_base(), events, &kinds))
}

/// Writes `_appex/views.sql` ([`current_views`]); returns the SQL.
pub async fn write_views(dest: &dyn Destination) -> Result<String> {
    let sql = current_views(dest).await?;
    dest.put(VIEWS_KEY, sql.clone().into()).await?;
    Ok(sql)
}
