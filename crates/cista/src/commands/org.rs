//! `cista org create` and `cista org invite-owner`: an organization and its first owner's
//! invitation, or another owner's, from the command line of a running or stopped instance (the database is shared; the running server's worker, or
//! the next start, sends the email).

use crate::cli::{OrgCreateArgs, OrgInviteOwnerArgs};
use crate::runtime::{Failure, Runtime};
use cista_core::platform::access::invitations::{Invited, Invitee};
use cista_types::{Email, OrgName, OrgSlug, PersonName, Phone, PhoneRegion, Role, TimeZoneName};

/// A slug made from a name: lower case, runs of other characters become one hyphen.
pub fn slug_from(name: &str) -> String {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let trimmed: String = slug.trim_end_matches('-').chars().take(40).collect();
    trimmed.trim_end_matches('-').to_owned()
}

fn parsed<T>(what: &str, r: Result<T, cista_types::ParseError>) -> Result<T, Failure> {
    r.map_err(|e| Failure(format!("{what}: the {} {}", e.what, e.message)))
}

pub async fn create(rt: &Runtime, args: &OrgCreateArgs) -> Result<(), Failure> {
    // Everything is parsed before anything is written.
    let name = parsed("--name", OrgName::parse(&args.name))?;
    let slug_text = args.slug.clone().unwrap_or_else(|| slug_from(&args.name));
    let slug = parsed("--slug", OrgSlug::parse(&slug_text))?;
    let time_zone = parsed("--time-zone", TimeZoneName::parse(&args.time_zone))?;
    let phone_region = match &args.phone_region {
        Some(r) => Some(parsed("--phone-region", PhoneRegion::parse(r))?),
        None => None,
    };
    let owner = Invitee {
        first_name: parsed(
            "--owner-first-name",
            PersonName::parse(&args.owner_first_name),
        )?,
        last_name: parsed(
            "--owner-last-name",
            PersonName::parse(&args.owner_last_name),
        )?,
        email: parsed("--owner-email", Email::parse(&args.owner_email))?,
        phone: match &args.owner_phone {
            Some(p) => Some(parsed("--owner-phone", Phone::parse(p, phone_region))?),
            None => None,
        },
        role: Role::Owner,
    };
    let cista = rt.open(true).await?;
    let operator = rt.operator();
    let org = cista
        .create_organization_with(&operator, name, slug, time_zone, phone_region)
        .await?;
    let invited = cista.invite(&operator, org.id, owner).await?;
    println!(
        "created organization  {} ({}, time zone {})",
        org.name, org.slug, org.time_zone
    );
    print_invited_owner(rt, &invited);
    Ok(())
}

/// `cista org invite-owner`: an owner invited to an organization that exists.
pub async fn invite_owner(rt: &Runtime, args: &OrgInviteOwnerArgs) -> Result<(), Failure> {
    let slug = parsed("--org", OrgSlug::parse(&args.org))?;
    let cista = rt.open(true).await?;
    let org = cista
        .store()
        .organization_by_slug(&slug)
        .await?
        .ok_or_else(|| Failure(format!("--org: there is no organization {slug}")))?;
    let owner = Invitee {
        first_name: parsed("--first-name", PersonName::parse(&args.first_name))?,
        last_name: parsed("--last-name", PersonName::parse(&args.last_name))?,
        email: parsed("--email", Email::parse(&args.email))?,
        phone: match &args.phone {
            Some(p) => Some(parsed("--phone", Phone::parse(p, org.phone_region))?),
            None => None,
        },
        role: Role::Owner,
    };
    let invited = cista.invite(&rt.operator(), org.id, owner).await?;
    println!("organization          {} ({})", org.name, org.slug);
    print_invited_owner(rt, &invited);
    Ok(())
}

/// The invited owner's subject code and one-time link, as `org create` and `org invite-owner`
/// print them.
fn print_invited_owner(rt: &Runtime, invited: &Invited) {
    println!("invited owner         subject {}", invited.subject);
    if let Some(link) = &invited.link {
        println!();
        if invited.new_person {
            println!(
                "The owner's one-time link (also sent by email; it works once, for {} hours):",
                rt.config.access.invite_ttl_hours
            );
        } else {
            // Someone this server already knows becomes the owner only when they accept.
            println!(
                "This server already knows the owner: they become the owner once they accept \
                 the invitation to join, by this one-time link (also sent by email; it works \
                 once, for {} hours):",
                rt.config.access.invite_ttl_hours
            );
        }
        println!("{link}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_made_from_names() {
        assert_eq!(
            slug_from("Palm Court Condominium Association"),
            "palm-court-condominium-association"
        );
        assert_eq!(slug_from("  Bayside H.O.A. #2 "), "bayside-h-o-a-2");
        assert!(slug_from(&"x".repeat(80)).len() <= 40);
        assert!(OrgSlug::parse(&slug_from("Élan -- Towers!")).is_ok());
    }
}
