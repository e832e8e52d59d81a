//! The demo's field data collection: **River Watch**, a volunteer water-quality project, with
//! its published "Stream survey" (site name, water clarity, temperature, a GPS point, up to
//! three photos, notes), two collectors whose phones sign in with the printed Cista Collect
//! links (valid a week, once each), and 30 records along the Willamette River in Portland, some
//! in each review state. Records are seeded once, when the organization is created; every run
//! prints fresh phone links.

use crate::runtime::{Failure, Runtime};
use cista_core::platform::access::invitations::Invitee;
use cista_core::platform::blobs::{BlobRules, InMemory};
use cista_core::platform::intake::FormProduct;
use cista_core::products::collection::definition::STREAM_SURVEY;
use cista_core::products::collection::devices::MAX_PAIRING_MINUTES;
use cista_core::products::collection::media;
use cista_core::products::collection::webhooks::WebhookEvent;
use cista_core::products::collection::{DeviceRequest, ReviewState};
use cista_core::{Access, Actor, Cista, PersonActor};
use cista_types::{Email, OrgId, PersonName, Role, Secret, SubjectCode};
use std::collections::BTreeMap;

pub const RIVER_NAME: &str = "River Watch";
pub const RIVER_SLUG: &str = "river-watch";
pub const FORM_KEY: &str = "stream-survey";
/// Reviews records and manages the collectors' phones (an administrator: a second factor).
const COORDINATOR: (&str, &str, &str) = ("Robin", "Chen", "coordinator@river-watch.example");
const COLLECTORS: [(&str, &str, &str); 2] = [
    ("Sam", "Rivera", "sam@river-watch.example"),
    ("Lee", "Park", "lee@river-watch.example"),
];

/// Points along the river (latitude, longitude), north to south, that the seeded records
/// sit near.
const RIVER: [(f64, f64); 6] = [
    (45.5290, -122.6700),
    (45.5152, -122.6710),
    (45.5010, -122.6695),
    (45.4870, -122.6660),
    (45.4720, -122.6635),
    (45.4585, -122.6610),
];

const SITES: [&str; 6] = [
    "Steel Bridge west bank",
    "Hawthorne Bridge east bank",
    "Ross Island north tip",
    "Oaks Bottom outfall",
    "Sellwood Bridge east bank",
    "Elk Rock Island",
];

/// Creates River Watch, its coordinator, its collectors and its form once (seeding 30 records
/// the first time), and returns the organization, the lines the demo prints about it (what
/// was set up, and a phone sign-in link for each collector) and the secret of its webhook to
/// the demo's receiver (a new endpoint each start: the receiver keeps no secret across runs).
pub async fn seed(
    rt: &Runtime,
    cista: &Cista,
    origin: &str,
    fresh: &mut super::serve::FreshLinks,
) -> Result<(OrgId, Vec<String>, Secret), Failure> {
    let operator = rt.operator();
    let (org, created) = super::serve::demo_organization(
        rt,
        cista,
        (RIVER_NAME, RIVER_SLUG, "America/Los_Angeles"),
        None,
    )
    .await?;
    let mut collectors = Vec::new();
    let people = std::iter::once((COORDINATOR, Role::Admin))
        .chain(COLLECTORS.into_iter().map(|c| (c, Role::Collector)));
    for ((first, last, email), role) in people {
        let invitee = Invitee {
            first_name: PersonName::parse(first)?,
            last_name: PersonName::parse(last)?,
            email: Email::parse(email)?,
            phone: None,
            role,
        };
        super::serve::invite_once(cista, &operator, org.id, invitee, fresh).await?;
        if role == Role::Collector
            && let Some(subject) = cista.subject_for_email(&operator, email).await?
        {
            collectors.push((format!("{first} {last}"), subject));
        }
    }
    let definition: serde_json::Value = serde_json::from_str(STREAM_SURVEY)
        .map_err(|e| Failure(format!("the demo's record form: {e}")))?;
    let form = cista
        .publish_form(
            &operator,
            org.id,
            FormProduct::Collection,
            FORM_KEY,
            &definition,
        )
        .await?;
    let webhook = demo_webhook(cista, &operator, org.id, origin).await?;
    if created {
        let blobs = super::backup::blob_store(rt)?;
        seed_records(cista, (&blobs, &operator), org.id, form.id, &collectors).await?;
    }
    let mut lines = vec![format!(
        "{} organization    {RIVER_NAME} (field data collection), form Stream survey version {}",
        if created { "created" } else { "reused " },
        form.version
    )];
    for (name, subject) in &collectors {
        let request = DeviceRequest {
            pairing_minutes: MAX_PAIRING_MINUTES,
            ..DeviceRequest::for_collector(*subject)
        };
        let issued = cista.issue_device(&operator, org.id, &request).await?;
        lines.push(format!(
            "{name}'s phone (collector): {origin}/collect/#pair={}",
            issued.code.expose()
        ));
    }
    Ok((org.id, lines, webhook))
}

/// River Watch's webhook to the demo's own receiver, made anew (an earlier run's is removed:
/// its secret died with that run's receiver). Made before the seeded records, so their
/// messages show on the receiver's page the first time.
async fn demo_webhook(
    cista: &Cista,
    operator: &Actor,
    org: OrgId,
    origin: &str,
) -> Result<Secret, Failure> {
    let url = format!("{origin}/demo/webhook-receiver");
    for old in cista.webhooks(operator, org).await? {
        if old.is_live() && old.url.ends_with("/demo/webhook-receiver") {
            cista.remove_webhook(operator, org, old.id).await?;
        }
    }
    let new = cista
        .create_webhook(operator, org, &url, &WebhookEvent::ALL)
        .await?;
    Ok(new.secret)
}

/// The coordinator's sign-in line, as the demo prints the others.
pub async fn coordinator_link(
    rt: &Runtime,
    cista: &Cista,
    org: OrgId,
    origin: &str,
    fresh: &super::serve::FreshLinks,
) -> Result<Option<String>, Failure> {
    let (_, _, email) = COORDINATOR;
    let who = "Robin Chen, coordinator of River Watch";
    super::serve::sign_in_line(rt, cista, org, origin, fresh, (who, email)).await
}

/// 30 records by the two collectors along the river; a third approved, some rejected or
/// needing changes with a reviewer's comment; every third with a generated photo that, as a
/// phone's would, carries a location, a camera serial number and (every other one) a sideways
/// orientation in its metadata: the server strips it and turns the photo upright.
async fn seed_records(
    cista: &Cista,
    (blobs, operator): (&dyn cista_core::ports::BlobStore, &Actor),
    org: OrgId,
    form: cista_types::FormId,
    collectors: &[(String, SubjectCode)],
) -> Result<(), Failure> {
    let clarity = ["clear", "cloudy", "murky"];
    for i in 0..30usize {
        let Some((_, subject)) = collectors.get(i % collectors.len().max(1)) else {
            return Ok(());
        };
        let collector = Actor::Person(PersonActor {
            subject: *subject,
            access: Access::Full,
            roles: BTreeMap::from([(org, Role::Collector)]),
        });
        let at = i % RIVER.len();
        let (lat, lon) = RIVER.get(at).copied().unwrap_or((45.5, -122.67));
        // Spread the points a few dozen metres around the site, the same on every machine.
        let jitter = |k: usize| ((i * 7919 + k * 104_729) % 200) as f64 / 200.0 - 0.5;
        let mut answers = serde_json::json!({
            "site": SITES.get(at).copied().unwrap_or("Riverbank"),
            "clarity": clarity.get(i % 3).copied().unwrap_or("clear"),
            "temperature_c": 8.0 + (i % 9) as f64 * 0.7,
            "where": {
                "latitude": lat + jitter(1) * 0.002,
                "longitude": lon + jitter(2) * 0.002,
                "accuracy_m": 4.0 + (i % 5) as f64 * 3.0
            },
            "notes": if i % 4 == 0 { "Heron on the far bank." } else { "" }
        });
        let photo = (i % 3 == 0)
            .then(|| media::sample_photo(640, 480, if i % 2 == 0 { 1 } else { 6 }, i as u8))
            .transpose()?;
        if photo.is_some()
            && let Some(fields) = answers.as_object_mut()
        {
            fields.insert("photos".to_owned(), serde_json::json!(["p1"]));
        }
        let receipt = cista
            .submit(
                &collector,
                org,
                form,
                &format!("demo-stream-survey-{i:03}"),
                &answers,
            )
            .await?;
        if let Some(bytes) = photo {
            let rules = BlobRules {
                max_bytes: 1 << 24,
                allowed_types: vec!["image/jpeg".to_owned()],
            };
            cista
                .attach(
                    blobs,
                    &collector,
                    org,
                    receipt.submission,
                    "p1",
                    "image/jpeg",
                    &rules,
                    &mut InMemory(Some(bytes)),
                )
                .await?;
        }
        let review = match i % 6 {
            0 | 3 => Some((ReviewState::Approved, "")),
            1 => Some((
                ReviewState::NeedsChanges,
                "The temperature looks high for this site: please measure again on your next visit.",
            )),
            4 => Some((
                ReviewState::Rejected,
                "Taken at the wrong site: the point is on the other bank.",
            )),
            _ => None,
        };
        if let Some((state, comment)) = review {
            cista
                .review_record(operator, org, receipt.submission, state, comment)
                .await?;
        }
    }
    Ok(())
}
