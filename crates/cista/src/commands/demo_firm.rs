//! The demo's advisory firm (the embedded assessment): **Harbor Advisory**, its advisor (a
//! printed sign-in link), its published "Investment risk profile", and its own web site on
//! two more HTTPS origins of the demo: one the form lists (the widget appears and works) and
//! one it does not (the browser refuses the frame, and Cista refuses a direct call).

use crate::runtime::{Failure, Runtime};
use cista_core::Cista;
use cista_core::platform::access::invitations::Invitee;
use cista_core::products::assessment::RISK_PROFILE;
use cista_http::TlsSettings;
use cista_http::demo_site::FirmSite;
use cista_types::{Email, OrgId, PersonName, Role, WebOrigin};
use std::net::{SocketAddr, TcpListener};

pub const FIRM_NAME: &str = "Harbor Advisory";
pub const FIRM_SLUG: &str = "harbor-advisory";
pub const FORM_KEY: &str = "risk-profile";
const ADVISOR: (&str, &str, &str) = ("Ada", "Brooks", "advisor@harbor-advisory.example");

/// The firm's two sites, bound: the one its form lists and one it does not.
#[derive(Debug)]
pub struct FirmSites {
    pub listed: TcpListener,
    pub unlisted: TcpListener,
}

impl FirmSites {
    /// Binds the two ports after Cista's own (8444 and 8445 beside 8443); a port that is taken
    /// (or Cista's chosen by the system) gives way to one the system chooses. The demo prints
    /// the addresses it got, and the form lists the one the firm's site got.
    pub fn bind(cista: SocketAddr) -> Result<Self, Failure> {
        let next = |by: u16| {
            let wanted = SocketAddr::new(cista.ip(), cista.port().saturating_add(by));
            let any = SocketAddr::new(cista.ip(), 0);
            let bound = if cista.port() == 0 {
                TcpListener::bind(any)
            } else {
                TcpListener::bind(wanted).or_else(|_| TcpListener::bind(any))
            };
            bound.map_err(|e| {
                Failure(format!(
                    "cannot listen on {} for the demo firm's web site: {e}",
                    cista.ip()
                ))
            })
        };
        Ok(Self {
            listed: next(1)?,
            unlisted: next(2)?,
        })
    }

    fn origin(listener: &TcpListener) -> Result<String, Failure> {
        let port = listener
            .local_addr()
            .map_err(|e| Failure(format!("listener: {e}")))?
            .port();
        Ok(format!("https://localhost:{port}"))
    }

    pub fn listed_origin(&self) -> Result<String, Failure> {
        Self::origin(&self.listed)
    }

    pub fn unlisted_origin(&self) -> Result<String, Failure> {
        Self::origin(&self.unlisted)
    }

    /// Serves both sites until `shutdown` says so.
    pub fn spawn(
        self,
        tls: &TlsSettings,
        cista_origin: &str,
        shutdown: &tokio::sync::watch::Receiver<bool>,
    ) {
        for (listener, listed) in [(self.listed, true), (self.unlisted, false)] {
            let site = FirmSite {
                cista_origin: cista_origin.to_owned(),
                form: format!("{FIRM_SLUG}/{FORM_KEY}"),
                listed,
            };
            let tls = tls.clone();
            let mut stop = shutdown.clone();
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                if let Err(e) = cista_http::demo_site::serve(listener, &tls, site, stopped).await {
                    tracing::error!(error = %e, "the demo firm's web site stopped");
                }
            });
        }
    }
}

/// Creates the firm, its advisor and its assessment once (later runs find them; the
/// assessment gets a new version only if the firm's site moved to another port). Returns the
/// lines the demo prints about it.
pub async fn seed(
    rt: &Runtime,
    cista: &Cista,
    listed_origin: &str,
    fresh: &mut super::serve::FreshLinks,
) -> Result<(OrgId, Vec<String>), Failure> {
    let operator = rt.operator();
    let (org, created) = super::serve::demo_organization(
        rt,
        cista,
        (FIRM_NAME, FIRM_SLUG, "America/New_York"),
        None,
    )
    .await?;
    let (first, last, email) = ADVISOR;
    let invitee = Invitee {
        first_name: PersonName::parse(first)?,
        last_name: PersonName::parse(last)?,
        email: Email::parse(email)?,
        phone: None,
        role: Role::Advisor,
    };
    super::serve::invite_once(cista, &operator, org.id, invitee, fresh).await?;
    let mut definition: serde_json::Value = serde_json::from_str(RISK_PROFILE)
        .map_err(|e| Failure(format!("the demo's assessment: {e}")))?;
    let site = WebOrigin::parse(listed_origin)?;
    if let Some(fields) = definition.as_object_mut() {
        fields.insert(
            "embed".to_owned(),
            serde_json::json!({ "allowed_origins": [site.as_str()] }),
        );
    }
    let published = cista
        .publish_assessment(&operator, org.id, FORM_KEY, &definition)
        .await?;
    // Ada is told of each new result, by a link to it (the default way); a user who changed
    // the settings in a later run keeps them.
    if created && let Some(ada) = cista.subject_for_email(&operator, email).await? {
        let settings = cista_core::products::assessment::AssessmentSettings {
            notify: vec![ada],
            ..Default::default()
        };
        cista
            .change_assessment_settings(&operator, org.id, FORM_KEY, settings)
            .await?;
    }
    Ok((
        org.id,
        vec![
            format!(
                "{} organization    {FIRM_NAME} (an advisory firm)",
                if created { "created" } else { "reused " }
            ),
            format!(
                "published assessment  Investment risk profile, version {}, embeddable on {listed_origin} only",
                published.form.version
            ),
        ],
    ))
}

/// The advisor's sign-in line, as the demo prints the others.
pub async fn advisor_link(
    rt: &Runtime,
    cista: &Cista,
    org: OrgId,
    origin: &str,
    fresh: &super::serve::FreshLinks,
) -> Result<Option<String>, Failure> {
    let (_, _, email) = ADVISOR;
    let who = "Ada Brooks, advisor at Harbor Advisory";
    super::serve::sign_in_line(rt, cista, org, origin, fresh, (who, email)).await
}
