//! Who held the lock when, as the ledger tells it: each order names the
//! instance that committed it and carries its critical section, the audit
//! counts the most holders at once, and an order refused for a lost lock
//! leaves a record of its refusal (the ladder's fenced rungs check that one
//! is left for every `lock_lost` answer: `ladder.rs`).

use stocklock::config::Config;
use stocklock::startup::Application;
use stocklock_api::Backend;

use crate::helpers::{buy_concurrently, database, spawn_app, spawn_app_with, unique_sku};

#[tokio::test]
async fn each_order_names_the_instance_that_committed_it_and_holders_without_a_lock_pile_up() {
    let east = spawn_app_with(|c| c.instance_name = Some("east".into())).await;
    let west = spawn_app_with(|c| c.instance_name = Some("west".into())).await;
    assert_eq!(
        (east.instance().await, west.instance().await),
        ("east".into(), "west".into())
    );
    for app in [&east, &west] {
        app.use_backend(Backend::None, 40).await;
    }
    let sku = unique_sku();
    east.reset(&sku, 100).await;
    let tally = buy_concurrently(&[&east, &west], &sku, 20).await;
    assert_eq!(tally.created, 20, "{tally:?}");

    let list = east.orders(&sku).await;
    let by = |name: &str| {
        list.orders
            .iter()
            .filter(|o| o.instance.as_deref() == Some(name))
            .count()
    };
    assert_eq!((by("east"), by("west")), (10, 10), "{list:?}");
    for order in &list.orders {
        let (started, ended) = (order.cs_started_us.unwrap(), order.cs_ended_us.unwrap());
        assert!(started < ended, "a section of 40 ms of work: {order:?}");
        assert_eq!(order.backend, Backend::None);
    }
    let audit = east.audit(&sku).await;
    assert!(
        (2..=20).contains(&audit.most_holders_at_once),
        "20 buyers and no lock: {audit:?}"
    );
    assert!(
        audit.overlapping_holds >= audit.most_holders_at_once - 1,
        "{audit:?}"
    );
}

#[tokio::test]
async fn a_lock_that_holds_has_one_holder_at_a_time_and_atomic_has_none() {
    let app = spawn_app().await;
    let sku = unique_sku();
    app.use_backend(Backend::Local, 5).await;
    app.reset(&sku, 100).await;
    assert_eq!(buy_concurrently(&[&app], &sku, 12).await.created, 12);
    assert_eq!(app.audit(&sku).await.most_holders_at_once, 1);

    let sku = unique_sku();
    app.use_backend(Backend::Atomic, 0).await;
    app.reset(&sku, 100).await;
    assert_eq!(buy_concurrently(&[&app], &sku, 12).await.created, 12);
    assert_eq!(
        app.audit(&sku).await.most_holders_at_once,
        0,
        "one statement, no section"
    );
}

#[tokio::test]
async fn an_instance_is_named_after_its_host_and_port_unless_told() {
    let app = spawn_app().await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let name = app.instance().await;
    assert!(name.ends_with(&format!(":{port}")), "{name} on port {port}");

    let mut config = Config::defaults();
    config.port = 0;
    for bad in ["", "two words", "über", &"x".repeat(64)] {
        config.instance_name = Some(bad.to_owned());
        let err = Application::build(&config).await.err().expect("refused");
        assert!(format!("{err:#}").contains("INSTANCE_NAME"), "{bad:?}: {err:#}");
    }
}

#[tokio::test]
async fn a_reset_forgets_the_refusals_with_the_orders() {
    let app = spawn_app_with(|c| c.instance_name = Some("refuser".into())).await;
    let sku = unique_sku();
    app.reset(&sku, 10).await;
    // A refusal as the service writes one, from this instance's name.
    sqlx::query(
        "INSERT INTO lock_refusals (sku, instance, lock_backend, fence_token) VALUES ($1, 'refuser', 'redis', 3)",
    )
    .bind(&sku)
    .execute(&database().await)
    .await
    .unwrap();
    let refusals = app.orders(&sku).await.refusals;
    assert_eq!(refusals.len(), 1);
    assert_eq!(
        (refusals[0].instance.as_deref(), refusals[0].fence_token),
        (Some("refuser"), Some(3))
    );
    app.reset(&sku, 10).await;
    assert!(app.orders(&sku).await.refusals.is_empty());
}
