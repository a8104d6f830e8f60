//! `batch`: group commit (`src/store/batch.rs`). Every order gets its own
//! answer — 201 with its own row, or 409 sold out — even when the stock
//! runs out in the middle of a batch, and quantities of several units are
//! served in arrival order while stock lasts.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::json;
use stocklock_api::{Backend, LockSettingsUpdate, Order};
use tokio::task::JoinSet;

use crate::helpers::{spawn_app, unique_sku};

#[tokio::test]
async fn every_order_of_a_batch_gets_its_own_answer_when_stock_runs_out_mid_batch() {
    let app = spawn_app().await;
    app.set_lock(LockSettingsUpdate {
        backend: Some(Backend::Batch),
        critical_section_ms: Some(0),
        batch_size: Some(50),
        ..Default::default()
    })
    .await;
    let sku = unique_sku();
    app.reset(&sku, 25).await;
    let mut buyers = JoinSet::new();
    for buyer in 0..60 {
        let (client, url, sku) = (app.client.clone(), app.url("/orders"), sku.clone());
        // Two units for every third buyer: a 2 that does not fit can be
        // followed by a 1 that does.
        let quantity = if buyer % 3 == 0 { 2 } else { 1 };
        buyers.spawn(async move {
            let response = client
                .post(url)
                .json(&json!({ "sku": sku, "quantity": quantity }))
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, quantity, response.text().await.unwrap())
        });
    }
    let (mut sold, mut ids, mut refused) = (0, HashSet::new(), 0);
    while let Some(answer) = buyers.join_next().await {
        match answer.unwrap() {
            (StatusCode::CREATED, quantity, body) => {
                let order: Order = serde_json::from_str(&body).unwrap();
                assert_eq!((order.quantity, order.lock_backend), (quantity, Backend::Batch));
                assert!(order.remaining >= 0, "{order:?}");
                sold += quantity;
                assert!(ids.insert(order.order_id), "one order id answered twice");
            }
            (StatusCode::CONFLICT, _, body) => {
                assert!(body.contains("out_of_stock"), "{body}");
                refused += 1;
            }
            (status, _, body) => panic!("{status} {body}"),
        }
    }
    assert_eq!(sold, 25, "the stock was not sold exactly");
    assert_eq!(ids.len() + refused, 60);
    let audit = app.audit(&sku).await;
    assert_eq!(
        (audit.sold, audit.stock, audit.oversold, audit.consistent),
        (25, 0, 0, true),
        "{audit:?}"
    );
    assert_eq!(
        audit.orders as usize,
        ids.len(),
        "a 201 without its row, or a row without its 201"
    );
}
