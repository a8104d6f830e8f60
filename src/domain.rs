//! The values the service reasons about — a SKU, a quantity, a stock, a
//! fencing token — validated once, where they enter: a request that gets
//! past the HTTP layer carries a [`Sku`] and a [`Quantity`] known to be
//! sane, so no SQL statement or lock key ever sees an empty SKU or a
//! negative quantity.
//!
//! The lowest layer: it imports nothing of the service. Parsing fails with
//! its own [`ParseError`] (as zero-to-production's `SubscriberName::parse`),
//! which `error.rs` turns into a 422 naming the field, before anything is
//! changed.

use std::fmt;

/// The longest SKU we accept. Long enough for real SKUs, short enough that a
/// lock key (`stock:{sku}`) stays small in Redis and etcd.
pub const MAX_SKU_LEN: usize = 64;

/// The largest quantity one order may ask for. Bigger numbers are almost
/// certainly a client bug, and refusing them keeps sums far from overflow.
pub const MAX_QUANTITY: i64 = 10_000;

/// The largest stock a product may be reset to.
pub const MAX_STOCK: i64 = 1_000_000_000;

/// Why a value was refused; the message names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("sku must be 1 to {MAX_SKU_LEN} characters long")]
    SkuLength,
    #[error("sku may contain only letters, digits, '-', '_' and '.'")]
    SkuAlphabet,
    #[error("sku may not be `.` or `..`: clients resolve those in a URL's path")]
    SkuDots,
    #[error("quantity must be between 1 and {MAX_QUANTITY}, got {0}")]
    Quantity(i64),
    #[error("stock must be between 0 and {MAX_STOCK}, got {0}")]
    Stock(i64),
    #[error("Idempotency-Key must be 1 to {MAX_KEY_LEN} printable ASCII characters")]
    IdempotencyKey,
}

/// The longest `Idempotency-Key` we accept.
pub const MAX_KEY_LEN: usize = 255;

/// A client's `Idempotency-Key`: 1–255 printable ASCII characters, as a
/// header value can carry them. Two requests with the same key are one
/// order (`docs/api.md#retrying-an-order`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let printable = |c: char| c.is_ascii_graphic() || c == ' ';
        if raw.is_empty() || raw.len() > MAX_KEY_LEN || !raw.chars().all(printable) {
            return Err(ParseError::IdempotencyKey);
        }
        Ok(IdempotencyKey(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A product identifier: 1–64 characters of `A-Z a-z 0-9 - _ .`, but not
/// `.` or `..`.
///
/// The character set keeps SKUs safe in URLs, lock keys and log lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.is_empty() || raw.len() > MAX_SKU_LEN {
            return Err(ParseError::SkuLength);
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if !raw.chars().all(allowed) {
            return Err(ParseError::SkuAlphabet);
        }
        if raw == "." || raw == ".." {
            return Err(ParseError::SkuDots);
        }
        Ok(Sku(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name of the lock that guards this SKU's stock. One lock per SKU:
    /// orders for different products never wait for each other.
    pub fn lock_key(&self) -> String {
        format!("stock:{}", self.0)
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How many units one order takes: 1 to [`MAX_QUANTITY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(i64);

impl Quantity {
    pub fn parse(raw: i64) -> Result<Self, ParseError> {
        if !(1..=MAX_QUANTITY).contains(&raw) {
            return Err(ParseError::Quantity(raw));
        }
        Ok(Quantity(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A product's stock as an admin sets it: 0 to [`MAX_STOCK`].
pub fn parse_stock(raw: i64) -> Result<i64, ParseError> {
    if !(0..=MAX_STOCK).contains(&raw) {
        return Err(ParseError::Stock(raw));
    }
    Ok(raw)
}

/// A fencing token, and the epoch of the sequence that issued it
/// (`docs/fencing.md` explains both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// `redis/<id>`, `etcd/<id>`, `postgres`.
    pub epoch: String,
    pub token: i64,
    /// Which acquisition this is (a Redis owner id, an etcd lease id, a
    /// transaction id): the write checks it too, so a token that a sequence
    /// handed out twice still names one holder.
    pub holder: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sku_accepts_the_documented_alphabet() {
        assert_eq!(Sku::parse("SKU-1_a.b").unwrap().lock_key(), "stock:SKU-1_a.b");
    }

    #[test]
    fn sku_rejects_empty_long_and_odd_input() {
        for bad in [
            "",
            &"x".repeat(MAX_SKU_LEN + 1),
            "a b",
            "a/b",
            "ü",
            "a:b",
            ".",
            "..",
        ] {
            assert!(Sku::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn quantity_bounds_are_inclusive() {
        assert!(Quantity::parse(1).is_ok());
        assert!(Quantity::parse(MAX_QUANTITY).is_ok());
        assert!(Quantity::parse(0).is_err());
        assert!(Quantity::parse(-1).is_err());
        assert!(Quantity::parse(MAX_QUANTITY + 1).is_err());
    }

    #[test]
    fn stock_may_be_zero_but_not_negative() {
        assert_eq!(parse_stock(0).unwrap(), 0);
        assert!(parse_stock(-1).is_err());
        assert!(parse_stock(MAX_STOCK + 1).is_err());
    }
}
