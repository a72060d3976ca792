//! Admin API access (contract §12): the routes exist only with `ADMIN_TOKEN`; a request must carry
//! `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time; with the token right but
//! no `OUTBOX` bound the answer is 501. Checked in that order, so that nothing about the
//! bindings is told to a caller without the token.

use subtle::ConstantTimeEq;

use crate::logic::error::EdgeError;

/// The largest body an admin request may carry (a dead-event filter is a few fields).
pub const MAX_BODY_BYTES: u64 = 65_536;

/// Whether an admin request may proceed.
pub fn authorize(
    admin_token: Option<&str>,
    authorization: Option<&str>,
    outbox_bound: bool,
) -> Result<(), EdgeError> {
    let token = admin_token.ok_or(EdgeError::NotFound)?;
    let presented = authorization
        .and_then(|value| {
            let (scheme, rest) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .unwrap_or_default();
    // `ct_eq` on slices of different lengths is false without comparing bytes: only the
    // length of the token can leak, never its content.
    if !bool::from(presented.as_bytes().ct_eq(token.as_bytes())) {
        return Err(EdgeError::AdminUnauthorized);
    }
    if !outbox_bound {
        return Err(EdgeError::OutboxNotConfigured);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_exist_only_with_a_token_and_need_it_exactly() {
        assert_eq!(
            authorize(None, Some("Bearer x"), true),
            Err(EdgeError::NotFound)
        );
        for wrong in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer tok"),
            Some("Bearer tok-3141x"),
            Some("Basic tok-3141"),
            Some("tok-3141"),
        ] {
            assert_eq!(
                authorize(Some("tok-3141"), wrong, true),
                Err(EdgeError::AdminUnauthorized),
                "{wrong:?}"
            );
        }
        assert_eq!(
            authorize(Some("tok-3141"), Some("Bearer tok-3141"), true),
            Ok(())
        );
        assert_eq!(
            authorize(Some("tok-3141"), Some("bearer  tok-3141 "), true),
            Ok(())
        );
        assert_eq!(
            authorize(Some("tok-3141"), Some("Bearer tok-3141"), false),
            Err(EdgeError::OutboxNotConfigured)
        );
        assert_eq!(
            authorize(Some("tok-3141"), None, false),
            Err(EdgeError::AdminUnauthorized)
        );
    }
}
