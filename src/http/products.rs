//! Products: reset (admin), read, audit the ledger, and list its orders.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, put};
use axum::{Json, Router};
use stocklock_api::{Audit, ErrorBody, LedgerPage, OrderList, Product, ResetProduct};

use super::extract::{After, ApiJson, SkuPath};
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
        .route("/admin/ledger/{sku}", get(ledger))
}

/// Creates the product or resets it: stock = initial = N, orders deleted.
#[utoipa::path(put, path = "/admin/products/{sku}", tag = "admin", params(SkuParam), request_body = ResetProduct,
    responses(
        (status = 200, description = "The product as reset", body = Product),
        (status = 422, description = "`invalid_sku`, `invalid_stock`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`", body = ErrorBody),
    ))]
pub(super) async fn reset_product(
    State(state): State<Arc<AppState>>,
    SkuPath(sku): SkuPath,
    ApiJson(body): ApiJson<ResetProduct>,
) -> Result<Json<Product>, Error> {
    let stock = parse_stock(body.stock)?;
    Ok(Json(store::reset_product(&state.pool, &sku, stock).await?))
}

/// The `{sku}` of the routes above, as the OpenAPI document describes it.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // only its description is used
pub(super) struct SkuParam {
    /// 1 to 64 of `A-Z a-z 0-9 - _ .`, not `.` or `..`.
    #[param(min_length = 1, max_length = 64, pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    sku: String,
}

/// An empty SKU: always refused.
#[utoipa::path(put, path = "/admin/products/", tag = "admin", request_body = ResetProduct,
    responses((status = 422, description = "`invalid_sku`: a SKU cannot be empty", body = ErrorBody)))]
pub(super) async fn empty_sku() -> Error {
    Sku::parse("").expect_err("an empty SKU is invalid").into()
}

/// A product's stock.
#[utoipa::path(get, path = "/products/{sku}", tag = "orders", params(SkuParam),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 404, description = "`product_not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_sku`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`", body = ErrorBody),
    ))]
pub(super) async fn product(
    State(state): State<Arc<AppState>>,
    SkuPath(sku): SkuPath,
) -> Result<Json<Product>, Error> {
    let product = store::product(&state.pool, &sku).await?;
    product.map(Json).ok_or(Error::ProductNotFound(sku.to_string()))
}

/// The ledger's verdict on a product, computed by PostgreSQL.
#[utoipa::path(get, path = "/admin/audit/{sku}", tag = "admin", params(SkuParam),
    responses(
        (status = 200, description = "The audit", body = Audit),
        (status = 404, description = "`product_not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_sku`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`", body = ErrorBody),
    ))]
pub(super) async fn audit(
    State(state): State<Arc<AppState>>,
    SkuPath(sku): SkuPath,
) -> Result<Json<Audit>, Error> {
    let audit = store::audit(&state.pool, &sku).await?;
    audit.map(Json).ok_or(Error::ProductNotFound(sku.to_string()))
}

/// The ledger page by page: the orders written since the cursor `after`,
/// and the cursor to ask from next — what a live view reads five times a
/// second instead of every row (docs/api.md#the-ledger-page-by-page).
#[utoipa::path(get, path = "/admin/ledger/{sku}", tag = "admin",
    params(SkuParam, ("after" = Option<i64>, Query, description = "The `next` of the previous page; 0 or none: from the first row")),
    responses(
        (status = 200, description = "The new rows", body = LedgerPage),
        (status = 404, description = "`product_not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_sku`, `invalid_query`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`", body = ErrorBody),
    ))]
pub(super) async fn ledger(
    State(state): State<Arc<AppState>>,
    SkuPath(sku): SkuPath,
    After(after): After,
) -> Result<Json<LedgerPage>, Error> {
    let page = store::ledger_page(&state.pool, &sku, after).await?;
    page.map(Json).ok_or(Error::ProductNotFound(sku.to_string()))
}

/// Every order the ledger holds for a product, with its critical section,
/// and every order refused for a lost lock.
#[utoipa::path(get, path = "/admin/orders/{sku}", tag = "admin", params(SkuParam),
    responses(
        (status = 200, description = "The orders", body = OrderList),
        (status = 404, description = "`product_not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_sku`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`", body = ErrorBody),
    ))]
pub(super) async fn orders(
    State(state): State<Arc<AppState>>,
    SkuPath(sku): SkuPath,
) -> Result<Json<OrderList>, Error> {
    let orders = store::orders(&state.pool, &sku).await?;
    let orders = orders.ok_or(Error::ProductNotFound(sku.to_string()))?;
    Ok(Json(OrderList {
        sku: sku.to_string(),
        orders,
        refusals: store::refusals(&state.pool, &sku).await?,
    }))
}
