//! Email senders. SMTP through lettre requires STARTTLS or implicit TLS with a verified
//! certificate, except to a server on this machine (loopback), where plain SMTP is allowed.
//! The file sender writes each message to a folder (the demo's outbox).

use crate::{Rendered, SetupError};
use async_trait::async_trait;
use cista_core::platform::notices::DeliveryOutcome;
use cista_types::Secret;
use lettre::message::{Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

#[async_trait]
pub trait EmailSender: Send + Sync + std::fmt::Debug {
    async fn send(&self, to_address: &str, to_name: &str, message: &Rendered) -> DeliveryOutcome;

    /// What the trust page and the processors list say about this sender.
    fn describe(&self) -> String;

    /// The same for a visitor of the public trust page: no server paths.
    fn describe_public(&self) -> String {
        self.describe()
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// STARTTLS, required (usually port 587).
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
    /// No encryption: only to a server on this machine.
    None,
}

impl SmtpSecurity {
    pub fn parse(text: &str) -> Result<Self, SetupError> {
        match text {
            "starttls" => Ok(Self::Starttls),
            "tls" => Ok(Self::Tls),
            "none" => Ok(Self::None),
            other => Err(SetupError(format!(
                "email.smtp_security `{other}` must be starttls, tls or none"
            ))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    /// Never prints (see `cista_types::Secret`).
    pub password: Option<Secret>,
    /// The sender, e.g. `Palm Court via Cista <no-reply@vote.example.org>`.
    pub from: String,
    /// Extra trusted root certificates (PEM), for a mail server with a private CA.
    pub extra_roots_pem: Option<Vec<u8>>,
    pub timeout: Duration,
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]")
}

pub struct SmtpEmail {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    describe: String,
}

impl std::fmt::Debug for SmtpEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmtpEmail({})", self.describe)
    }
}

impl SmtpEmail {
    pub fn new(settings: &SmtpSettings) -> Result<Self, SetupError> {
        if settings.security == SmtpSecurity::None && !is_loopback(&settings.host) {
            return Err(SetupError(format!(
                "email.smtp_security = \"none\" is allowed only for a mail server on this machine, \
                 not {}; use starttls or tls",
                settings.host
            )));
        }
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| SetupError(format!("email.from `{}`: {e}", settings.from)))?;
        let tls = || -> Result<TlsParameters, SetupError> {
            let mut builder = TlsParameters::builder(settings.host.clone());
            if let Some(pem) = &settings.extra_roots_pem {
                let cert = Certificate::from_pem(pem)
                    .map_err(|e| SetupError(format!("email.smtp_ca_file: {e}")))?;
                builder = builder.add_root_certificate(cert);
            }
            builder
                .build_rustls()
                .map_err(|e| SetupError(format!("email TLS: {e}")))
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .timeout(Some(settings.timeout))
            .tls(match settings.security {
                SmtpSecurity::Starttls => Tls::Required(tls()?),
                SmtpSecurity::Tls => Tls::Wrapper(tls()?),
                SmtpSecurity::None => Tls::None,
            });
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            describe: format!(
                "SMTP {}:{} ({})",
                settings.host,
                settings.port,
                match settings.security {
                    SmtpSecurity::Starttls => "STARTTLS required",
                    SmtpSecurity::Tls => "TLS",
                    SmtpSecurity::None => "plain, loopback only",
                }
            ),
        })
    }
}

/// A text an operator can act on, without the server's reply (which may quote the address).
fn smtp_failure(e: &lettre::transport::smtp::Error) -> DeliveryOutcome {
    let code = e.status().map(|c| c.to_string());
    if e.is_permanent() {
        DeliveryOutcome::Abandon(format!(
            "the mail server refused the message permanently ({})",
            code.unwrap_or_else(|| "5xx".to_owned())
        ))
    } else if e.is_transient() {
        DeliveryOutcome::Retry(format!(
            "the mail server deferred the message ({})",
            code.unwrap_or_else(|| "4xx".to_owned())
        ))
    } else if e.is_timeout() {
        DeliveryOutcome::Retry("the mail server did not answer in time".to_owned())
    } else {
        DeliveryOutcome::Retry("could not reach the mail server or agree on TLS".to_owned())
    }
}

#[async_trait]
impl EmailSender for SmtpEmail {
    async fn send(&self, to_address: &str, to_name: &str, message: &Rendered) -> DeliveryOutcome {
        let Ok(address) = to_address.parse() else {
            return DeliveryOutcome::Abandon(
                "the recipient's address is not deliverable".to_owned(),
            );
        };
        let to = Mailbox::new(Some(to_name.to_owned()), address);
        let mut body = match &message.html {
            Some(html) => MultiPart::alternative_plain_html(message.text.clone(), html.clone()),
            None => MultiPart::mixed().singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(message.text.clone()),
            ),
        };
        if !message.attachments.is_empty() {
            // multipart/mixed: the text (and its HTML twin) first, then each file.
            let mut mixed = MultiPart::mixed().multipart(body);
            for file in &message.attachments {
                let Ok(content_type) = ContentType::parse(&file.content_type) else {
                    return DeliveryOutcome::Abandon(
                        "an attachment's media type is malformed".to_owned(),
                    );
                };
                mixed = mixed.singlepart(
                    lettre::message::Attachment::new(file.file_name.clone())
                        .body(file.bytes.clone(), content_type),
                );
            }
            body = mixed;
        }
        let email = match Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .multipart(body)
        {
            Ok(email) => email,
            Err(_) => return DeliveryOutcome::Abandon("the message could not be built".to_owned()),
        };
        match self.transport.send(email).await {
            Ok(_) => DeliveryOutcome::Delivered,
            Err(e) => smtp_failure(&e),
        }
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

/// Writes each message to a folder instead of sending it (the demo's local outbox), and
/// optionally announces it on standard output.
#[derive(Debug, Clone)]
pub struct FileEmail {
    pub dir: PathBuf,
    pub announce: bool,
}

/// Writes one message to the outbox folder (`.txt`, and `.html` when there is one), and
/// announces it on standard output if asked. Shared by the email and SMS file senders.
pub(crate) async fn write_to_folder(
    dir: &std::path::Path,
    kind: &str,
    text: &str,
    html: Option<&str>,
    attachments: &[crate::render::Attachment],
    announce: Option<String>,
) -> DeliveryOutcome {
    let mut raw = [0u8; 4];
    cista_types::Rng::fill(&cista_types::OsRng, &mut raw);
    let now = cista_types::Clock::now(&cista_types::SystemClock);
    let stem = dir.join(format!(
        "{}-{kind}-{}",
        now.unix_micros(),
        raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ));
    let written = async {
        tokio::fs::create_dir_all(dir).await?;
        tokio::fs::write(stem.with_extension("txt"), text).await?;
        if let Some(html) = html {
            tokio::fs::write(stem.with_extension("html"), html).await?;
        }
        for file in attachments {
            // Beside the message, named after it: `…-email-1a2b3c4d.risk-profile-result-7.pdf`.
            // The name is the core's (no path separators); anything else is replaced.
            let safe: String = file
                .file_name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let mut path = stem.clone().into_os_string();
            path.push(format!(".{safe}"));
            tokio::fs::write(path, &file.bytes).await?;
        }
        Ok::<_, std::io::Error>(())
    }
    .await;
    match written {
        Ok(()) => {
            if let Some(line) = announce {
                #[allow(clippy::print_stdout)] // the demo's outbox is shown to its user
                {
                    println!("outbox: {line}");
                }
            }
            DeliveryOutcome::Delivered
        }
        Err(e) => {
            DeliveryOutcome::Retry(format!("the outbox folder is not writable: {}", e.kind()))
        }
    }
}

#[async_trait]
impl EmailSender for FileEmail {
    async fn send(&self, to_address: &str, to_name: &str, message: &Rendered) -> DeliveryOutcome {
        let text = format!(
            "To: {to_name} <{to_address}>\nSubject: {}\n\n{}",
            message.subject, message.text
        );
        let announce = self
            .announce
            .then(|| format!("email to {to_address}: {}", message.subject));
        write_to_folder(
            &self.dir,
            "email",
            &text,
            message.html.as_deref(),
            &message.attachments,
            announce,
        )
        .await
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
