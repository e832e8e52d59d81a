//! Values and small helpers every test crate uses alike: the test password, people to invite,
//! a link's token, a page's CSRF token, a free local port, a small roster.

use cista_core::platform::access::invitations::Invitee;
use cista_types::{Email, PersonName, Phone, Role};

/// The password test people set: long and unusual enough for the password rules.
pub const PASSWORD: &str = "orbit-mango-cellar-91";

/// Someone to invite. Panics on a name, email or phone (E.164, `+…`) the types refuse.
pub fn invitee(first: &str, last: &str, email: &str, phone: Option<&str>, role: Role) -> Invitee {
    Invitee {
        first_name: PersonName::parse(first).unwrap(),
        last_name: PersonName::parse(last).unwrap(),
        email: Email::parse(email).unwrap(),
        phone: phone.map(|p| Phone::parse(p, None).unwrap()),
        role,
    }
}

/// The one-time token at the end of an emailed link (`https://…/invitation/TOKEN`).
pub fn token_of(link: &str) -> &str {
    link.rsplit('/').next().unwrap_or(link)
}

/// The CSRF token in a page's forms (the value of the hidden `csrf` field).
pub fn csrf_in(html: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = html
        .find(marker)
        .expect("the page has a form with a CSRF token")
        + marker.len();
    html.get(start..)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for a server process to bind).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// The id of Palm Court, the organization every test server and instance starts with.
pub async fn palm_court_id(cista: &cista_core::Cista) -> cista_types::OrgId {
    cista
        .store()
        .organization_by_slug(&cista_types::OrgSlug::parse("palm-court").expect("a valid slug"))
        .await
        .expect("the store answers")
        .expect("every test instance has Palm Court")
        .id
}

/// A small valid record form of field data collection titled `title`: a depth, notes and a
/// site name, none required.
pub fn record_form(title: &str) -> serde_json::Value {
    serde_json::json!({
        "title": title,
        "fields": [
            { "id": "depth_m", "label": "Depth (m)", "kind": "number", "min": 0, "max": 1000 },
            { "id": "notes", "label": "Notes", "kind": "text", "max_length": 100000 },
            { "id": "site", "label": "Site", "kind": "text" },
            { "id": "where", "label": "Where", "kind": "geopoint" },
            { "id": "photos", "label": "Photos", "kind": "photos", "max": 10 }
        ]
    })
}

/// Publishes the demo's risk profile as `org`'s assessment `key`, embeddable on `site` only;
/// returns the version's id.
pub async fn publish_risk_profile(
    cista: &cista_core::Cista,
    org: cista_types::OrgId,
    key: &str,
    site: &str,
) -> cista_types::FormId {
    use cista_core::products::assessment::RISK_PROFILE;
    let mut definition: serde_json::Value = serde_json::from_str(RISK_PROFILE).unwrap();
    definition.as_object_mut().unwrap().insert(
        "embed".to_owned(),
        serde_json::json!({ "allowed_origins": [site] }),
    );
    cista
        .publish_assessment(&cista_core::Actor::operator("test"), org, key, &definition)
        .await
        .unwrap()
        .form
        .id
}

/// Zebediah Quillfeather (`zeb@client.example`) sends `form` from `site` with a fresh load
/// token, answering for the band Growth; returns the result's id.
pub async fn submit_risk_profile(
    cista: &cista_core::Cista,
    org: cista_types::OrgId,
    form: cista_types::FormId,
    site: &str,
) -> cista_types::SubmissionId {
    use cista_core::products::assessment::{ClientDetails, SentFrom, WidgetSubmission};
    let token = cista
        .issue_load_token(org, form, &cista_types::WebOrigin::parse(site).unwrap())
        .unwrap()
        .token;
    let answers = serde_json::json!({
        "horizon": "over_7", "income": "steady", "reserve": "over_3", "age": 45,
        "drop": "hold", "experience": "some", "goals": ["growth", "income"], "comfort": 7
    });
    cista
        .submit_assessment(WidgetSubmission {
            org,
            form,
            sent_from: SentFrom::Page(Some(site)),
            load_token: &token,
            client: ClientDetails {
                first_name: "Zebediah".to_owned(),
                last_name: "Quillfeather".to_owned(),
                email: "zeb@client.example".to_owned(),
                consent: true,
                email_copy: false,
            },
            answers: &answers,
        })
        .await
        .unwrap()
        .receipt
        .submission
}

/// One file of a ZIP archive, read back: its name, whether it was stored (not compressed),
/// and its bytes (CRC checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unzipped {
    pub name: String,
    pub stored: bool,
    pub bytes: Vec<u8>,
}

/// Every file of the ZIP archive `zip`, in order, read through its central directory.
// async_zip 0.0.19 marks its readers deprecated in favour of a `read1` module it does not
// ship yet; they are its only readers.
#[allow(deprecated)]
pub async fn unzip(zip: Vec<u8>) -> Vec<Unzipped> {
    let reader = async_zip::base::read::mem::ZipFileReader::new(zip)
        .await
        .unwrap();
    let mut files = Vec::new();
    for (i, entry) in reader.file().entries().iter().enumerate() {
        let mut bytes = Vec::new();
        reader
            .reader_with_entry(i)
            .await
            .unwrap()
            .read_to_end_checked(&mut bytes)
            .await
            .unwrap();
        files.push(Unzipped {
            name: entry.filename().as_str().unwrap().to_owned(),
            stored: entry.compression() == async_zip::Compression::Stored,
            bytes,
        });
    }
    files
}
