//! Structured logs on standard error. The format follows the configuration: `json` (one object
//! per line, with the request span), `text`, or `auto` (the default): readable compact lines
//! when standard error is a terminal, so `cista demo` and `cista serve` do not print JSON
//! between their friendly output, and JSON when it goes to a file, a pipe or a log collector.
//! `RUST_LOG` overrides the configured level.

use crate::config::LogConfig;
use std::io::IsTerminal as _;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    /// tracing-subscriber's compact format: one readable line per event.
    Text,
}

/// The format for a configured value and whether standard error is a terminal. An explicit
/// `json` or `text` wins; `auto` (and anything unrecognised) picks text on a terminal only.
pub fn choose_format(configured: &str, stderr_is_terminal: bool) -> LogFormat {
    match configured {
        "json" => LogFormat::Json,
        "text" => LogFormat::Text,
        _ if stderr_is_terminal => LogFormat::Text,
        _ => LogFormat::Json,
    }
}

/// `default_level` applies when neither `RUST_LOG` nor the config says otherwise; commands
/// that print their own output use `warn` so logs do not drown it. With `report_errors`
/// (a Sentry client is running), error events are also reported, after the local line.
pub fn init(config: &LogConfig, default_level: &str, report_errors: bool) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let level = if config.level == "info" {
        default_level
    } else {
        &config.level
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},sqlx=warn,sea_orm=warn,sea_orm_migration=warn"
        ))
    });
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let (text, json) = match choose_format(&config.format, std::io::stderr().is_terminal()) {
        LogFormat::Text => (Some(lines.compact()), None),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            ),
        ),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(report_errors.then(crate::error_reporting::layer))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminal_gets_readable_lines_and_anything_else_gets_json_unless_configured() {
        assert_eq!(choose_format("auto", true), LogFormat::Text);
        assert_eq!(choose_format("auto", false), LogFormat::Json);
        assert_eq!(choose_format("json", true), LogFormat::Json);
        assert_eq!(choose_format("text", false), LogFormat::Text);
        assert_eq!(
            choose_format(&LogConfig::default().format, false),
            LogFormat::Json,
            "the default stays JSON for log collectors"
        );
        assert_eq!(
            choose_format(&LogConfig::default().format, true),
            LogFormat::Text
        );
    }
}
