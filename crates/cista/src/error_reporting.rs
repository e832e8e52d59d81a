//! Error reporting without personal data (issue 14, item 4): optional, to any service that
//! speaks Sentry's protocol (the `sentry` crate's client and transport), on when
//! `[errors] sentry_dsn` is set. Panics and `ERROR` log events are reported; nothing else.
//!
//! What leaves is decided by an allowlist, not by hoping to recognise personal data:
//! - no request (URL, query string, headers, cookies, body), no user, no breadcrumbs, no
//!   server name, no source lines or absolute paths in stack frames;
//! - of the log event's fields only the codes (`code`, `status`, `kind`, `method`, `route`,
//!   `request_id`), and only when they look like codes;
//! - free text (the log message, a panic's message, an error's text) only when it is plain
//!   lower-case words (Cista's log messages, such as `request failed`): anything with a
//!   capital letter, a digit, `@`, `=` or a long word (a name, an email address, a phone number,
//!   a token, a cookie) is withheld and replaced by a pointer to the server's own log, which
//!   keeps the whole line.
//!
//! Sending happens on the client's background thread from a bounded queue: a slow or dead
//! endpoint never blocks a request, and the local log line is written first, always.

use crate::config::ErrorsConfig;
use crate::runtime::Failure;
use sentry::protocol::{Context, Event, Exception, Frame, Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// Log fields that may go out: stable codes, never text a person wrote.
/// (`module_path`, `file` and `line` say where in Cista's code an event was logged.)
const CODE_FIELDS: &[&str] = &[
    "code",
    "status",
    "kind",
    "method",
    "route",
    "request_id",
    "module_path",
    "file",
    "line",
];

/// What replaces withheld text.
const WITHHELD: &str =
    "[withheld: may hold personal data; the server log has the whole line at this time]";

/// Starts the client when a DSN is configured; the guard flushes (at most 2 s) when dropped.
/// `Ok(None)`: error reporting is off. A DSN that does not parse is refused by name.
pub fn init(
    config: &ErrorsConfig,
    release: &'static str,
) -> Result<Option<sentry::ClientInitGuard>, Failure> {
    let Some(dsn) = config.sentry_dsn.as_ref().filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    let options = options(dsn.expose(), &config.environment, release)?;
    Ok(Some(sentry::init(options)))
}

/// The client's options: the DSN, no personal data by default, the scrubber on every event,
/// no breadcrumbs, a short shutdown.
pub fn options(
    dsn: &str,
    environment: &str,
    release: &'static str,
) -> Result<sentry::ClientOptions, Failure> {
    let dsn: sentry::types::Dsn = dsn.parse().map_err(|_| {
        Failure(
            "errors.sentry_dsn is not a DSN such as https://public-key@sentry.example.org/42"
                .to_owned(),
        )
    })?;
    // `ClientOptions` is non-exhaustive: set field by field on the defaults.
    let mut options = sentry::ClientOptions::default();
    options.dsn = Some(dsn);
    options.release = Some(Cow::Borrowed(release));
    options.environment = Some(Cow::Owned(environment.to_owned()));
    options.send_default_pii = false;
    options.server_name = None;
    options.max_breadcrumbs = 0;
    options.attach_stacktrace = false;
    options.shutdown_timeout = std::time::Duration::from_secs(2);
    options.before_send = Some(Arc::new(scrub));
    options.before_breadcrumb = Some(Arc::new(|_| None));
    Ok(options)
}

/// The tracing layer: `ERROR` events become reports; nothing else is sent (no breadcrumbs,
/// no logs, no spans).
pub fn layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::Layer as _;
    sentry::integrations::tracing::ErrorLayer::new()
        .with_filter(tracing_subscriber::filter::LevelFilter::ERROR)
}

/// The scrubber (`before_send`): keeps what the module documentation lists, drops the rest.
pub fn scrub(mut event: Event<'static>) -> Option<Event<'static>> {
    event.request = None;
    event.user = None;
    event.server_name = None;
    event.breadcrumbs = Default::default();
    event.culprit = None;
    event.transaction = None;
    event.modules = Default::default();
    // Source context and the paths of loaded libraries and of the binary: server details.
    event.template = None;
    event.debug_meta = Default::default();
    event.message = event.message.take().map(|m| plain_or_withheld(&m));
    if let Some(entry) = event.logentry.as_mut() {
        entry.message = plain_or_withheld(&entry.message);
        entry.params.clear();
    }
    event.extra = codes_only(std::mem::take(&mut event.extra));
    event
        .tags
        .retain(|k, v| CODE_FIELDS.contains(&k.as_str()) && looks_like_code(v));
    let contexts = std::mem::take(&mut event.contexts);
    event.contexts = contexts
        .into_iter()
        .filter_map(|(name, context)| match context {
            // The log event's fields: codes only.
            Context::Other(map) => {
                let kept = codes_only(map);
                (!kept.is_empty()).then_some((name, Context::Other(kept)))
            }
            // Operating system and runtime kinds and versions: no person in them.
            Context::Os(mut os) => {
                os.other.clear();
                Some((name, Context::Os(os)))
            }
            Context::Runtime(mut runtime) => {
                runtime.other.clear();
                Some((name, Context::Runtime(runtime)))
            }
            _ => None,
        })
        .collect();
    for exception in event.exception.values.iter_mut() {
        scrub_exception(exception);
    }
    if let Some(trace) = event.stacktrace.as_mut() {
        trace.frames.iter_mut().for_each(scrub_frame);
    }
    for thread in event.threads.values.iter_mut() {
        thread.name = None;
        for trace in [thread.stacktrace.as_mut(), thread.raw_stacktrace.as_mut()]
            .into_iter()
            .flatten()
        {
            trace.frames.iter_mut().for_each(scrub_frame);
        }
    }
    Some(event)
}

fn scrub_exception(exception: &mut Exception) {
    exception.value = exception.value.take().map(|v| plain_or_withheld(&v));
    // The type comes from the error's own text when an error is logged as a field: only a
    // Rust type path or `panic` passes.
    if !is_type_name(&exception.ty) {
        exception.ty = "error".to_owned();
    }
    exception.module = None;
    if let Some(mechanism) = exception.mechanism.as_mut() {
        mechanism.description = None;
        mechanism.help_link = None;
        mechanism.data.clear();
        mechanism.meta = Default::default();
    }
    if let Some(trace) = exception.stacktrace.as_mut() {
        trace.frames.iter_mut().for_each(scrub_frame);
    }
    if let Some(trace) = exception.raw_stacktrace.as_mut() {
        trace.frames.iter_mut().for_each(scrub_frame);
    }
}

/// A frame keeps its function, module, file name and line: where, never what.
fn scrub_frame(frame: &mut Frame) {
    frame.abs_path = None;
    frame.pre_context.clear();
    frame.context_line = None;
    frame.post_context.clear();
    frame.vars.clear();
}

fn codes_only(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .filter(|(key, value)| {
            CODE_FIELDS.contains(&key.as_str())
                && match value {
                    Value::String(s) => looks_like_code(s),
                    Value::Number(_) | Value::Bool(_) => true,
                    _ => false,
                }
        })
        .collect()
}

/// `internal`, `not_found`, `503`, `GET`, `/api/v1/forms/{form}`, a hex request id.
fn looks_like_code(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && !value.contains('@')
        && value.chars().all(|c| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || matches!(c, '_' | '.' | '-' | '/' | ':' | '{' | '}')
        })
        // An HTTP method.
        || (!value.is_empty() && value.len() <= 8 && value.chars().all(|c| c.is_ascii_uppercase()))
}

/// `panic`, or a path of Rust identifiers with `::` (`std::io::Error`, `sqlx::Error`).
fn is_type_name(ty: &str) -> bool {
    ty == "panic"
        || (ty.len() <= 100
            && ty.contains("::")
            && ty.split("::").all(|part| {
                !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            }))
}

/// The text itself if it is plain lower-case words; otherwise the withheld marker.
fn plain_or_withheld(text: &str) -> String {
    let plain = text.len() <= 200
        && text.split_whitespace().all(|word| {
            word.len() <= 20
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || matches!(c, ',' | ';' | ':' | '.' | '-'))
        });
    if plain {
        text.to_owned()
    } else {
        WITHHELD.to_owned()
    }
}

#[cfg(test)]
mod tests;
