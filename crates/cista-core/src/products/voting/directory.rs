//! The roster as staff who may read personal data see it: each unit with its owners and the
//! one who votes for it, each person with the units they own (so two namesakes are told
//! apart), and a search by unit label or name. Names are read through `read_people`, so each
//! view is one audited read of personal data.

use super::units::natural_cmp;
use crate::platform::access::staff::PersonRow;
use crate::ports::{Unit, UnitOwner};
use crate::{Actor, Cista, OrgAction, Result};
use cista_types::{OrgId, SubjectCode, UnitId};
use std::collections::{BTreeMap, BTreeSet};

/// An owner of a unit, by name (`None`: erased).
#[derive(Debug, Clone)]
pub struct OwnerName {
    pub subject: SubjectCode,
    pub name: Option<String>,
    pub designated: bool,
}

/// A unit with its owners.
#[derive(Debug, Clone)]
pub struct UnitWithOwners {
    pub unit: Unit,
    pub owners: Vec<OwnerName>,
}

impl UnitWithOwners {
    /// The owner who votes for the unit: the designated voter, or the only owner. `None` when
    /// several owners share it with none designated (then any one of them votes).
    pub fn voter(&self) -> Option<&OwnerName> {
        match self.owners.iter().find(|o| o.designated) {
            Some(designated) => Some(designated),
            None if self.owners.len() == 1 => self.owners.first(),
            None => None,
        }
    }
}

/// A person of the organization with the labels of the units they own (naturally sorted).
#[derive(Debug, Clone)]
pub struct PersonWithUnits {
    pub person: PersonRow,
    pub units: Vec<String>,
}

/// How many rows a page of a long list shows (the units list, the people list).
pub const ROWS_PER_PAGE: usize = 200;

/// One page of a list, `ROWS_PER_PAGE` items a page (`page_of`).
#[derive(Debug, Clone)]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// This page, from 1, and how many there are (at least 1).
    pub page: usize,
    pub pages: usize,
    /// The items the whole list has.
    pub total: usize,
}

impl<T> Paged<T> {
    /// The same page of the same list, holding `items` (what this page's items became).
    pub fn with_items<U>(self, items: Vec<U>) -> Paged<U> {
        Paged {
            items,
            page: self.page,
            pages: self.pages,
            total: self.total,
        }
    }
}

impl Paged<()> {
    /// Which page `page` (from 1; 0 means the first, past the last the last) of a list of
    /// `total` items is, with nothing in it yet: its items start at `first_index()`.
    pub fn numbered(total: usize, page: usize) -> Self {
        let pages = total.div_ceil(ROWS_PER_PAGE).max(1);
        Self {
            items: Vec::new(),
            page: page.clamp(1, pages),
            pages,
            total,
        }
    }

    /// The 0-based position in the whole list of this page's first item.
    pub fn first_index(&self) -> usize {
        (self.page - 1) * ROWS_PER_PAGE
    }
}

/// Page `page` of `items` (from 1; 0 means the first, past the last the last).
pub fn page_of<T>(items: Vec<T>, page: usize) -> Paged<T> {
    let shape = Paged::numbered(items.len(), page);
    let first = shape.first_index();
    let items = items.into_iter().skip(first).take(ROWS_PER_PAGE).collect();
    shape.with_items(items)
}

/// One page of the units list (`Cista::units_with_owners`).
#[derive(Debug, Clone)]
pub struct UnitsPage {
    /// The page's units: of every unit, or of those the search matched.
    pub listed: Paged<UnitWithOwners>,
    /// The organization's units on file, retired ones left out, whatever the search.
    pub active: usize,
}

/// What a search asks for, in a form that compares: composed (NFC, as labels and names are
/// stored), lower case, single spaces; a label's `UnitLabel::key` is this form of it.
pub(crate) fn folded(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    let composed: String = text.nfc().collect();
    composed
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Whether a line with these unit labels and names answers the search `query`: an empty
/// query matches everything; otherwise a unit label or a name must contain it, ignoring
/// case and extra spaces (`101` finds unit 101, `baker` finds Oscar Baker).
pub fn matches_search(query: &str, labels: &[&str], names: &[&str]) -> bool {
    let q = folded(query);
    q.is_empty()
        || labels
            .iter()
            .chain(names.iter())
            .any(|text| folded(text).contains(&q))
}

impl Cista {
    /// Page `page` (from 1; past the last, the last) of the units (retired ones last, labels
    /// in natural order) with their owners' names, those matching `query`. Needs the right to
    /// see people; the names are one audited read. Without a query only the page's owners are
    /// read (an association of 4,300 units made a page of 6 MB, every name decrypted); a
    /// search reads every owner's name, since any of them may match.
    pub async fn units_with_owners(
        &self,
        actor: &Actor,
        org: OrgId,
        query: &str,
        page: usize,
    ) -> Result<UnitsPage> {
        actor.authorize_in(org, OrgAction::ViewPeople)?;
        let mut units = self.store().voting().units(org).await?;
        units.sort_by(|a, b| {
            a.retired_at
                .is_some()
                .cmp(&b.retired_at.is_some())
                .then_with(|| natural_cmp(a.label.as_str(), b.label.as_str()))
        });
        let active = units.iter().filter(|u| u.retired_at.is_none()).count();
        // Without a search the page is cut first, so only its owners' names are read; a
        // search needs every name, and its matches are cut after.
        let searching = !folded(query).is_empty();
        let (units, unpaged) = if searching {
            (units, None)
        } else {
            let mut paged = page_of(units, page);
            (std::mem::take(&mut paged.items), Some(paged))
        };
        let shown: BTreeSet<UnitId> = units.iter().map(|u| u.id).collect();
        let mut links = self.store().voting().unit_owners(org).await?;
        links.retain(|l| shown.contains(&l.unit));
        let names = self.owner_names(actor, org, &links, "units page").await?;
        let mut by_unit: BTreeMap<UnitId, Vec<OwnerName>> = BTreeMap::new();
        for link in &links {
            by_unit.entry(link.unit).or_default().push(OwnerName {
                subject: link.subject,
                name: names.get(&link.subject).cloned().flatten(),
                designated: link.designated,
            });
        }
        let with_owners: Vec<UnitWithOwners> = units
            .into_iter()
            .map(|unit| {
                let mut owners = by_unit.remove(&unit.id).unwrap_or_default();
                owners.sort_by(|a, b| b.designated.cmp(&a.designated).then(a.name.cmp(&b.name)));
                UnitWithOwners { unit, owners }
            })
            .filter(|u| {
                let names: Vec<&str> = u.owners.iter().filter_map(|o| o.name.as_deref()).collect();
                matches_search(query, &[u.unit.label.as_str()], &names)
            })
            .collect();
        let listed = match unpaged {
            Some(paged) => paged.with_items(with_owners),
            None => page_of(with_owners, page),
        };
        Ok(UnitsPage { listed, active })
    }

    /// Page `page` (from 1; past the last, the last) of the organization's people, by role
    /// and last name, with the units each owns, those matching `query` by name or unit label.
    /// Every member's data is one audited read, as in `organization_people`, since the order
    /// and the search need every name; only the page's accounts are read (an association of
    /// 4,300 owners made a page of 11.7 MB).
    pub async fn people_with_units(
        &self,
        actor: &Actor,
        org: OrgId,
        query: &str,
        page: usize,
    ) -> Result<Paged<PersonWithUnits>> {
        let people = self.members_by_name(actor, org).await?;
        let labels: BTreeMap<UnitId, String> = self
            .store()
            .voting()
            .units(org)
            .await?
            .into_iter()
            .filter(|u| u.retired_at.is_none())
            .map(|u| (u.id, u.label.to_string()))
            .collect();
        let mut owned: BTreeMap<SubjectCode, Vec<String>> = BTreeMap::new();
        for link in self.store().voting().unit_owners(org).await? {
            if let Some(label) = labels.get(&link.unit) {
                owned.entry(link.subject).or_default().push(label.clone());
            }
        }
        let found: Vec<_> = people
            .into_iter()
            .map(|(member, fields)| {
                let mut units = owned.remove(&member.subject).unwrap_or_default();
                units.sort_by(|a, b| natural_cmp(a, b));
                units.dedup();
                (member, fields, units)
            })
            .filter(|(_, fields, units)| {
                let name = fields
                    .as_ref()
                    .map(|f| format!("{} {}", f.first_name, f.last_name))
                    .unwrap_or_default();
                let labels: Vec<&str> = units.iter().map(String::as_str).collect();
                matches_search(query, &labels, &[&name])
            })
            .collect();
        let mut paged = page_of(found, page);
        let (members, units): (Vec<_>, Vec<_>) = std::mem::take(&mut paged.items)
            .into_iter()
            .map(|(member, fields, units)| ((member, fields), units))
            .unzip();
        let rows = self.person_rows(members).await?;
        let lines = rows
            .into_iter()
            .zip(units)
            .map(|(person, units)| PersonWithUnits { person, units })
            .collect();
        Ok(paged.with_items(lines))
    }

    /// The names of the owners in `links` who are still members (erased people are not), in
    /// one audited read.
    async fn owner_names(
        &self,
        actor: &Actor,
        org: OrgId,
        links: &[UnitOwner],
        purpose: &str,
    ) -> Result<BTreeMap<SubjectCode, Option<String>>> {
        let members = self.member_subjects(org).await?;
        let subjects: Vec<SubjectCode> = links
            .iter()
            .map(|l| l.subject)
            .filter(|s| members.contains(s))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Ok(self
            .read_people(actor, org, &subjects, purpose)
            .await?
            .into_iter()
            .map(|(s, f)| (s, f.map(|f| format!("{} {}", f.first_name, f.last_name))))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_finds_units_by_label_and_people_by_name() {
        assert!(matches_search("", &["101"], &[]));
        assert!(matches_search("  ", &["101"], &[]));
        assert!(matches_search("101", &["101", "305"], &["Manuel Moreno"]));
        assert!(matches_search("baker", &["204"], &["Oscar Baker"]));
        assert!(matches_search("oscar  BAKER", &[], &["Oscar Baker"]));
        assert!(!matches_search("102", &["101"], &["Oscar Baker"]));
        assert!(!matches_search("smith", &["101"], &["Oscar Baker"]));
    }
}
