//! `GET /metrics`: what each instance counts about its lock, in Prometheus'
//! text format, labelled by backend.

use reqwest::StatusCode;
use stocklock_api::{Backend, LockSettingsUpdate};

use crate::helpers::{TestApp, spawn_app, unique_sku};

/// The value of the sample `series` (name and labels, as exposed), or 0 if
/// it has not been exposed yet.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.trim().parse().expect("a number"))
        .next()
        .unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> String {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_acquisitions_holds_renewals_and_outcomes_by_backend() {
    let app = spawn_app().await;
    // Work longer than the TTL: the watchdog must renew at least once.
    app.set_lock(LockSettingsUpdate {
        backend: Some(Backend::Redis),
        ttl_ms: Some(300),
        critical_section_ms: Some(450),
        ..Default::default()
    })
    .await;
    let sku = unique_sku();
    app.reset(&sku, 2).await;
    for _ in 0..3 {
        app.order(&sku, 1).await;
    }
    let text = scrape(&app).await;
    let redis = |name: &str| sample(&text, &format!("stocklock_{name}{{backend=\"redis\"}}"));
    assert_eq!(redis("lock_acquisitions_total"), 3.0, "{text}");
    assert_eq!(redis("lock_wait_seconds_count"), 3.0, "{text}");
    assert_eq!(redis("lock_hold_seconds_count"), 3.0, "{text}");
    // Two sales worked 450 ms each under the lock; the third found no stock.
    assert!(redis("lock_hold_seconds_sum") >= 2.0 * 0.45, "{text}");
    assert!(redis("lock_renewals_total") >= 3.0, "{text}");
    assert_eq!(redis("lock_renewal_failures_total"), 0.0, "{text}");
    let orders = |outcome: &str| {
        sample(
            &text,
            &format!("stocklock_orders_total{{backend=\"redis\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!((orders("created"), orders("out_of_stock")), (2.0, 1.0), "{text}");
}

/// `postgres` takes its lock inside the transaction: counted there.
#[tokio::test]
async fn metrics_count_a_lock_taken_inside_the_transaction() {
    let app = spawn_app().await;
    app.use_backend(Backend::Postgres, 0).await;
    let sku = unique_sku();
    app.reset(&sku, 5).await;
    assert_eq!(app.order(&sku, 1).await.status(), StatusCode::CREATED);
    let text = scrape(&app).await;
    let postgres = |name: &str| sample(&text, &format!("stocklock_{name}{{backend=\"postgres\"}}"));
    assert_eq!(postgres("lock_acquisitions_total"), 1.0, "{text}");
    assert_eq!(postgres("lock_hold_seconds_count"), 1.0, "{text}");
    assert_eq!(
        sample(&text, "stocklock_lock_acquisitions_total{backend=\"atomic\"}"),
        0.0
    );
}

/// The breakdown of a hold: a fenced Redis sale makes its round trips to
/// the lock server (the check before the write, the release) and to the
/// database (the fence's claim in its own transaction, then the write's),
/// and works for as long as asked, all while holding the lock; the rest of
/// the hold is ours. Holds that sell nothing are counted apart.
#[tokio::test]
async fn metrics_break_a_hold_down_by_where_its_time_and_round_trips_went() {
    let app = spawn_app().await;
    app.use_backend(Backend::Redis, 100).await;
    let sku = unique_sku();
    app.reset(&sku, 1).await;
    assert_eq!(app.order(&sku, 1).await.status(), StatusCode::CREATED);
    assert_eq!(app.order(&sku, 1).await.status(), StatusCode::CONFLICT);
    let text = scrape(&app).await;
    let at = |name: &str, at: &str| {
        sample(
            &text,
            &format!("stocklock_held_{name}{{backend=\"redis\",at=\"{at}\",sold=\"true\"}}"),
        )
    };
    let holds = |sold: &str| {
        sample(
            &text,
            &format!("stocklock_holds_total{{backend=\"redis\",sold=\"{sold}\"}}"),
        )
    };
    assert_eq!((holds("true"), holds("false")), (1.0, 1.0), "{text}");
    assert_eq!(at("round_trips_total", "lock_server"), 2.0, "{text}");
    // The claim: BEGIN + SET LOCAL, UPDATE … RETURNING, COMMIT; the write:
    // BEGIN, UPDATE + INSERT, COMMIT.
    assert_eq!(at("round_trips_total", "database"), 6.0, "{text}");
    let work = at("seconds_total", "work");
    assert!((0.1..0.15).contains(&work), "work took {work} s: {text}");
    let parts: f64 = ["lock_server", "database", "work", "ours"]
        .iter()
        .map(|place| at("seconds_total", place))
        .sum();
    let hold = sample(&text, "stocklock_lock_hold_seconds_sum{backend=\"redis\"}");
    let unsold: f64 = ["lock_server", "database", "work", "ours"]
        .iter()
        .map(|place| {
            sample(
                &text,
                &format!("stocklock_held_seconds_total{{backend=\"redis\",at=\"{place}\",sold=\"false\"}}"),
            )
        })
        .sum();
    assert!(
        (parts + unsold - hold).abs() < 1e-3,
        "{parts} + {unsold} s of {hold} s held: {text}"
    );
}
