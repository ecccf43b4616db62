//! The homeserver's credentials: `Authorization: Bearer <hs_token>`, or the
//! deprecated `access_token` query parameter. Both, when present, must agree.
//!
//! Spec: <https://spec.matrix.org/latest/application-service-api/#authorization>

use actix_web::{HttpRequest, HttpResponse};
use subtle::ConstantTimeEq;

use super::errors::matrix_error;

/// Checks the request's token against `hs_token` in constant time.
pub(crate) fn check(req: &HttpRequest, hs_token: &str) -> Result<(), HttpResponse> {
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
                    return Err(matrix_error(
                        401,
                        "M_UNAUTHORIZED",
                        "malformed Authorization header; expected `Bearer <hs_token>`",
                    ))
                }
            }
        }
    };
    let query = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned());
    let token = match (header, query) {
        (None, None) => {
            return Err(matrix_error(401, "M_UNAUTHORIZED", "missing hs_token"));
        }
        (Some(h), Some(q)) => {
            if !bool::from(h.as_bytes().ct_eq(q.as_bytes())) {
                return Err(matrix_error(
                    403,
                    "M_FORBIDDEN",
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
        Err(matrix_error(403, "M_FORBIDDEN", "bad hs_token"))
    }
}
