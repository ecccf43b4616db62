//! The homeserver's credentials: `Authorization: Bearer <hs_token>`, or the
//! deprecated `access_token` query parameter. Both, when present, must agree.
//!
//! Spec: <https://spec.matrix.org/latest/application-service-api/#authorization>
//!
//! [`Authorized`] is an extractor: a route that takes it as its first
//! argument answers `401 M_UNAUTHORIZED` / `403 M_FORBIDDEN` before anything else.

use std::future::{ready, Ready};

use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use subtle::ConstantTimeEq;

use super::errors::matrix_error;
use super::ServerState;
use crate::ErrorCode;

/// Proof that the request carried the right hs_token.
pub(crate) struct Authorized;

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct AuthError {
    status: u16,
    errcode: ErrorCode,
    message: &'static str,
}

impl ResponseError for AuthError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::from_u16(self.status)
            .unwrap_or(actix_web::http::StatusCode::FORBIDDEN)
    }

    fn error_response(&self) -> HttpResponse {
        matrix_error(self.status, self.errcode.clone(), self.message)
    }
}

fn refuse(status: u16, errcode: ErrorCode, message: &'static str) -> AuthError {
    AuthError {
        status,
        errcode,
        message,
    }
}

impl FromRequest for Authorized {
    type Error = AuthError;
    type Future = Ready<Result<Self, AuthError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let res = match req.app_data::<web::Data<ServerState>>() {
            Some(state) => check(req, &state.app.registration().hs_token),
            None => Err(refuse(
                500,
                ErrorCode::Unknown,
                "appservice routes mounted without their state",
            )),
        };
        ready(res.map(|()| Authorized))
    }
}

/// Checks the request's token against `hs_token` in constant time.
pub(crate) fn check(req: &HttpRequest, hs_token: &str) -> Result<(), AuthError> {
    let header = match req.headers().get(actix_web::http::header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let token = v
                .to_str()
                .ok()
                .and_then(|s| {
                    s.strip_prefix("Bearer ")
                        .or_else(|| s.strip_prefix("bearer "))
                })
                .map(str::trim);
            match token {
                Some(t) if !t.is_empty() => Some(t.to_owned()),
                _ => {
                    return Err(refuse(
                        401,
                        ErrorCode::Unauthorized,
                        "malformed Authorization header; expected `Bearer <hs_token>`",
                    ))
                }
            }
        }
    };
    let query = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned());
    // An empty `access_token=` is no token, whatever hs_token says.
    let query = query.filter(|q| !q.is_empty());
    let token = match (header, query) {
        (None, None) => return Err(refuse(401, ErrorCode::Unauthorized, "missing hs_token")),
        (Some(h), Some(q)) => {
            if !bool::from(h.as_bytes().ct_eq(q.as_bytes())) {
                return Err(refuse(
                    403,
                    ErrorCode::Forbidden,
                    "Authorization header and access_token query parameter differ",
                ));
            }
            h
        }
        (Some(t), None) | (None, Some(t)) => t,
    };
    if bool::from(token.as_bytes().ct_eq(hs_token.as_bytes())) {
        Ok(())
    } else {
        Err(refuse(403, ErrorCode::Forbidden, "bad hs_token"))
    }
}
