//! `appex lookups <KIND>`: a table, or a JSON array of the items with
//! unknown fields kept; `appex lookups --dest`: all 12 lookup tables landed.

use serde_json::Value;
use userpilot_appex::{Client, models::LookupKind};

use super::Invocation;
use crate::{args::LookupsArgs, errors::CliError};

/// Columns shown by default, in this order, when some item has them.
const PREFERRED_COLUMNS: [&str; 9] = [
    "id",
    "key",
    "title",
    "name",
    "display_name",
    "type",
    "data_type",
    "status",
    "category",
];

/// Longest cell shown in a table.
const MAX_CELL: usize = 48;

pub async fn run(ctx: &Invocation, args: LookupsArgs) -> Result<(), CliError> {
    let client = ctx.client()?;
    if let Some(dataset) = super::land::open_dest(&args.dest)? {
        return super::land::land_lookups(ctx, &client, &dataset).await;
    }
    let Some(kind) = args.kind else {
        return Err(CliError::Usage("name a lookup kind, or pass --dest".into()));
    };
    let items = fetch(&client, kind).await?;
    if ctx.ui.json {
        return ctx.ui.print_json(&items);
    }
    if items.is_empty() {
        ctx.ui.note("no items");
        return Ok(());
    }
    let columns = columns(&items);
    let headers: Vec<String> = columns.iter().map(|c| c.to_ascii_uppercase()).collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| columns.iter().map(|c| cell(item.get(c))).collect())
        .collect();
    ctx.ui.print_table(&headers, &rows)
}

/// Every item of a lookup (every page of the paginated ones), as JSON.
async fn fetch(client: &Client, kind: LookupKind) -> Result<Vec<Value>, CliError> {
    client
        .lookup(kind)
        .await?
        .to_json()
        .map_err(|e| CliError::Other(format!("cannot encode the items as JSON: {e}")))
}

/// The preferred columns some item has; else the first item's first keys.
fn columns(items: &[Value]) -> Vec<String> {
    let has = |key: &str| {
        items
            .iter()
            .any(|i| i.get(key).is_some_and(|v| !v.is_null()))
    };
    let mut columns: Vec<String> = PREFERRED_COLUMNS
        .iter()
        .filter(|c| has(c))
        .map(|c| c.to_string())
        .collect();
    if columns.is_empty()
        && let Some(Value::Object(first)) = items.first()
    {
        columns = first.keys().take(4).cloned().collect();
    }
    columns
}

fn cell(value: Option<&Value>) -> String {
    let text = match value {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    if text.chars().count() > MAX_CELL {
        let mut short: String = text.chars().take(MAX_CELL - 1).collect();
        short.push('…');
        short
    } else {
        text
    }
}
