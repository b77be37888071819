//! Bearer tokens configured by the operator. Anonymous callers may read everything public;
//! dispatchers may also read contact details; planners may draft and publish plans;
//! administrators may do all of it.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::problem::Problem;
use crate::atlas::Visibility;

#[derive(Clone, Default)]
pub struct AuthConfig {
    pub admin_token: Option<String>,
    pub dispatcher_token: Option<String>,
    pub planner_token: Option<String>,
}

impl std::fmt::Debug for AuthConfig {
    // Never print the tokens themselves.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("admin_token", &self.admin_token.as_ref().map(|_| "<set>"))
            .field(
                "dispatcher_token",
                &self.dispatcher_token.as_ref().map(|_| "<set>"),
            )
            .field(
                "planner_token",
                &self.planner_token.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Caller {
    Anonymous,
    Dispatcher,
    Planner,
    Admin,
}

impl Caller {
    pub fn visibility(self) -> Visibility {
        Visibility {
            // Planners redraw boundaries; they do not need people's phone numbers.
            contacts: matches!(self, Caller::Dispatcher | Caller::Admin),
        }
    }

    /// The name recorded in the audit log for a write.
    pub fn actor(self) -> &'static str {
        match self {
            Caller::Anonymous => "anonymous",
            Caller::Dispatcher => "dispatcher",
            Caller::Planner => "planner",
            Caller::Admin => "admin",
        }
    }
}

/// Compares without an early exit, so timing does not reveal how much of a token matched.
fn same_token(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, &x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0));
    }
    diff == 0
}

impl AuthConfig {
    /// Who is calling, from the `Authorization` header. A header with an unknown token is an
    /// error (401), not a silent downgrade to anonymous.
    pub fn caller(&self, header: Option<&str>) -> Result<Caller, Problem> {
        let Some(header) = header else {
            return Ok(Caller::Anonymous);
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                Problem::unauthorized("the Authorization header must be 'Bearer <token>'")
            })?;
        let matches = |t: &Option<String>| t.as_deref().is_some_and(|t| same_token(token, t));
        if matches(&self.admin_token) {
            Ok(Caller::Admin)
        } else if matches(&self.dispatcher_token) {
            Ok(Caller::Dispatcher)
        } else if matches(&self.planner_token) {
            Ok(Caller::Planner)
        } else {
            Err(Problem::unauthorized("the bearer token is not valid"))
        }
    }

    /// Checks that the caller may write.
    pub fn require_admin(&self, caller: Caller) -> Result<(), Problem> {
        if self.admin_token.is_none() {
            return Err(Problem::forbidden(
                "writes are disabled: no admin token is configured (GRIDATLAS_ADMIN_TOKEN)",
            ));
        }
        match caller {
            Caller::Admin => Ok(()),
            Caller::Anonymous => Err(Problem::unauthorized(
                "this write needs an admin bearer token",
            )),
            Caller::Dispatcher => Err(Problem::forbidden(
                "a dispatcher token may read contacts but not write",
            )),
            Caller::Planner => Err(Problem::forbidden(
                "a planner token may draft and publish plans but not edit leaders or buildings",
            )),
        }
    }

    /// Checks that the caller may draft and publish plans (a planner or an administrator).
    pub fn require_planner(&self, caller: Caller) -> Result<(), Problem> {
        if self.admin_token.is_none() && self.planner_token.is_none() {
            return Err(Problem::forbidden(
                "planning is disabled: no planner token is configured (GRIDATLAS_PLANNER_TOKEN)",
            ));
        }
        match caller {
            Caller::Planner | Caller::Admin => Ok(()),
            Caller::Anonymous => Err(Problem::unauthorized(
                "plans need a planner (or admin) bearer token",
            )),
            Caller::Dispatcher => Err(Problem::forbidden(
                "a dispatcher token may read contacts but not make plans",
            )),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let header = match parts.headers.get(AUTHORIZATION) {
            None => None,
            Some(v) => Some(
                v.to_str()
                    .map_err(|_| Problem::unauthorized("the Authorization header is not text"))?,
            ),
        };
        state.auth.caller(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AuthConfig {
        AuthConfig {
            admin_token: Some("adm".into()),
            dispatcher_token: Some("dsp".into()),
            planner_token: Some("pln".into()),
        }
    }

    #[test]
    fn tokens_map_to_roles() {
        let c = config();
        assert_eq!(c.caller(None).ok(), Some(Caller::Anonymous));
        assert_eq!(c.caller(Some("Bearer adm")).ok(), Some(Caller::Admin));
        assert_eq!(c.caller(Some("Bearer dsp")).ok(), Some(Caller::Dispatcher));
        assert!(c.caller(Some("Bearer ad")).is_err());
        assert!(c.caller(Some("Bearer admx")).is_err());
        assert!(c.caller(Some("Basic adm")).is_err());
    }

    #[test]
    fn no_admin_token_disables_writes() {
        let c = AuthConfig::default();
        assert!(c.require_admin(Caller::Admin).is_err());
        assert!(config().require_admin(Caller::Admin).is_ok());
        assert!(config().require_admin(Caller::Dispatcher).is_err());
    }
}
