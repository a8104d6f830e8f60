//! Every 4xx the API answers, in one table: each row is a request and the
//! refusal it must get, and after each row PostgreSQL and the admin
//! endpoints are read again to show that the refusal changed nothing.
//!
//! The rows are sent as raw HTTP/1.1 over TCP, not with reqwest, because a
//! client library changes the request: `.json()` adds a `Content-Type`, and
//! the URL standard resolves `.` and `..` in a path, even percent-encoded,
//! so `/products/%2E%2E` would arrive as `/`. Here the method, path, headers
//! and body of a row are what the service reads. `api_contract.rs` and
//! `access.rs` check the wording of some refusals; this table checks that
//! the list is complete: a new 4xx code or a new route without a row fails
//! `the_table_has_a_row_for_every_4xx_code_and_every_route`.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use stocklock_api::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, database, spawn_app_with, unique_sku};

const TOKEN: &str = "bad-input-token";
const ADMIN: (&str, &str) = ("authorization", "Bearer bad-input-token");
const JSON: (&str, &str) = ("content-type", "application/json");
/// Larger than the 2 MiB the service reads. Whitespace, so a body padded
/// with it is still valid JSON and only its size is wrong.
const TOO_LARGE: usize = 2 * 1024 * 1024 + 1;

/// (what, method, path, headers, body, status, code). `Host`,
/// `Content-Length` and `Connection: close` are added unless a row sets them.
type Row<'a> = (
    &'a str,
    &'a str,
    String,
    Vec<(&'a str, &'a str)>,
    Vec<u8>,
    u16,
    ErrorCode,
);

/// The 4xx codes no row triggers, and why. Every other code of
/// `ErrorCode::ALL` must have a row.
const NOT_IN_THE_TABLE: [ErrorCode; 8] = [
    // A lost lock needs a holder to stall past its TTL while another takes
    // the lock: a race of two orders, not one bad request (`ladder.rs`).
    ErrorCode::LockLost,
    // The 5xx: outages, overload and timeouts (`outage.rs`, `db_outage.rs`,
    // `overload.rs`, `switching.rs`), not bad input.
    ErrorCode::LockUnavailable,
    ErrorCode::SwitchInProgress,
    ErrorCode::Overloaded,
    ErrorCode::DrainTimedOut,
    ErrorCode::DatabaseUnavailable,
    ErrorCode::CommitOutcomeUnknown,
    ErrorCode::Internal,
];

/// In a row's headers: send the request without a `Host` header.
const NO_HOST: (&str, &str) = ("host", "");

/// The table. The product `sku` has a stock of 9 and one order, placed with
/// the idempotency key `used`. Where it can, a row sends what would change
/// something if it were accepted (a valid order, a reset to 0, a switch to
/// `none`), so a refusal in status only still fails the snapshot.
#[rustfmt::skip] // A table: one row per line, so that it reads as one.
fn rows<'a>(sku: &str, used: &'a str, fresh: &'a str, too_long_key: &'a str) -> Vec<Row<'a>> {
    use ErrorCode::*;
    let (reset, product) = (format!("/admin/products/{sku}"), format!("/products/{sku}"));
    let (audit, ledger) = (format!("/admin/audit/{sku}"), format!("/admin/orders/{sku}"));
    let missing = format!("{sku}-missing");
    let too_long = format!("{sku}{}", "x".repeat(65 - sku.len()));
    let order = |quantity: i64| body(json!({ "sku": sku, "quantity": quantity }));
    let padded = |json: Vec<u8>| [json, vec![b' '; TOO_LARGE]].concat();
    let stock_0 = || body(json!({ "stock": 0 }));
    vec![
        ("empty SKU in the path",          "PUT",  "/admin/products/".into(),            vec![ADMIN, JSON], stock_0(), 422, InvalidSku),
        ("65-character SKU in the path",   "PUT",  format!("/admin/products/{too_long}"), vec![ADMIN, JSON], stock_0(), 422, InvalidSku),
        ("space in the path's SKU",        "PUT",  format!("{reset}%20x"),                vec![ADMIN, JSON], stock_0(), 422, InvalidSku),
        ("encoded slash in the SKU",       "PUT",  format!("{reset}%2Fx"),                vec![ADMIN, JSON], stock_0(), 422, InvalidSku),
        ("non-UTF-8 SKU in a reset",       "PUT",  format!("{reset}%FF"),                 vec![ADMIN, JSON], stock_0(), 422, InvalidSku),
        ("non-UTF-8 SKU, read",            "GET",  "/products/%FF".into(),               vec![],            vec![],    422, InvalidSku),
        ("`..` as the SKU of a reset",     "PUT",  "/admin/products/..".into(),          vec![ADMIN, JSON], stock_0(), 422, InvalidSku),
        ("`.` as the SKU of a product",    "GET",  "/products/.".into(),                 vec![],            vec![],    422, InvalidSku),
        ("`%2E%2E` as the SKU",            "GET",  "/products/%2E%2E".into(),            vec![],            vec![],    422, InvalidSku),
        ("non-ASCII SKU",                  "GET",  "/products/%C3%BC".into(),            vec![],            vec![],    422, InvalidSku),
        ("`..` as the SKU of an audit",    "GET",  "/admin/audit/..".into(),             vec![ADMIN],       vec![],    422, InvalidSku),
        ("65-character SKU of a ledger",   "GET",  format!("/admin/orders/{too_long}"),  vec![ADMIN],       vec![],    422, InvalidSku),
        ("empty SKU in an order",          "POST", "/orders".into(), vec![JSON], body(json!({ "sku": "", "quantity": 1 })),        422, InvalidSku),
        ("`..` as the SKU of an order",    "POST", "/orders".into(), vec![JSON], body(json!({ "sku": "..", "quantity": 1 })),      422, InvalidSku),
        ("`.` as the SKU of an order",     "POST", "/orders".into(), vec![JSON], body(json!({ "sku": ".", "quantity": 1 })),       422, InvalidSku),
        ("65-character SKU in an order",   "POST", "/orders".into(), vec![JSON], body(json!({ "sku": too_long, "quantity": 1 })),  422, InvalidSku),
        ("bad character in an order's SKU","POST", "/orders".into(), vec![JSON], body(json!({ "sku": format!("{sku}!"), "quantity": 1 })), 422, InvalidSku),

        ("quantity 0",                     "POST", "/orders".into(), vec![JSON], order(0),      422, InvalidQuantity),
        ("quantity -1",                    "POST", "/orders".into(), vec![JSON], order(-1),     422, InvalidQuantity),
        ("quantity 10 001",                "POST", "/orders".into(), vec![JSON], order(10_001), 422, InvalidQuantity),
        ("stock -1",                       "PUT",  reset.clone(), vec![ADMIN, JSON], body(json!({ "stock": -1 })),            422, InvalidStock),
        ("stock 1 000 000 001",            "PUT",  reset.clone(), vec![ADMIN, JSON], body(json!({ "stock": 1_000_000_001 })), 422, InvalidStock),

        ("an order that is not JSON",      "POST", "/orders".into(), vec![JSON], raw("sku=a&quantity=1"),                     422, InvalidBody),
        ("an order cut short",             "POST", "/orders".into(), vec![JSON], raw(r#"{"sku": "#),                          422, InvalidBody),
        ("an order as an array",           "POST", "/orders".into(), vec![JSON], body(json!([sku, 2])),                       422, InvalidBody),
        ("an order that is `null`",        "POST", "/orders".into(), vec![JSON], raw("null"),                                 422, InvalidBody),
        ("an empty order",                 "POST", "/orders".into(), vec![JSON], vec![],                                      422, InvalidBody),
        ("an order without a quantity",    "POST", "/orders".into(), vec![JSON], body(json!({ "sku": sku })),                 422, InvalidBody),
        ("an order with an unknown field", "POST", "/orders".into(), vec![JSON], body(json!({ "sku": sku, "quantity": 1, "coupon": "FREE" })), 422, InvalidBody),
        ("a quantity as a string",         "POST", "/orders".into(), vec![JSON], body(json!({ "sku": sku, "quantity": "1" })), 422, InvalidBody),
        ("a fractional quantity",          "POST", "/orders".into(), vec![JSON], body(json!({ "sku": sku, "quantity": 1.5 })), 422, InvalidBody),
        ("a quantity beyond i64",          "POST", "/orders".into(), vec![JSON], raw(&format!(r#"{{"sku":"{sku}","quantity":9223372036854775808}}"#)), 422, InvalidBody),
        ("a quantity given twice",         "POST", "/orders".into(), vec![JSON], raw(&format!(r#"{{"sku":"{sku}","quantity":1,"quantity":2}}"#)), 422, InvalidBody),
        ("two orders in one body",         "POST", "/orders".into(), vec![JSON], [order(1), order(1)].concat(),               422, InvalidBody),
        ("an order that is not UTF-8",     "POST", "/orders".into(), vec![JSON], b"{\"sku\":\"\xff\",\"quantity\":1}".to_vec(), 422, InvalidBody),
        ("an order body that stops",       "POST", "/orders".into(), vec![JSON, ("content-length", "100")], raw(r#"{"sku":"#), 422, InvalidBody),
        ("a reset without a stock",        "PUT",  reset.clone(), vec![ADMIN, JSON], raw("{}"),                               422, InvalidBody),
        ("a reset as an array",            "PUT",  reset.clone(), vec![ADMIN, JSON], raw("[0]"),                              422, InvalidBody),
        ("a stock as a string",            "PUT",  reset.clone(), vec![ADMIN, JSON], raw(r#"{"stock": "0"}"#),                422, InvalidBody),
        ("a reset with an unknown field",  "PUT",  reset.clone(), vec![ADMIN, JSON], raw(r#"{"stock": 0, "initial_stock": 0}"#), 422, InvalidBody),
        ("lock settings as an array",      "PUT",  "/admin/lock".into(), vec![ADMIN, JSON], raw(r#"["none"]"#),               422, InvalidBody),
        ("lock settings that are `null`",  "PUT",  "/admin/lock".into(), vec![ADMIN, JSON], raw("null"),                      422, InvalidBody),
        ("an unknown lock setting",        "PUT",  "/admin/lock".into(), vec![ADMIN, JSON], raw(r#"{"backend": "none", "colour": "blue"}"#), 422, InvalidBody),
        ("a negative ttl_ms",              "PUT",  "/admin/lock".into(), vec![ADMIN, JSON], raw(r#"{"ttl_ms": -5}"#),         422, InvalidBody),
        ("fencing as a string",            "PUT",  "/admin/lock".into(), vec![ADMIN, JSON], raw(r#"{"fencing": "no"}"#),      422, InvalidBody),
        ("a backend that does not exist",  "PUT",  "/admin/lock".into(), vec![ADMIN, JSON], raw(r#"{"backend": "zookeeper"}"#), 422, InvalidBody),
        ("faults as an array",             "PUT",  "/admin/faults".into(), vec![ADMIN, JSON], raw("[]"),                      422, InvalidBody),
        ("an unknown fault",               "PUT",  "/admin/faults".into(), vec![ADMIN, JSON], raw(r#"{"chaos": true}"#),      422, InvalidBody),
        ("a pause without `at`",           "PUT",  "/admin/faults".into(), vec![ADMIN, JSON], raw(r#"{"pause_holder": {"probability": 1, "pause_ms": 10}}"#), 422, InvalidBody),
        ("a pause at an unknown point",    "PUT",  "/admin/faults".into(), vec![ADMIN, JSON], raw(r#"{"pause_holder": {"probability": 1, "pause_ms": 10, "at": "whenever"}}"#), 422, InvalidBody),

        ("a page after -1",                "GET",  format!("/admin/ledger/{sku}?after=-1"),   vec![ADMIN], vec![], 422, InvalidQuery),
        ("a page after a word",            "GET",  format!("/admin/ledger/{sku}?after=next"), vec![ADMIN], vec![], 422, InvalidQuery),
        ("a page after two cursors",       "GET",  format!("/admin/ledger/{sku}?after=1&after=2"), vec![ADMIN], vec![], 422, InvalidQuery),
        ("a page with an unknown query",   "GET",  format!("/admin/ledger/{sku}?since=1"),    vec![ADMIN], vec![], 422, InvalidQuery),
        ("a page of a 65-character SKU",   "GET",  format!("/admin/ledger/{too_long}"),       vec![ADMIN], vec![], 422, InvalidSku),

        ("ttl_ms 9",                       "PUT",  "/admin/lock".into(), vec![ADMIN, JSON], raw(r#"{"backend": "none", "ttl_ms": 9}"#), 422, InvalidSettings),
        ("ttl_ms 600 001",                 "PUT",  "/admin/lock".into(), vec![ADMIN, JSON], raw(r#"{"ttl_ms": 600001}"#),     422, InvalidSettings),
        ("acquire_timeout_ms 0",           "PUT",  "/admin/lock".into(), vec![ADMIN, JSON], raw(r#"{"acquire_timeout_ms": 0}"#), 422, InvalidSettings),
        ("acquire_timeout_ms 60 001",      "PUT",  "/admin/lock".into(), vec![ADMIN, JSON], raw(r#"{"acquire_timeout_ms": 60001}"#), 422, InvalidSettings),
        ("critical_section_ms 60 001",     "PUT",  "/admin/lock".into(), vec![ADMIN, JSON], raw(r#"{"critical_section_ms": 60001}"#), 422, InvalidSettings),
        ("redlock without its masters",    "PUT",  "/admin/lock".into(), vec![ADMIN, JSON], raw(r#"{"backend": "redlock"}"#), 422, InvalidSettings),
        ("probability 1.5",                "PUT",  "/admin/faults".into(), vec![ADMIN, JSON], raw(r#"{"pause_holder": {"probability": 1.5, "pause_ms": 10, "at": "before_write"}}"#), 422, InvalidFaults),
        ("probability -0.1",               "PUT",  "/admin/faults".into(), vec![ADMIN, JSON], raw(r#"{"pause_holder": {"probability": -0.1, "pause_ms": 10, "at": "before_write"}}"#), 422, InvalidFaults),
        ("pause_ms 0",                     "PUT",  "/admin/faults".into(), vec![ADMIN, JSON], raw(r#"{"pause_holder": {"probability": 1, "pause_ms": 0, "at": "after_acquire"}}"#), 422, InvalidFaults),
        ("pause_ms 60 001",                "PUT",  "/admin/faults".into(), vec![ADMIN, JSON], raw(r#"{"pause_holder": {"probability": 1, "pause_ms": 60001, "at": "after_acquire"}}"#), 422, InvalidFaults),

        ("an order without Content-Type",  "POST", "/orders".into(),     vec![],                                        order(1), 415, UnsupportedMediaType),
        ("a reset as text/plain",          "PUT",  reset.clone(),        vec![ADMIN, ("content-type", "text/plain")],   stock_0(), 415, UnsupportedMediaType),
        ("lock settings as a form",        "PUT",  "/admin/lock".into(), vec![ADMIN, ("content-type", "application/x-www-form-urlencoded")], raw(r#"{"backend": "none"}"#), 415, UnsupportedMediaType),
        ("faults as text/json",            "PUT",  "/admin/faults".into(), vec![ADMIN, ("content-type", "text/json")], raw(r#"{"pause_holder": null}"#), 415, UnsupportedMediaType),
        ("an order over 2 MiB",            "POST", "/orders".into(),     vec![JSON],        padded(order(1)),                                      413, PayloadTooLarge),
        ("lock settings over 2 MiB",       "PUT",  "/admin/lock".into(), vec![ADMIN, JSON], padded(body(json!({ "backend": "none" }))),              413, PayloadTooLarge),

        ("an empty Idempotency-Key",       "POST", "/orders".into(), vec![JSON, ("idempotency-key", "")],           order(1), 422, InvalidIdempotencyKey),
        ("a 256-character key",            "POST", "/orders".into(), vec![JSON, ("idempotency-key", too_long_key)], order(1), 422, InvalidIdempotencyKey),
        ("a non-ASCII key",                "POST", "/orders".into(), vec![JSON, ("idempotency-key", "clé")],        order(1), 422, InvalidIdempotencyKey),
        ("a key with a tab",               "POST", "/orders".into(), vec![JSON, ("idempotency-key", "a\tb")],       order(1), 422, InvalidIdempotencyKey),
        ("a used key with another body",   "POST", "/orders".into(), vec![JSON, ("idempotency-key", used)],         order(2), 422, IdempotencyKeyReused),

        ("lock settings without a token",  "PUT",  "/admin/lock".into(), vec![JSON], raw(r#"{"backend": "none"}"#), 401, Unauthorized),
        ("a reset with a wrong token",     "PUT",  reset.clone(), vec![("authorization", "Bearer wrong"), JSON], stock_0(), 401, Unauthorized),
        ("faults with Basic auth",         "PUT",  "/admin/faults".into(), vec![("authorization", "Basic YmFkLWlucHV0LXRva2Vu"), JSON], raw(r#"{"pause_holder": null}"#), 401, Unauthorized),
        ("a token without `Bearer `",      "GET",  ledger.clone(), vec![("authorization", TOKEN)],                 vec![],    401, Unauthorized),
        ("a token with a suffix",          "GET",  audit.clone(),  vec![("authorization", "Bearer bad-input-tokenX")], vec![], 401, Unauthorized),
        ("a drain without a token",        "POST", "/admin/drain".into(), vec![],                                   vec![],    401, Unauthorized),
        ("an empty SKU without a token",   "PUT",  "/admin/products/".into(), vec![JSON],                           stock_0(), 401, Unauthorized),
        ("an unknown admin path, no token","GET",  "/admin/nothing".into(), vec![],                                 vec![],    401, Unauthorized),

        ("health from another site",       "GET",  "/health".into(),       vec![("host", "evil.example")],          vec![],    403, HostNotAllowed),
        ("an order from another site",     "POST", "/orders".into(),       vec![("host", "evil.example"), JSON],    order(1),  403, HostNotAllowed),
        ("a reset from a look-alike",      "PUT",  reset.clone(),          vec![("host", "localhost.evil.example"), ADMIN, JSON], stock_0(), 403, HostNotAllowed),
        ("metrics from another site",      "GET",  "/metrics".into(),      vec![("host", "evil.example:8080")],     vec![],    403, HostNotAllowed),
        ("an order without a Host",        "POST", "/orders".into(),       vec![NO_HOST, JSON],                     order(1),  403, HostNotAllowed),
        ("an order with two Hosts",        "POST", "/orders".into(),       vec![("host", "127.0.0.1"), ("host", "evil.example"), JSON], order(1), 403, HostNotAllowed),
        ("the contract from another site", "GET",  "/openapi.json".into(), vec![("host", "evil.example")],          vec![],    403, HostNotAllowed),
        ("no route, from another site",    "GET",  "/no/such/route".into(), vec![("host", "evil.example")],         vec![],    403, HostNotAllowed),

        ("an unknown product",             "GET",  format!("/products/{missing}"),     vec![],      vec![], 404, ProductNotFound),
        ("an unknown product's audit",     "GET",  format!("/admin/audit/{missing}"),  vec![ADMIN], vec![], 404, ProductNotFound),
        ("an unknown product's ledger",    "GET",  format!("/admin/orders/{missing}"), vec![ADMIN], vec![], 404, ProductNotFound),
        ("an unknown product's pages",     "GET",  format!("/admin/ledger/{missing}"), vec![ADMIN], vec![], 404, ProductNotFound),
        ("an order for an unknown product","POST", "/orders".into(), vec![JSON], body(json!({ "sku": missing, "quantity": 1 })), 404, ProductNotFound),
        ("no such route",                  "GET",  "/no/such/route".into(),     vec![],      vec![], 404, RouteNotFound),
        ("an empty SKU to read",           "GET",  "/products/".into(),         vec![],      vec![], 404, RouteNotFound),
        ("a segment after the SKU",        "GET",  format!("{product}/stock"),  vec![],      vec![], 404, RouteNotFound),
        ("`/order`, singular",             "POST", "/order".into(),             vec![JSON],  order(1), 404, RouteNotFound),
        ("an unknown admin path",          "GET",  "/admin/nothing".into(),     vec![ADMIN], vec![], 404, RouteNotFound),

        ("DELETE /orders",                 "DELETE", "/orders".into(),          vec![],      vec![], 405, MethodNotAllowed),
        ("GET /orders",                    "GET",  "/orders".into(),            vec![],      vec![], 405, MethodNotAllowed),
        ("POST /health",                   "POST", "/health".into(),            vec![],      vec![], 405, MethodNotAllowed),
        ("POST a product",                 "POST", product.clone(),             vec![JSON],  stock_0(), 405, MethodNotAllowed),
        ("GET /admin/products/{sku}",      "GET",  reset.clone(),               vec![ADMIN], vec![], 405, MethodNotAllowed),
        ("DELETE /admin/products/",        "DELETE", "/admin/products/".into(), vec![ADMIN], vec![], 405, MethodNotAllowed),
        ("POST an audit",                  "POST", audit.clone(),               vec![ADMIN], vec![], 405, MethodNotAllowed),
        ("DELETE a ledger",                "DELETE", ledger.clone(),            vec![ADMIN], vec![], 405, MethodNotAllowed),
        ("DELETE /admin/lock",             "DELETE", "/admin/lock".into(),      vec![ADMIN], vec![], 405, MethodNotAllowed),
        ("POST /admin/faults",             "POST", "/admin/faults".into(),      vec![ADMIN, JSON], raw(r#"{"pause_holder": null}"#), 405, MethodNotAllowed),
        ("GET /admin/drain",               "GET",  "/admin/drain".into(),       vec![ADMIN], vec![], 405, MethodNotAllowed),
        ("PUT /metrics",                   "PUT",  "/metrics".into(),           vec![],      vec![], 405, MethodNotAllowed),
        ("POST /openapi.json",             "POST", "/openapi.json".into(),      vec![],      vec![], 405, MethodNotAllowed),

        ("one more than the stock",        "POST", "/orders".into(), vec![JSON],                           order(10),     409, OutOfStock),
        ("the most one order may take",    "POST", "/orders".into(), vec![JSON, ("idempotency-key", fresh)], order(10_000), 409, OutOfStock),
    ]
}

#[tokio::test]
async fn every_bad_request_gets_its_4xx_and_changes_nothing() {
    let app = spawn_app_with(|config| {
        config.admin_token = Some(TOKEN.to_owned());
        // For the row whose body stops arriving: refused in half a second.
        config.body_read_timeout_ms = 500;
    })
    .await;
    let db = database().await;
    let (sku, used, fresh) = (unique_sku(), unique_sku(), unique_sku());
    let reset = body(json!({ "stock": 10 }));
    let created = send(
        &app,
        "PUT",
        &format!("/admin/products/{sku}"),
        &[ADMIN, JSON],
        &reset,
    )
    .await;
    assert_eq!(created.status, 200, "the product was not created");
    let order = body(json!({ "sku": sku, "quantity": 1 }));
    let first = send(
        &app,
        "POST",
        "/orders",
        &[JSON, ("idempotency-key", &used)],
        &order,
    )
    .await;
    assert_eq!(first.status, 201, "the order with the key was not placed");

    let before = snapshot(&app, &db, &sku).await;
    assert_eq!(
        (before.products.len(), before.orders.len()),
        (1, 1),
        "the snapshot misses the ledger"
    );
    for row in rows(&sku, &used, &fresh, &"k".repeat(256)) {
        assert_refused(&app, &row).await;
        let (what, method, path, ..) = row;
        let after = snapshot(&app, &db, &sku).await;
        assert_eq!(after, before, "row {what:?} ({method} {path}) changed something");
    }
}

/// Sends `row` and checks its status and its `{"error", "message"}` body.
async fn assert_refused(app: &TestApp, row: &Row<'_>) {
    let (what, method, path, headers, body, status, code) = row;
    let row = format!("row {what:?} ({method} {path})");
    let answer = send(app, method, path, headers, body).await;
    let text = String::from_utf8_lossy(&answer.body);
    assert_eq!(answer.status, *status, "{row}: status; the body was {text}");
    assert!(
        answer.content_type.starts_with("application/json"),
        "{row}: {}",
        answer.content_type
    );
    let error: Value = serde_json::from_slice(&answer.body).unwrap_or_else(|e| panic!("{row}: {e}: {text}"));
    let fields: Vec<&String> = error.as_object().map(|o| o.keys().collect()).unwrap_or_default();
    assert_eq!(fields, ["error", "message"], "{row}: the body's shape: {text}");
    assert_eq!(
        error["error"],
        code.as_str(),
        "{row}: the code; the message was {}",
        error["message"]
    );
    let message = error["message"].as_str().unwrap_or_default();
    assert!(!message.trim().is_empty(), "{row}: no message: {text}");
}

/// Everything a request could change: the product's row and its orders
/// (and any product whose SKU starts with it, as the rows' unknown and
/// too-long SKUs do), read straight from PostgreSQL, and the settings.
#[derive(Debug, PartialEq)]
struct Snapshot {
    products: Vec<String>,
    orders: Vec<String>,
    lock: Value,
    faults: Value,
}

async fn snapshot(app: &TestApp, db: &PgPool, sku: &str) -> Snapshot {
    let rows = |query| sqlx::query_scalar::<_, String>(query).bind(sku).fetch_all(db);
    let products =
        rows("SELECT row_to_json(p)::text FROM products p WHERE starts_with(p.sku, $1) ORDER BY p.sku");
    let orders =
        rows("SELECT row_to_json(o)::text FROM orders o WHERE starts_with(o.sku, $1) ORDER BY o.order_id");
    Snapshot {
        products: products.await.expect("products"),
        orders: orders.await.expect("orders"),
        lock: admin_get(app, "/admin/lock").await,
        faults: admin_get(app, "/admin/faults").await,
    }
}

async fn admin_get(app: &TestApp, path: &str) -> Value {
    let answer = send(app, "GET", path, &[ADMIN], &[]).await;
    assert_eq!(answer.status, 200, "GET {path}");
    serde_json::from_slice(&answer.body).expect("a JSON answer")
}

struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

/// Sends one request over a connection of its own, exactly as given but
/// for `Host`, `Content-Length` (each unless `headers` has it) and
/// `Connection: close`, and reads the answer. [`NO_HOST`] sends no `Host`.
async fn send(app: &TestApp, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let authority = app.address.trim_start_matches("http://");
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut request = format!("{method} {path} HTTP/1.1\r\nconnection: close\r\n").into_bytes();
    if !has("host") {
        request.extend(format!("host: {authority}\r\n").bytes());
    }
    if !has("content-length") {
        request.extend(format!("content-length: {}\r\n", body.len()).bytes());
    }
    for (name, value) in headers.iter().filter(|header| **header != NO_HOST) {
        request.extend([name.as_bytes(), b": ", value.as_bytes(), b"\r\n"].concat());
    }
    request.extend(b"\r\n");
    request.extend(body);

    let mut stream = TcpStream::connect(authority).await.expect("connect");
    let (mut reader, mut writer) = stream.split();
    // Writing and reading at once: a refused body (413) is answered before
    // it has all been read, and the service then stops reading it.
    let write = async { writer.write_all(&request).await.ok() };
    let read = async {
        let mut answer = Vec::new();
        let _closed_or_reset = reader.read_to_end(&mut answer).await;
        answer
    };
    let exchange = tokio::time::timeout(Duration::from_secs(30), async { tokio::join!(write, read) });
    let (_, answer) = exchange
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no answer in 30 s"));
    parse(&answer)
        .unwrap_or_else(|| panic!("{method} {path}: not HTTP: {}", String::from_utf8_lossy(&answer)))
}

/// The status, `Content-Type` and body of an HTTP/1.1 answer (whose body
/// has a `Content-Length`, as every answer of this service does).
fn parse(answer: &[u8]) -> Option<Answer> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&answer[..end]).ok()?;
    let status = head.split(' ').nth(1)?.parse().ok()?; // `HTTP/1.1 422 …`
    let header = |name: &str| {
        head.split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_owned())
    };
    let length: usize = header("content-length")?.parse().ok()?;
    let body = answer.get(end + 4..end + 4 + length)?.to_vec();
    let content_type = header("content-type").unwrap_or_default();
    Some(Answer {
        status,
        content_type,
        body,
    })
}

fn body(value: Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

fn raw(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

#[test]
fn the_table_has_a_row_for_every_4xx_code_and_every_route() {
    let rows = rows(&unique_sku(), "used", "fresh", "too long");
    let covered: BTreeSet<&str> = rows.iter().map(|row| row.6.as_str()).collect();
    for code in ErrorCode::ALL {
        let excused = NOT_IN_THE_TABLE.contains(&code);
        assert!(
            covered.contains(code.as_str()) != excused,
            "{code}: either a row or a place in NOT_IN_THE_TABLE"
        );
    }
    for (what, .., status, _) in &rows {
        assert!((400..500).contains(status), "row {what:?}: not a 4xx");
    }
    let routes = &stocklock::http::openapi::document().paths.paths;
    for route in routes.keys() {
        let served = rows.iter().any(|row| matches_route(route, &row.2));
        assert!(served, "no row for {route}");
    }
}

/// Whether `path` is one `route` serves: `{sku}` stands for one non-empty
/// segment, as in the router.
fn matches_route(route: &str, path: &str) -> bool {
    let (route, path): (Vec<_>, Vec<_>) = (route.split('/').collect(), path.split('/').collect());
    route.len() == path.len()
        && route
            .iter()
            .zip(&path)
            .all(|(r, p)| r == p || (r.starts_with('{') && !p.is_empty()))
}
