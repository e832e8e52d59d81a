//! The links between the pages of a long list (`First`, `Previous`, `Page N of M`, `Next`,
//! `Last`), each keeping the list's search; drawn by `templates/pager.html`.

use cista_core::products::voting::directory::Paged;

/// The links to a list's other pages, for a page `list` of it.
pub(crate) struct Pager {
    /// The `aria-label` of the links' `nav`: `Pages of the units list`.
    pub(crate) label: &'static str,
    pub(crate) page: usize,
    pub(crate) count: usize,
    pub(crate) first: Option<String>,
    pub(crate) previous: Option<String>,
    pub(crate) next: Option<String>,
    pub(crate) last: Option<String>,
}

impl Pager {
    /// Links to `path?q=…&page=N#anchor` (no `q` without a search), for the page `list`.
    pub(crate) fn new<T>(
        label: &'static str,
        (path, anchor): (&str, &str),
        q: &str,
        list: &Paged<T>,
    ) -> Self {
        Self::with_parameter(label, ("page", None), (path, anchor), q, list)
    }

    /// Links that name the page in `parameter` (`path?q=…&refused=N#anchor`), for one of two
    /// lists on a page; each link keeps `other`, the other list's parameter and page, past
    /// its first.
    pub(crate) fn with_parameter<T>(
        label: &'static str,
        (parameter, other): (&str, Option<(&str, usize)>),
        (path, anchor): (&str, &str),
        q: &str,
        list: &Paged<T>,
    ) -> Self {
        let (page, count) = (list.page, list.pages);
        let href = |n: usize| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            if !q.is_empty() {
                query.append_pair("q", q);
            }
            if let Some((name, other_page)) = other.filter(|(_, p)| *p > 1) {
                query.append_pair(name, &other_page.to_string());
            }
            query.append_pair(parameter, &n.to_string());
            format!("{path}?{}#{anchor}", query.finish())
        };
        Self {
            label,
            page,
            count,
            first: (page > 1).then(|| href(1)),
            previous: (page > 1).then(|| href(page - 1)),
            next: (page < count).then(|| href(page + 1)),
            last: (page < count).then(|| href(count)),
        }
    }
}

/// The page a request's `page` parameter names: a number from 1, anything else the first
/// (`page_of` clamps a number past the last to the last).
pub(crate) fn requested_page(page: Option<&str>) -> usize {
    page.and_then(|p| p.trim().parse().ok()).unwrap_or(1)
}

/// The most characters a search reads (its field's `maxlength`).
pub(crate) const SEARCH_CHARS: usize = 100;

/// The search a request's `q` parameter asks for: without control characters (a NUL or an
/// escape typed by hand would go back into the page), its first `SEARCH_CHARS` characters,
/// trimmed.
pub(crate) fn requested_search(q: &str) -> String {
    let kept: String = q
        .chars()
        .filter(|c| !c.is_control())
        .take(SEARCH_CHARS)
        .collect();
    kept.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_is_what_a_field_can_hold() {
        assert_eq!(requested_search("  Lee 101 "), "Lee 101");
        assert_eq!(requested_search("ab\u{0}cd\u{1b}"), "abcd");
        assert_eq!(requested_search(&"x".repeat(5000)).len(), SEARCH_CHARS);
        assert_eq!(
            requested_search(&"é".repeat(150)).chars().count(),
            SEARCH_CHARS
        );
    }
    use cista_core::products::voting::directory::Paged;

    #[test]
    fn a_second_lists_links_keep_the_search_and_the_first_lists_page() {
        let list = Paged::numbered(1_000, 2).with_items(Vec::<()>::new());
        let pages = Pager::with_parameter(
            "Pages",
            ("refused", Some(("page", 3))),
            ("/b", "refused"),
            "1 A",
            &list,
        );
        assert_eq!(
            pages.next.as_deref(),
            Some("/b?q=1+A&page=3&refused=3#refused")
        );
        assert_eq!(
            pages.first.as_deref(),
            Some("/b?q=1+A&page=3&refused=1#refused")
        );
        // The other list on its first page is left out; so is an empty search.
        let pages = Pager::with_parameter(
            "Pages",
            ("page", Some(("refused", 1))),
            ("/b", "p"),
            "",
            &list,
        );
        assert_eq!(pages.previous.as_deref(), Some("/b?page=1#p"));
        assert_eq!((pages.page, pages.count), (2, 5));
    }
}
