//! Reading a request body with a size limit (`413 M_TOO_LARGE` past it)
//! and a time limit (`408` past it).

use actix_web::web::{Bytes, BytesMut, Payload};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;

use super::errors::matrix_error;
use crate::ErrorCode;

pub(crate) async fn read(
    req: &HttpRequest,
    payload: Payload,
    config: &super::ServerConfig,
) -> Result<Bytes, HttpResponse> {
    let timeout = config.body_timeout;
    match tokio::time::timeout(timeout, read_all(req, payload, config.max_body_bytes)).await {
        Ok(read) => read,
        Err(_) => Err(matrix_error(
            408,
            ErrorCode::Unknown,
            &format!(
                "the request body did not arrive within {} s",
                timeout.as_secs_f64()
            ),
        )),
    }
}

async fn read_all(
    req: &HttpRequest,
    mut payload: Payload,
    limit: usize,
) -> Result<Bytes, HttpResponse> {
    let too_large = || {
        matrix_error(
            413,
            ErrorCode::TooLarge,
            &format!("request body is over {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            matrix_error(
                400,
                ErrorCode::BadJson,
                &format!("cannot read request body: {e}"),
            )
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
