//! Invitation messages: to choose a first password with a new membership, or to join another
//! organization (`join`): one template each for text and HTML, the words chosen by `join`.

use super::Rendered;
use askama::Template;
use cista_core::platform::notices::Delivery;

#[derive(Template)]
#[template(path = "invitation.txt")]
struct InvitationText<'a> {
    join: bool,
    first_name: &'a str,
    organization: &'a str,
    role: &'a str,
    link: &'a str,
    expires: &'a str,
}

#[derive(Template)]
#[template(path = "invitation.html")]
struct InvitationHtml<'a> {
    join: bool,
    first_name: &'a str,
    organization: &'a str,
    role: &'a str,
    link: &'a str,
    expires: &'a str,
}

/// An invitation's message: to choose a first password with a new membership, or (`join`)
/// to join another organization.
pub(super) fn render_invitation(
    delivery: &Delivery,
    join: bool,
    organization: &str,
    role: &str,
    link: &str,
    expires_at: cista_types::Timestamp,
) -> Result<Rendered, askama::Error> {
    let first_name = delivery.first_name.as_str();
    let expires = &delivery.time_zone.format(expires_at);
    let subject = if join {
        format!("{organization} invites you to join it on Cista")
    } else {
        format!("You are invited to {organization} on Cista")
    };
    Ok(Rendered {
        subject,
        text: InvitationText {
            join,
            first_name,
            organization,
            role,
            link,
            expires,
        }
        .render()?,
        html: Some(
            InvitationHtml {
                join,
                first_name,
                organization,
                role,
                link,
                expires,
            }
            .render()?,
        ),
        ..Default::default()
    })
}
