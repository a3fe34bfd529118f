//! The typed lookup calls and the one-call catalogue, against a mock server
//! serving the lookup fixtures.

use crate::support::{
    LOOKUPS,
    mock::{answer, client, first_page, page_after},
    plain_lookups,
};
use httpmock::{Method::GET, Mock, MockServer};
use serde_json::{Value, json};
use userpilot_appex::{
    Error,
    ext::lookups::Catalogue,
    models::{EmbedKind, Experience, SegmentStatus},
};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/lookups/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// Serves every plain lookup from its `.odd.json` fixture (ids and titles to
/// look up), segments over two pages and event properties over one.
async fn serve_everything(server: &MockServer) -> Vec<Mock<'_>> {
    let mut mocks = Vec::new();
    for lookup in plain_lookups() {
        mocks.push(first_page(server, lookup, fixture(&format!("{lookup}.odd.json"))).await);
    }
    mocks.push(
        first_page(
            server,
            "segments",
            json!({"data": [{"id": 101, "title": "Active Users"}],
                   "metadata": {"cursor": {"after": "seg-2"}, "limit": 1, "total_count": 2}}),
        )
        .await,
    );
    mocks.push(
        page_after(
            server,
            "segments",
            "seg-2",
            json!({"data": [{"id": 102, "title": "Churned", "status": "published"}],
                   "metadata": {"cursor": {"after": null}, "limit": 1, "total_count": 2}}),
        )
        .await,
    );
    mocks.push(
        first_page(
            server,
            "events_properties",
            fixture("events_properties.spec.json"),
        )
        .await,
    );
    // The spec example's cursor is "..."; answer it with the last page.
    mocks.push(
        page_after(
            server,
            "events_properties",
            "...",
            json!({"data": [], "metadata": {"cursor": {"after": null}}}),
        )
        .await,
    );
    mocks
}

#[tokio::test]
async fn each_plain_lookup_calls_its_path_and_decodes_the_spec_example() {
    let server = MockServer::start_async().await;
    let mut mocks = Vec::new();
    for lookup in plain_lookups() {
        mocks.push(first_page(&server, lookup, fixture(&format!("{lookup}.spec.json"))).await);
    }
    let client = client(&server);

    assert_eq!(
        client.user_properties().await.unwrap()[0].key.as_deref(),
        Some("email")
    );
    assert_eq!(client.company_properties().await.unwrap()[0].id, Some(10));
    assert_eq!(
        client.features_events().await.unwrap()[0].key.as_deref(),
        Some("feature_a")
    );
    assert_eq!(
        client.flows().await.unwrap(),
        vec![Experience {
            id: Some(123),
            title: Some("Onboarding Flow".into()),
            ..Default::default()
        }]
    );
    assert_eq!(client.banners().await.unwrap()[0].id, Some(77));
    let embeds = client.embeds().await.unwrap();
    assert_eq!(embeds[1].kind, Some(EmbedKind::Card));
    assert_eq!(client.spotlights().await.unwrap()[0].id, Some(88));
    assert_eq!(client.surveys().await.unwrap()[0].modules.len(), 1);
    assert_eq!(
        client.resource_center_modules().await.unwrap()[0]
            .key
            .as_deref(),
        Some("resource_center_module_a")
    );
    assert_eq!(
        client.checklists().await.unwrap()[0].name(),
        Some("Checklist A")
    );

    for mock in &mocks {
        mock.assert_calls_async(1).await;
    }
}

#[tokio::test]
async fn the_raw_generated_client_returns_the_typed_models_too() {
    let server = MockServer::start_async().await;
    let mock = first_page(&server, "segments", fixture("segments.spec.json")).await;
    let surveys = first_page(&server, "surveys", fixture("surveys.spec.json")).await;
    let client = client(&server);

    let page = client
        .raw()
        .segments()
        .send()
        .await
        .expect("raw call")
        .into_inner();
    assert_eq!(page.data[0].status, Some(SegmentStatus::Published));
    assert_eq!(page.after_cursor(), Some("..."));
    let surveys_raw = client
        .raw()
        .surveys()
        .send()
        .await
        .expect("raw call")
        .into_inner();
    assert_eq!(
        surveys_raw[0].modules[0].question.as_deref(),
        Some("How was it?")
    );

    mock.assert_calls_async(1).await;
    surveys.assert_calls_async(1).await;
}

#[tokio::test]
async fn a_lookup_answering_401_is_unauthorized() {
    let server = MockServer::start_async().await;
    let body = json!({"errors": [{"error_code": "invalid_token", "message": "Invalid API key"}]});
    let mock = answer(&server, GET, format!("{LOOKUPS}flows"), 401, body).await;

    match client(&server).flows().await {
        Err(Error::Unauthorized(failure)) => {
            assert_eq!(failure.operation, "flows");
            assert_eq!(
                failure.errors[0].message.as_deref(),
                Some("Invalid API key")
            );
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn catalogue_fetches_every_lookup_once_and_walks_the_paginated_ones() {
    let server = MockServer::start_async().await;
    let mocks = serve_everything(&server).await;

    let catalogue: Catalogue = client(&server).catalogue().await.expect("catalogue");

    for mock in &mocks {
        mock.assert_calls_async(1).await;
    }
    assert_eq!(catalogue.user_properties.len(), 2);
    assert_eq!(catalogue.company_properties.len(), 1);
    assert_eq!(catalogue.features_events.len(), 2);
    assert_eq!(catalogue.flows.len(), 2);
    assert_eq!(catalogue.banners.len(), 1);
    assert_eq!(catalogue.embeds.len(), 2);
    assert_eq!(catalogue.spotlights.len(), 1);
    assert_eq!(catalogue.surveys.len(), 2);
    assert_eq!(catalogue.resource_center_modules.len(), 1);
    assert_eq!(catalogue.checklists.len(), 2);
    let segment_ids: Vec<_> = catalogue.segments.iter().map(|s| s.id).collect();
    assert_eq!(
        segment_ids,
        vec![Some(101), Some(102)],
        "both pages, in order"
    );
    assert_eq!(catalogue.events_properties.len(), 1);
    assert_eq!(catalogue.events_properties[0].key.as_deref(), Some("url"));

    // A catalogue can be cached as JSON and read back unchanged.
    let cached = serde_json::to_string(&catalogue).expect("serialize");
    let back: Catalogue = serde_json::from_str(&cached).expect("read back");
    assert_eq!(back, catalogue);
}

#[test]
fn a_cached_catalogue_missing_lists_reads_them_as_empty() {
    let catalogue: Catalogue =
        serde_json::from_value(json!({"flows": [{"id": 1, "title": "F"}]})).unwrap();
    assert_eq!(catalogue.flow_title(1), Some("F"));
    assert!(catalogue.surveys.is_empty());
}

#[tokio::test]
async fn catalogue_maps_ids_to_names() {
    let server = MockServer::start_async().await;
    let _mocks = serve_everything(&server).await;

    let catalogue = client(&server)
        .catalogue_with_concurrency(1)
        .await
        .expect("catalogue");

    assert_eq!(catalogue.flow_title(123), Some("Onboarding Flow"));
    assert_eq!(catalogue.flow_title(124), None, "a flow with a null title");
    assert_eq!(catalogue.flow_title(999), None);
    assert_eq!(catalogue.banner_title(77), Some("Promo Banner"));
    assert_eq!(catalogue.spotlight_title(88), Some("New Feature Spotlight"));
    assert_eq!(catalogue.embed_title(92), Some("Feature Card"));
    assert_eq!(catalogue.survey_title(46), Some("Empty Survey"));
    assert_eq!(catalogue.segment_title(102), Some("Churned"));
    assert_eq!(catalogue.checklist_name(2), Some("Checklist A"));
    assert_eq!(catalogue.feature_name(9), Some("Feature A"));
    assert_eq!(
        catalogue.resource_center_module_name(501),
        Some("Resource Center Module A")
    );
    assert_eq!(catalogue.title_for("Flows", 123), Some("Onboarding Flow"));
    assert_eq!(catalogue.title_for("card", 92), Some("Feature Card"));
    assert_eq!(catalogue.title_for("unheard_of", 123), None);
    assert_eq!(
        catalogue.interaction_title("checklist:2:SEEN"),
        Some("Checklist A")
    );
    assert_eq!(
        catalogue.interaction_title("survey:45:COMPLETED"),
        Some("CSAT Survey")
    );
    assert_eq!(catalogue.interaction_title("checklist:two:SEEN"), None);
    assert_eq!(catalogue.interaction_title("page_view"), None);
}

#[tokio::test]
async fn catalogue_fails_with_the_first_error_rather_than_returning_part() {
    let server = MockServer::start_async().await;
    for lookup in plain_lookups().filter(|l| *l != "surveys") {
        first_page(&server, lookup, json!([])).await;
    }
    first_page(&server, "segments", json!({"data": [], "metadata": null})).await;
    first_page(
        &server,
        "events_properties",
        json!({"data": [], "metadata": null}),
    )
    .await;
    let body = json!({"errors": [{"message": "Invalid API key"}]});
    let surveys = answer(&server, GET, format!("{LOOKUPS}surveys"), 401, body).await;

    match client(&server).catalogue().await {
        Err(Error::Unauthorized(failure)) => assert_eq!(failure.operation, "surveys"),
        other => panic!("expected Unauthorized from surveys, got {other:?}"),
    }
    surveys.assert_calls_async(1).await;
}

#[tokio::test]
async fn catalogue_stops_on_a_repeated_cursor_in_a_paginated_lookup() {
    let server = MockServer::start_async().await;
    for lookup in plain_lookups() {
        first_page(&server, lookup, json!([])).await;
    }
    first_page(&server, "events_properties", json!({"data": null})).await;
    first_page(
        &server,
        "segments",
        json!({"data": [{"id": 1}], "metadata": {"cursor": {"after": "same"}}}),
    )
    .await;
    let looping = page_after(
        &server,
        "segments",
        "same",
        json!({"data": [{"id": 2}], "metadata": {"cursor": {"after": "same"}}}),
    )
    .await;

    match client(&server).catalogue().await {
        Err(Error::RepeatedCursor {
            operation, pages, ..
        }) => {
            assert_eq!(operation, "segments");
            assert_eq!(pages, 2);
        }
        other => panic!("expected RepeatedCursor, got {other:?}"),
    }
    looping.assert_calls_async(1).await;
}
