//! Structured logs on standard error: JSON by default (one object per line, with the request
//! span), or plain text. `RUST_LOG` overrides the configured level.

use crate::config::LogConfig;
use tracing_subscriber::EnvFilter;

/// `default_level` applies when neither `RUST_LOG` nor the config says otherwise; commands
/// that print their own output use `warn` so logs do not drown it.
pub fn init(config: &LogConfig, default_level: &str) {
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.format == "text" {
        builder.try_init()
    } else {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    };
}
