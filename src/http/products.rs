//! Products: reset (admin), read, audit the ledger, and list its orders.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use stocklock_api::{Audit, OrderList, Product, ResetProduct};

use super::extract::ApiJson;
use crate::domain::{Sku, parse_stock};
use crate::error::Error;
use crate::state::AppState;
use crate::store;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin/products/{sku}", put(reset_product))
        // `{sku}` never matches an empty segment; without this route an
        // empty SKU would be a 404 "no such route" instead of a 422.
        .route("/admin/products/", put(empty_sku))
        .route("/products/{sku}", get(product))
        .route("/admin/audit/{sku}", get(audit))
        .route("/admin/orders/{sku}", get(orders))
}

/// Creates the product or resets it: stock = initial = N, orders deleted.
async fn reset_product(
    State(state): State<Arc<AppState>>,
    Path(sku): Path<String>,
    ApiJson(body): ApiJson<ResetProduct>,
) -> Result<Json<Product>, Error> {
    let sku = Sku::parse(&sku)?;
    let stock = parse_stock(body.stock)?;
    Ok(Json(store::reset_product(&state.pool, &sku, stock).await?))
}

async fn empty_sku() -> Error {
    Sku::parse("").expect_err("an empty SKU is invalid").into()
}

async fn product(
    State(state): State<Arc<AppState>>,
    Path(sku): Path<String>,
) -> Result<Json<Product>, Error> {
    let sku = Sku::parse(&sku)?;
    let product = store::product(&state.pool, &sku).await?;
    product.map(Json).ok_or(Error::ProductNotFound(sku.to_string()))
}

async fn audit(State(state): State<Arc<AppState>>, Path(sku): Path<String>) -> Result<Json<Audit>, Error> {
    let sku = Sku::parse(&sku)?;
    let audit = store::audit(&state.pool, &sku).await?;
    audit.map(Json).ok_or(Error::ProductNotFound(sku.to_string()))
}

async fn orders(
    State(state): State<Arc<AppState>>,
    Path(sku): Path<String>,
) -> Result<Json<OrderList>, Error> {
    let sku = Sku::parse(&sku)?;
    let orders = store::orders(&state.pool, &sku).await?;
    let orders = orders.ok_or(Error::ProductNotFound(sku.to_string()))?;
    Ok(Json(OrderList {
        sku: sku.to_string(),
        orders,
    }))
}
