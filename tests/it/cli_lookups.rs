//! `appex lookups <KIND>`: every kind, pages walked, JSON and table.
#![cfg(feature = "cli")]

use crate::support::{
    LOOKUPS,
    cli::{Sim, fast},
};
use userpilot_appex::{models::LookupKind, simulator::Route};

#[test]
fn every_kind_prints_a_json_array_of_objects_from_its_route() {
    let sim = Sim::start();
    // The CLI names each lookup by its operation, with dashes.
    assert_eq!(LookupKind::ALL.len(), 12);
    for &lookup in LookupKind::ALL {
        let kind = lookup.name().replace('_', "-");
        let route = Route::from(lookup);
        let items = sim.appex(&["lookups", &kind, "--json"]).ok().json();
        let items = items.as_array().unwrap_or_else(|| panic!("{kind}: array"));
        assert!(!items.is_empty(), "{kind}: items");
        assert!(items.iter().all(|i| i.is_object()), "{kind}: objects");
        assert!(
            sim.sim.request_count(route) >= 1,
            "{kind}: its route was called"
        );
    }
}

#[test]
fn paginated_kinds_walk_every_page() {
    let sim = Sim::with(fast().page_limit(10).segments(25).event_properties(31));
    let segments = sim.appex(&["lookups", "segments", "--json"]).ok().json();
    assert_eq!(segments.as_array().map(Vec::len), Some(25));
    assert_eq!(sim.sim.request_count(Route::Segments), 3);
    let ids: std::collections::HashSet<String> = segments
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["id"].to_string())
        .collect();
    assert_eq!(ids.len(), 25, "no item twice");

    let properties = sim
        .appex(&["--json", "lookups", "events-properties"])
        .ok()
        .json();
    assert_eq!(properties.as_array().map(Vec::len), Some(31));
    assert_eq!(sim.sim.request_count(Route::EventsProperties), 4);
}

#[test]
fn json_keeps_fields_the_models_do_not_name() {
    // The items are typed in the library; what it does not know is kept in
    // `extra` and must come out again. Compare with the raw API answer.
    let sim = Sim::start();
    let raw = sim.block_on(raw_get(&sim, &format!("{LOOKUPS}flows")));
    let printed = sim.appex(&["lookups", "flows", "--json"]).ok().json();
    let raw = raw.as_array().expect("raw array");
    let printed = printed.as_array().expect("printed array");
    assert_eq!(raw.len(), printed.len());
    for (raw, printed) in raw.iter().zip(printed) {
        for (key, value) in raw.as_object().expect("object") {
            if !value.is_null() {
                assert!(printed.get(key).is_some(), "field {key} kept");
            }
        }
    }
}

#[test]
fn table_has_a_header_and_a_row_per_item() {
    let sim = Sim::with(fast().page_limit(10).segments(12));
    let run = sim.appex(&["lookups", "segments"]).ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 13, "{:?}", run.stdout);
    assert!(lines[0].starts_with("ID"), "{}", lines[0]);
    assert!(lines[0].contains("TITLE"), "{}", lines[0]);
}

/// The raw JSON answer of a lookup, fetched with plain reqwest.
async fn raw_get(sim: &Sim, path: &str) -> serde_json::Value {
    // Building the crate's client installs the TLS provider reqwest needs.
    let _ = sim.client();
    reqwest::Client::new()
        .get(format!("{}{path}", sim.url()))
        .header("Authorization", format!("Token {}", sim.sim.api_key()))
        .send()
        .await
        .expect("send")
        .error_for_status()
        .expect("200")
        .json()
        .await
        .expect("JSON body")
}
