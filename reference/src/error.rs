//! Graph's error responses: the reasons a request is refused, and the
//! `{"error":{"code","message","innerError"}}` body they are sent with.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why a request is refused. Handlers return it; the request middleware turns
/// it into the final body (`crate::sent::Answer::refusal`), because only the
/// middleware knows the request id and the caller's `client-request-id`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("Access token is empty or missing: send 'Authorization: Bearer <token>'.")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    #[error("The request body is not valid JSON: {0}.")]
    MalformedJson(String),
    #[error("{0}")]
    NotFound(String),
    #[error("The request method is not supported for this resource.")]
    MethodNotAllowed,
    #[error("Content-Type must be application/json, not {0}.")]
    UnsupportedMediaType(String),
    #[error("The request body is larger than the limit of {0} bytes.")]
    PayloadTooLarge(usize),
    #[error("The request line and headers are larger than the limit of {0} bytes.")]
    HeadersTooLarge(usize),
    #[error("The request body did not arrive within {} ms.", .0.as_millis())]
    RequestTimeout(Duration),
    #[error("{0}")]
    TooManyRequests(String),
    /// Only ever raised by a fault: the reference server has no real 5xx.
    #[error("{0}")]
    Injected(String),
}

impl ApiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::BadRequest(_) | ApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Injected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub(crate) fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "InvalidAuthenticationToken",
            ApiError::BadRequest(_) | ApiError::MalformedJson(_) => "BadRequest",
            ApiError::NotFound(_) => "itemNotFound",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::PayloadTooLarge(_) => "RequestEntityTooLarge",
            ApiError::HeadersTooLarge(_) => "RequestHeaderFieldsTooLarge",
            ApiError::RequestTimeout(_) => "RequestTimeout",
            ApiError::TooManyRequests(_) => "TooManyRequests",
            ApiError::Injected(_) => "InternalServerError",
        }
    }

    /// The error a bare status stands for, for responses that axum itself
    /// produced (a rejected path parameter, a method the route lacks).
    pub(crate) fn from_status(status: StatusCode) -> ApiError {
        let reason = status.canonical_reason().unwrap_or("Request failed");
        match status {
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized,
            StatusCode::NOT_FOUND => ApiError::NotFound(format!("{reason}.")),
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
            StatusCode::TOO_MANY_REQUESTS => ApiError::TooManyRequests(format!("{reason}.")),
            s if s.is_server_error() => ApiError::Injected(format!("{reason}.")),
            _ => ApiError::BadRequest(format!("{reason}.")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// UTC time as Graph writes `innerError.date`: seconds, and no zone suffix.
pub(crate) fn graph_date(now: SystemTime) -> String {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// algorithm), which spares a date-time crate for one timestamp.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_have_no_zone_suffix() {
        let at = |secs| graph_date(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(at(1_795_672_524), "2026-11-26T05:55:24");
    }
}
