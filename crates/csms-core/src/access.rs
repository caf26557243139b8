//! Who may do what through the operator API: three roles, each including the one below it, and
//! whether an API token may still be used at all (expiry and revocation).

use crate::Timestamp;

/// A role of an API token. `Viewer` reads; `Operator` also commands stations; `Admin` also
/// manages stations' registration, id tokens and API tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text.to_ascii_lowercase().as_str() {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Whether a token of this role may do what needs `required`.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

/// An API token as the operator sees it: never its secret nor the secret's hash.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiToken {
    pub id: i64,
    pub role: Role,
    pub name: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// Whether a known API token may be used now, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStanding {
    Usable(Role),
    Expired,
    Revoked,
}

/// Decides whether a token of `role` may be used at `now`. Revocation wins over expiry, and it
/// takes effect from the moment it is recorded, whatever time it names. A token is expired from
/// its `expires_at` on (the instant itself included), so a token made to last no time at all
/// never works.
pub fn standing(
    role: Role,
    expires_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
    now: Timestamp,
) -> TokenStanding {
    if revoked_at.is_some() {
        TokenStanding::Revoked
    } else if expires_at.is_some_and(|end| now >= end) {
        TokenStanding::Expired
    } else {
        TokenStanding::Usable(role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_stand_until_they_expire_or_are_revoked() {
        let at = |s: &str| crate::clock::parse_timestamp(s).expect("time");
        let now = at("2026-12-07T10:00:00.000Z");
        let (before, after) = (at("2026-12-07T09:59:59.999Z"), at("2026-12-07T10:00:00.001Z"));
        let cases = [
            (None, None, TokenStanding::Usable(Role::Operator)),
            (Some(after), None, TokenStanding::Usable(Role::Operator)),
            (Some(now), None, TokenStanding::Expired),
            (Some(before), None, TokenStanding::Expired),
            (None, Some(before), TokenStanding::Revoked),
            // A revocation recorded with a time ahead of this clock still holds.
            (None, Some(after), TokenStanding::Revoked),
            (Some(before), Some(before), TokenStanding::Revoked),
            (Some(after), Some(before), TokenStanding::Revoked),
        ];
        for (expires_at, revoked_at, expected) in cases {
            assert_eq!(
                standing(Role::Operator, expires_at, revoked_at, now),
                expected,
                "{expires_at:?} {revoked_at:?}"
            );
        }
    }

    #[test]
    fn roles_include_the_ones_below() {
        assert!(Role::Admin.allows(Role::Operator) && Role::Admin.allows(Role::Viewer));
        assert!(Role::Operator.allows(Role::Viewer) && !Role::Operator.allows(Role::Admin));
        assert!(!Role::Viewer.allows(Role::Operator));
        assert_eq!(Role::parse("Operator"), Some(Role::Operator));
        assert_eq!(Role::parse("root"), None);
    }
}
