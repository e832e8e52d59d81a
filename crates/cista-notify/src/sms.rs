//! SMS senders: an HTTP provider with a Twilio-style API (form POST to
//! `/2010-04-01/Accounts/{sid}/Messages.json`, basic auth), over HTTPS (plain HTTP only to this
//! machine, for tests); and a file sender for the demo.

use crate::SetupError;
use crate::email::write_to_folder;
use async_trait::async_trait;
use cista_core::platform::notices::DeliveryOutcome;
use cista_types::Secret;
use std::path::PathBuf;
use std::time::Duration;

#[async_trait]
pub trait SmsSender: Send + Sync + std::fmt::Debug {
    async fn send(&self, to: &str, text: &str) -> DeliveryOutcome;

    fn describe(&self) -> String;

    /// The same for a visitor of the public trust page: no server paths.
    fn describe_public(&self) -> String {
        self.describe()
    }
}

#[derive(Debug, Clone)]
pub struct HttpSmsSettings {
    /// e.g. `https://api.twilio.com`
    pub base_url: String,
    pub account_sid: String,
    /// Never prints (see `cista_types::Secret`).
    pub auth_token: Secret,
    /// The sending number or service id.
    pub from: String,
    pub timeout: Duration,
}

pub struct HttpSms {
    client: reqwest::Client,
    url: String,
    settings: HttpSmsSettings,
}

impl std::fmt::Debug for HttpSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HttpSms({})", self.url)
    }
}

fn loopback_http(url: &str) -> bool {
    ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| url.starts_with(p))
}

impl HttpSms {
    pub fn new(settings: HttpSmsSettings) -> Result<Self, SetupError> {
        let base = settings.base_url.trim_end_matches('/').to_owned();
        if !base.starts_with("https://") && !loopback_http(&base) {
            return Err(SetupError(format!(
                "sms.http_base_url `{base}` must use https:// (plain http only to this machine)"
            )));
        }
        if settings.account_sid.is_empty() || settings.auth_token.is_empty() {
            return Err(SetupError(
                "sms.account_sid and sms.auth_token are required for the http transport".to_owned(),
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| SetupError(format!("sms HTTP client: {e}")))?;
        Ok(Self {
            client,
            url: format!(
                "{base}/2010-04-01/Accounts/{}/Messages.json",
                settings.account_sid
            ),
            settings,
        })
    }
}

#[async_trait]
impl SmsSender for HttpSms {
    async fn send(&self, to: &str, text: &str) -> DeliveryOutcome {
        let sent = self
            .client
            .post(&self.url)
            .basic_auth(
                &self.settings.account_sid,
                Some(self.settings.auth_token.expose()),
            )
            .form(&[
                ("To", to),
                ("From", self.settings.from.as_str()),
                ("Body", text),
            ])
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => DeliveryOutcome::Delivered,
            Ok(response) => {
                let status = response.status().as_u16();
                if status == 429 || status >= 500 {
                    DeliveryOutcome::Retry(format!("the SMS provider answered {status}"))
                } else {
                    DeliveryOutcome::Abandon(format!(
                        "the SMS provider refused the message ({status})"
                    ))
                }
            }
            Err(e) if e.is_timeout() => {
                DeliveryOutcome::Retry("the SMS provider did not answer in time".to_owned())
            }
            Err(_) => DeliveryOutcome::Retry("could not reach the SMS provider".to_owned()),
        }
    }

    fn describe(&self) -> String {
        format!(
            "HTTP SMS provider {}",
            self.settings.base_url.trim_end_matches('/')
        )
    }
}

/// Writes each SMS to a folder (the demo's local outbox).
#[derive(Debug, Clone)]
pub struct FileSms {
    pub dir: PathBuf,
    pub announce: bool,
}

#[async_trait]
impl SmsSender for FileSms {
    async fn send(&self, to: &str, text: &str) -> DeliveryOutcome {
        let body = format!("To: {to}\nSubject: SMS\n\n{text}");
        let announce = self.announce.then(|| format!("SMS to {to}: {text}"));
        write_to_folder(&self.dir, "sms", &body, None, &[], announce).await
    }

    fn describe(&self) -> String {
        format!(
            "local outbox folder {} (nothing leaves this machine)",
            self.dir.display()
        )
    }

    fn describe_public(&self) -> String {
        "a local outbox folder (nothing leaves this machine)".to_owned()
    }
}
