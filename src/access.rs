//! Who may talk to this instance; `http/access.rs` checks it before any
//! handler runs.
//!
//! * **Host allow-list** (every route). A web page can reach even a
//!   loopback-bound service by DNS rebinding: its own domain, re-resolved to
//!   127.0.0.1, sends requests whose `Host` is that domain. So a `Host` must
//!   be an IP address (rebinding needs a name), `localhost`, or a name in
//!   `ALLOWED_HOSTS` (Compose's service names); anything else is 403
//!   `host_not_allowed`.
//! * **Admin token** (every `/admin/` route). With `ADMIN_TOKEN` set, an
//!   admin request must carry `Authorization: Bearer <token>`, compared in
//!   constant time (`subtle`), or it is 401 `unauthorized` and changes
//!   nothing. Orders, products, health and metrics stay open: they are what
//!   students call. Where the token comes from: `docs/api.md#access`.

use subtle::ConstantTimeEq;

/// The instance's access rules, fixed at start-up.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Names (lower case, without port) accepted besides IP addresses and
    /// `localhost`.
    pub allowed_hosts: Vec<String>,
    /// The bearer token `/admin/` routes need; `None`: open (loopback only).
    pub admin_token: Option<String>,
}

impl Access {
    /// See [`stocklock_api::host_allowed`], shared with the dashboard.
    pub fn allows_host(&self, host: &str) -> bool {
        stocklock_api::host_allowed(host, &self.allowed_hosts)
    }

    pub fn admits_admin(&self, authorization: Option<&str>) -> bool {
        let Some(token) = &self.admin_token else {
            return true;
        };
        // The scheme is case-insensitive (RFC 9110, 11.1).
        let Some((scheme, given)) = authorization.and_then(|value| value.split_once(' ')) else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return false;
        }
        let given = given.trim_start_matches(' ');
        given.as_bytes().ct_eq(token.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_localhost_and_listed_names_are_allowed_hosts() {
        let access = Access {
            allowed_hosts: vec!["stocklock-1".to_owned()],
            admin_token: None,
        };
        for host in [
            "127.0.0.1:8080",
            "[::1]:8080",
            "198.18.1.5",
            "localhost:1",
            "Stocklock-1:8080",
        ] {
            assert!(access.allows_host(host), "{host}");
        }
        for host in ["evil.example:8080", "localhost.evil.example", "stocklock-2", ""] {
            assert!(!access.allows_host(host), "{host}");
        }
    }

    #[test]
    fn the_admin_token_must_match_exactly() {
        let access = Access {
            allowed_hosts: Vec::new(),
            admin_token: Some("s3cret".to_owned()),
        };
        assert!(access.admits_admin(Some("Bearer s3cret")));
        assert!(access.admits_admin(Some("bearer  s3cret")));
        for wrong in [
            None,
            Some("Bearer s3cre"),
            Some("Bearer s3cret2"),
            Some("s3cret"),
            Some("Basic s3cret"),
        ] {
            assert!(!access.admits_admin(wrong), "{wrong:?}");
        }
        assert!(Access::default().admits_admin(None), "no token configured: open");
    }
}
