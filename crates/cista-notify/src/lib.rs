//! Delivery of the transactional outbox: a worker takes due messages from the core (addressed
//! from the vault, parameters opened), renders them (plain text and HTML), and hands them to an
//! email sender (SMTP, or files for the demo) or an SMS sender (an HTTP provider, or files).
//! Failures are retried with back-off by the core; error texts kept with a message never hold
//! an address or a message body. Webhooks (signed messages to partner systems' endpoints)
//! are sent from their own queue by `webhooks`.

pub mod email;
pub mod render;
pub mod sms;
pub mod webhooks;
pub mod worker;

pub use email::{EmailSender, FileEmail, SmtpEmail, SmtpSecurity, SmtpSettings};
pub use render::{Attachment, Rendered, render};
pub use sms::{FileSms, HttpSms, HttpSmsSettings, SmsSender};
pub use webhooks::WebhookWorker;
pub use worker::OutboxWorker;

/// A sender that cannot be set up as configured; the message names the setting.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(pub String);
