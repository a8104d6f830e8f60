//! The ledger as a watched phase runs, read page by page: each tick asks
//! the first target for the orders written since the last
//! (`GET /admin/ledger/{sku}?after=N`) and adds them up here — units sold,
//! and pairs of orders whose critical sections overlapped — so a tick costs
//! the new rows, not the audit's whole ledger and its overlap self-join
//! (whose work grows with the pairs: 91,793 of them under `none`).
//!
//! Counted as the audit counts (`src/store/products.rs`): two sections
//! overlap when each began before the other ended; a section of no length
//! is nobody's holder. The audit still judges the phase; this is the view.

use stocklock_api::{LedgerPage, RecordedOrder};

/// One SKU's ledger so far.
#[derive(Debug, Default)]
pub struct Followed {
    /// Where to ask from next.
    pub after: i64,
    initial_stock: i64,
    stock: i64,
    sold: i64,
    /// Every section so far: its starts and its ends, each sorted.
    starts: Vec<i64>,
    ends: Vec<i64>,
    pairs: i64,
}

impl Followed {
    /// Adds a page of new rows.
    pub fn absorb(&mut self, page: &LedgerPage) {
        self.after = page.next;
        (self.initial_stock, self.stock) = (page.initial_stock, page.stock);
        for order in &page.orders {
            self.add(order);
        }
    }

    fn add(&mut self, order: &RecordedOrder) {
        self.sold += order.quantity;
        let (Some(start), Some(end)) = (order.cs_started_us, order.cs_ended_us) else {
            return;
        };
        if start >= end {
            return;
        }
        // Those that began before this one ended, less those that had
        // ended by the time it began: the ones it overlapped.
        let began_before_end = self.starts.partition_point(|&s| s < end);
        let ended_by_start = self.ends.partition_point(|&e| e <= start);
        self.pairs += (began_before_end - ended_by_start) as i64;
        let at = self.starts.partition_point(|&s| s <= start);
        self.starts.insert(at, start);
        let at = self.ends.partition_point(|&e| e <= end);
        self.ends.insert(at, end);
    }

    /// `[sold, stock, oversold, overlapping pairs]`, as a tick shows them.
    pub fn figures(&self) -> [i64; 4] {
        let oversold = (self.sold - self.initial_stock).max(0);
        [self.sold, self.stock, oversold, self.pairs]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(quantity: i64, section: Option<(i64, i64)>) -> RecordedOrder {
        RecordedOrder {
            order_id: uuid::Uuid::new_v4(),
            quantity,
            instance: None,
            backend: stocklock_api::Backend::None,
            fence_token: None,
            cs_started_us: section.map(|s| s.0),
            cs_ended_us: section.map(|s| s.1),
        }
    }

    /// The audit's rule, pair by pair.
    fn brute_force(sections: &[(i64, i64)]) -> i64 {
        let held: Vec<_> = sections.iter().filter(|(s, e)| s < e).collect();
        let mut pairs = 0;
        for (i, a) in held.iter().enumerate() {
            for b in &held[i + 1..] {
                pairs += i64::from(a.0 < b.1 && b.0 < a.1);
            }
        }
        pairs
    }

    #[test]
    fn pages_in_any_order_count_the_pairs_the_audit_counts() {
        let sections: Vec<(i64, i64)> = (0..400_i64)
            .map(|i| {
                let start = (i * 7_919) % 1_000;
                (start, start + (i * 31) % 60)
            })
            .collect();
        let mut followed = Followed::default();
        // Pages of uneven sizes, rows not in time order (commits are not).
        for (n, chunk) in sections.chunks(37).enumerate() {
            let page = LedgerPage {
                sku: "s".into(),
                initial_stock: 300,
                stock: 0,
                orders: chunk.iter().map(|&s| order(1, Some(s))).collect(),
                next: n as i64 + 1,
            };
            followed.absorb(&page);
        }
        assert_eq!(followed.figures(), [400, 0, 100, brute_force(&sections)]);
        assert_eq!(followed.after, 11);
    }

    #[test]
    fn an_order_without_a_section_sells_but_holds_nothing() {
        let mut followed = Followed::default();
        let page = LedgerPage {
            sku: "s".into(),
            initial_stock: 10,
            stock: 7,
            orders: vec![order(2, None), order(1, Some((5, 5))), order(1, Some((1, 9)))],
            next: 3,
        };
        followed.absorb(&page);
        assert_eq!(followed.figures(), [4, 7, 0, 0]);
    }
}
