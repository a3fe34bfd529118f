//! Pagination benchmark: 100,000 event properties over 1,000 pages of 100
//! from the simulator (in another process) on loopback, read with
//! `client.events_properties_stream()` versus a minimal hand-written
//! reqwest + serde_json loop following `metadata.cursor.after`.
//!
//! Run: `cargo bench --bench pagination --features simulator`
//! (`APPEX_BENCH_REPS=n` repetitions, default 5).

mod common;

use std::time::Instant;

use common::{Server, ServerSpec, cpu_secs, list, median};
use futures::StreamExt;
use serde_json::Value;

const ITEMS: usize = 100_000;
const PAGE: usize = 100;

fn main() {
    common::serve_if_asked();
    let Some(reps) = common::start("pagination", 5) else {
        return;
    };
    let server = Server::spawn(&ServerSpec {
        seed: 3,
        event_properties: Some(ITEMS),
        page_limit: Some(PAGE),
        ..ServerSpec::default()
    });
    let client = server.client();
    let url = format!(
        "{}/api/v1/analytics/exports/lookups/events_properties",
        server.base_url
    );
    let auth = format!("Token {}", server.api_key);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut ours = Vec::new();
    let mut baseline = Vec::new();
    let mut ours_cpu = Vec::new();
    let mut baseline_cpu = Vec::new();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        // Warm up both (connections, simulator caches).
        let _ = by_hand(&http, &url, &auth).await;
        let _ = ours_count(&client).await;
        for rep in 1..=reps {
            let (started, cpu) = (Instant::now(), cpu_secs());
            let n = ours_count(&client).await;
            let ours_secs = started.elapsed().as_secs_f64();
            ours_cpu.push((cpu_secs() - cpu) * 1e6 / ITEMS as f64);
            assert_eq!(n, ITEMS);
            let (started, cpu) = (Instant::now(), cpu_secs());
            let (m, pages) = by_hand(&http, &url, &auth).await;
            let hand_secs = started.elapsed().as_secs_f64();
            baseline_cpu.push((cpu_secs() - cpu) * 1e6 / ITEMS as f64);
            assert_eq!((m, pages), (ITEMS, ITEMS / PAGE));
            ours.push(ITEMS as f64 / ours_secs);
            baseline.push(ITEMS as f64 / hand_secs);
            println!(
                "rep {rep}: ours {:.0} items/s ({ours_secs:.2} s, client CPU {:.2} us/item), by hand {:.0} items/s ({hand_secs:.2} s, client CPU {:.2} us/item)",
                ours[rep - 1],
                ours_cpu[rep - 1],
                baseline[rep - 1],
                baseline_cpu[rep - 1]
            );
        }
    });
    let server_hwm = server.stop().map_or(f64::NAN, |k| k as f64 / 1024.0);
    println!("ours items/s: [{}]", list(&ours));
    println!("by hand items/s: [{}]", list(&baseline));
    let (o, b) = (median(&ours), median(&baseline));
    let (oc, bc) = (median(&ours_cpu), median(&baseline_cpu));
    println!();
    println!(
        "== summary (medians of {reps}): {ITEMS} items in {} pages: ours {o:.0} items/s, reqwest+serde_json loop {b:.0} items/s, ratio {:.2}x (goal >= 1.0x); client CPU per item: ours {oc:.2} us, loop {bc:.2} us; simulator peak RSS {server_hwm:.1} MiB",
        ITEMS / PAGE,
        o / b
    );
}

async fn ours_count(client: &userpilot_appex::Client) -> usize {
    let mut stream = client.events_properties_stream();
    let mut n = 0;
    while let Some(item) = stream.next().await {
        let item = item.expect("item");
        std::hint::black_box(&item);
        n += 1;
    }
    n
}

/// The baseline: GET, decode into `serde_json::Value`, follow the cursor.
async fn by_hand(http: &reqwest::Client, url: &str, auth: &str) -> (usize, usize) {
    let mut after: Option<String> = None;
    let mut items = 0;
    let mut pages = 0;
    loop {
        let mut request = http.get(url).header("Authorization", auth);
        if let Some(cursor) = &after {
            request = request.query(&[("after_cursor", cursor)]);
        }
        let body = request
            .send()
            .await
            .expect("send")
            .bytes()
            .await
            .expect("body");
        let page: Value = serde_json::from_slice(&body).expect("json");
        pages += 1;
        let data = page["data"].as_array().expect("data");
        items += data.len();
        std::hint::black_box(data);
        match page["metadata"]["cursor"]["after"].as_str() {
            Some(c) if !c.is_empty() => after = Some(c.to_string()),
            _ => break,
        }
    }
    (items, pages)
}
