//! The one place where errors become HTTP. Handlers return `AppError`; anything else that
//! ends in an error status (unknown route, wrong method, body too large, timeout, panic) is
//! caught by `middleware::render_errors` and turned into the same coded body. Clients see the
//! stable code, a safe message and the request id; the log gets the cause chain.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cista_core::{Error, ErrorClass};
use serde::Serialize;

/// Marks a response whose body a handler wrote on purpose (a form shown again with its errors,
/// under a 4xx status): the error renderer leaves it as it is.
#[derive(Debug, Clone, Copy)]
pub struct OwnBody;

/// A core error on its way out of a handler.
#[derive(Debug)]
pub struct AppError(pub Error);

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

/// What a document (`cista-report`'s PDFs) that could not be drawn tells its reader: text no
/// bundled font can draw, stored before such text was refused at entry, is a `conflict`
/// naming the character and the `document`, then `aside`, so the reader knows what to have
/// corrected; results that contradict themselves are an integrity failure; anything else is
/// ours (500, its text kept for the log).
pub(crate) fn document_failure(e: cista_report::ReportError, document: &str, aside: &str) -> Error {
    use cista_report::ReportError;
    match e {
        ReportError::Unprintable { .. } => {
            Error::Conflict(format!("{document} cannot be printed: {e}{aside}"))
        }
        ReportError::Inconsistent(why) => Error::Integrity(why),
        other => Error::Internal(other.to_string()),
    }
}

/// What the error renderer needs, carried on the response until it is rendered.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorInfo {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

pub fn status_for(class: ErrorClass) -> StatusCode {
    match class {
        ErrorClass::BadRequest => StatusCode::BAD_REQUEST,
        ErrorClass::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorClass::Forbidden => StatusCode::FORBIDDEN,
        ErrorClass::NotFound => StatusCode::NOT_FOUND,
        ErrorClass::Conflict => StatusCode::CONFLICT,
        ErrorClass::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorClass::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorClass::Timeout => StatusCode::REQUEST_TIMEOUT,
        ErrorClass::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Builds the bare response for an error: status and `ErrorInfo`, body filled in later.
pub fn error_response(err: &Error) -> Response {
    let class = err.class();
    match class {
        // Shedding is the server working as meant, and logging each one would add to the load.
        ErrorClass::Unavailable if matches!(err, Error::Overloaded) => {}
        ErrorClass::Internal | ErrorClass::Unavailable => {
            tracing::error!(code = err.code(), cause = %err.chain(), "request failed");
        }
        _ => tracing::info!(code = err.code(), "request refused"),
    }
    // A field's name or a reason may hold the client's own text (a key of its record, a file
    // name): bounded here, for every error, so a request cannot make its answer as large as
    // itself.
    let field = match err {
        Error::InvalidInput { field, .. } => Some(at_most(field, FIELD_CHARS)),
        _ => None,
    };
    let mut response = status_for(class).into_response();
    // When to come back (RFC 9110 §10.2.3), in seconds.
    match err {
        Error::RateLimited { retry_after_secs } => {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        Error::Overloaded => {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        _ if class == ErrorClass::Unavailable => {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        _ => {}
    }
    response.extensions_mut().insert(ErrorInfo {
        code: err.code(),
        message: at_most(&err.public_message(), MESSAGE_CHARS),
        field,
    });
    response
}

/// The most characters of an error's message a response carries (a message is a sentence or
/// two; a longer one quotes something at length).
pub const MESSAGE_CHARS: usize = 1_000;

/// The most characters of the name of the field at fault a response carries.
pub const FIELD_CHARS: usize = 200;

/// The most characters of a JSON field's path a refusal names (`read_json`).
const PATH_CHARS: usize = 80;

/// `text` cut to at most `chars` characters, an ellipsis marking the cut.
fn at_most(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        error_response(&self.0)
    }
}

/// The error for a response that left the router with an error status but no `ErrorInfo`
/// (axum's own 404/405/415, the body limit, the timeout, a caught panic).
pub fn error_for_status(status: StatusCode, body_limit: usize) -> Error {
    match status {
        StatusCode::NOT_FOUND => Error::NotFound { what: "this page" },
        StatusCode::METHOD_NOT_ALLOWED => Error::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge {
            limit_bytes: body_limit,
        },
        StatusCode::REQUEST_TIMEOUT => Error::RequestTimeout,
        StatusCode::UNAUTHORIZED => Error::Unauthenticated,
        StatusCode::FORBIDDEN => Error::Forbidden { action: "do this" },
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            Error::UnsupportedMediaType("this route does not take that content type".to_owned())
        }
        StatusCode::TOO_MANY_REQUESTS => Error::RateLimited {
            retry_after_secs: 1,
        },
        StatusCode::SERVICE_UNAVAILABLE => Error::Overloaded,
        s if s.is_client_error() => Error::BadRequest {
            reason: "the request could not be read".to_owned(),
        },
        _ => Error::Internal(format!("unhandled status {status}")),
    }
}

/// Reads a JSON body as `T`. On failure, says what is wrong and where, without quoting a
/// value: "a field is missing, unknown or of the wrong type at `client.email` (line 1, column
/// 31)". serde_json's own messages quote the values they reject (`invalid type: integer
/// `3055550100`, expected a string`), which may be personal data, and an error's reason can
/// reach the logs. The path names the fields and list positions down to the one refused
/// (serde_path_to_error's segments, joined as `a.b[2]`, at most 80 characters), never an
/// unknown field's own name (a key the client made up); line and column are 1-based, as
/// serde_json counts, at the end of the value refused.
pub fn read_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut reader)
        .map_err(|e| json_problem(e.path().iter().collect(), e.inner()))?;
    // As serde_json::from_slice does: nothing but white space may follow the value.
    reader.end().map_err(|e| json_problem(Vec::new(), &e))?;
    Ok(value)
}

/// See `read_json`.
fn json_problem(mut segments: Vec<&serde_path_to_error::Segment>, e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    use serde_path_to_error::Segment;
    let kind = match e.classify() {
        Category::Io => return "unreadable".to_owned(),
        Category::Syntax => "not JSON",
        Category::Data => "a field is missing, unknown or of the wrong type",
        Category::Eof => "cut short",
    };
    // The path of an unknown field ends at its name, which is the client's own text. serde's
    // message for it (`de::Error::unknown_field`) has begun so since serde 1.0.
    if e.to_string().starts_with("unknown field") {
        segments.pop();
    }
    let mut joined = String::new();
    for segment in segments {
        match segment {
            Segment::Seq { index } => joined.push_str(&format!("[{index}]")),
            Segment::Map { key: name } | Segment::Enum { variant: name } => {
                if !joined.is_empty() {
                    joined.push('.');
                }
                // A map's keys may be the client's own text (answers keyed by whatever was
                // sent): only a key shaped like a field's name is repeated, anything else
                // (an address, a name with a space, a long string) is `?`.
                joined.push_str(if looks_like_a_field_name(name) {
                    name
                } else {
                    "?"
                });
            }
            Segment::Unknown => joined.push_str(if joined.is_empty() { "?" } else { ".?" }),
        }
    }
    let at = if joined.is_empty() || e.classify() != Category::Data {
        String::new()
    } else {
        format!(" at `{}`", at_most(&joined, PATH_CHARS))
    };
    format!("{kind}{at} (line {}, column {})", e.line(), e.column())
}

/// Whether a JSON key may be named in a refusal: ASCII letters, digits, `_` and `-`, at most
/// 40 characters (every field name of the API's documents is).
fn looks_like_a_field_name(key: &str) -> bool {
    (1..=40).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The body of every JSON error (the API's, the operational endpoints', and the web's for a
/// client that asks for JSON).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JsonError<'a> {
    pub error: JsonErrorBody<'a>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JsonErrorBody<'a> {
    /// The stable code, e.g. `token_invalid`, `not_found`, `payload_too_large`.
    pub code: &'a str,
    /// A sentence for people; it may change, the code does not.
    pub message: &'a str,
    /// The input field at fault, for `invalid_input`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
    /// This request's id, as in the `X-Request-Id` header and the server's log.
    pub request_id: &'a str,
}

/// The JSON body of an error.
pub fn json_body(info: &ErrorInfo, request_id: &str) -> String {
    serde_json::to_string(&JsonError {
        error: JsonErrorBody {
            code: info.code,
            message: &info.message,
            field: info.field.as_deref(),
            request_id,
        },
    })
    .unwrap_or_else(|_| format!(r#"{{"error":{{"code":"{}"}}}}"#, info.code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_show_only_the_code_and_a_generic_message() {
        let response = error_response(&Error::Internal("db password=hunter2".into()));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let info = response.extensions().get::<ErrorInfo>().unwrap();
        assert_eq!(info.code, "internal_error");
        assert!(!info.message.contains("hunter2"));
        let body = json_body(info, "abc123");
        assert!(body.contains(r#""request_id":"abc123""#));
        assert!(!body.contains("hunter2"));
    }

    #[test]
    fn a_message_and_a_field_are_bounded_whatever_the_client_sent() {
        let long = Error::InvalidInput {
            field: format!("answers.{}", "k".repeat(300_000)),
            reason: "é".repeat(5_000),
        };
        let response = error_response(&long);
        let info = response.extensions().get::<ErrorInfo>().unwrap();
        let field = info.field.as_deref().unwrap();
        assert_eq!(field.chars().count(), FIELD_CHARS + 1);
        assert!(field.starts_with("answers.kkk") && field.ends_with('…'));
        assert_eq!(info.message.chars().count(), MESSAGE_CHARS + 1);
        assert!(info.message.ends_with('…'));
        // A short one is left whole.
        let short = Error::invalid("answers.depth_m", "must be a number");
        let response = error_response(&short);
        let info = response.extensions().get::<ErrorInfo>().unwrap();
        assert_eq!(info.field.as_deref(), Some("answers.depth_m"));
        assert_eq!(info.message, short.public_message());
    }

    #[test]
    fn every_class_has_a_client_or_server_error_status() {
        for class in [
            ErrorClass::BadRequest,
            ErrorClass::Unauthenticated,
            ErrorClass::Forbidden,
            ErrorClass::NotFound,
            ErrorClass::Conflict,
            ErrorClass::TooLarge,
            ErrorClass::Timeout,
            ErrorClass::RateLimited,
            ErrorClass::UnsupportedMediaType,
        ] {
            assert!(status_for(class).is_client_error(), "{class:?}");
        }
        assert!(status_for(ErrorClass::Internal).is_server_error());
        assert!(status_for(ErrorClass::Unavailable).is_server_error());
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // read only to be refused
    struct Shape {
        client: Client,
        answers: Vec<u32>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Client {
        email: String,
    }

    #[test]
    fn a_json_problem_names_the_field_and_never_the_value() {
        let problem = |body: &str| read_json::<Shape>(body.as_bytes()).unwrap_err();
        let wrong = "a field is missing, unknown or of the wrong type";
        for (body, said) in [
            (
                r#"{"client": {"email": 3055550100}, "answers": []}"#,
                format!("{wrong} at `client.email` (line 1, column 31)"),
            ),
            (
                r#"{"client": {"email": "a@b.c"}, "answers": [1, "Maria Lopez"]}"#,
                format!("{wrong} at `answers[1]` (line 1, column 59)"),
            ),
            (
                r#"{"client": {"email": "a@b.c"}}"#,
                format!("{wrong} (line 1, column 30)"),
            ),
            (
                r#"{"client": {"email": "a@b.c", "Maria Lopez": 1}, "answers": []}"#,
                format!("{wrong} at `client` (line 1, column 43)"),
            ),
            (
                r#"{"client": {"email": "a@b.c"}, "answers": [], "Maria Lopez": 1}"#,
                format!("{wrong} (line 1, column 59)"),
            ),
            (
                "{\n\"client\": \"Maria",
                "cut short (line 2, column 16)".to_owned(),
            ),
            (
                r#"{"client": Maria}"#,
                "not JSON (line 1, column 12)".to_owned(),
            ),
        ] {
            let got = problem(body);
            assert_eq!(got, said, "{body}");
            assert!(
                !got.contains("Maria") && !got.contains("3055550100"),
                "{got}"
            );
        }
        // A map's keys are the client's: only one shaped like a field's name is repeated.
        type Keyed = std::collections::HashMap<String, std::collections::HashMap<String, u32>>;
        for (key, shown) in [
            ("q_7-b", "q_7-b"),
            ("maria@example.org", "?"),
            ("Maria Lopez", "?"),
            ("é", "?"),
            (&"k".repeat(41), "?"),
        ] {
            let refused = read_json::<Keyed>(format!(r#"{{"{key}": {{"q1": "x"}}}}"#).as_bytes())
                .unwrap_err();
            assert!(refused.contains(&format!("at `{shown}.q1`")), "{refused}");
        }
        // A path is cut at 80 characters.
        let deep = "k".repeat(40);
        let cut = read_json::<Keyed>(format!(r#"{{"{deep}": {{"{deep}": "x"}}}}"#).as_bytes())
            .unwrap_err();
        assert!(
            cut.contains(&format!("at `{deep}.{}…`", "k".repeat(39))),
            "{cut}"
        );
        let read: Shape =
            read_json(br#" {"client": {"email": "a@b.c"}, "answers": [7]} "#).unwrap();
        assert_eq!(read.answers, [7]);
    }
}
