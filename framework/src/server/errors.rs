//! Matrix error bodies on the wire.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::json;

use crate::ErrorCode;

/// A response with a Matrix error body: `{"errcode": …, "error": …}`.
///
/// ```
/// use ghostkit::ErrorCode;
/// let resp = ghostkit::server::matrix_error(403, ErrorCode::Forbidden, "bad token");
/// assert_eq!(resp.status().as_u16(), 403);
/// ```
pub fn matrix_error(status: u16, errcode: ErrorCode, error: &str) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).json(json!({ "errcode": errcode.as_str(), "error": error }))
}
