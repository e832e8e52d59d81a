//! Words that depend on a number: `1 unit`, `2 units`, never `unit(s)`.

use std::fmt::Display;

/// `n` followed by the singular or the plural form: `count(1, "person", "people")` is
/// `1 person`, `count(0, "person", "people")` is `0 people`.
pub fn count<N: Display + PartialEq + From<u8>>(n: N, one: &str, many: &str) -> String {
    format!("{n} {}", noun(n == N::from(1), one, many))
}

/// The singular form when `single`, else the plural: for sentences whose verb agrees too.
pub fn noun<'a>(single: bool, one: &'a str, many: &'a str) -> &'a str {
    if single { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_number_plural() {
        assert_eq!(count(1usize, "unit", "units"), "1 unit");
        assert_eq!(count(0u64, "unit", "units"), "0 units");
        assert_eq!(count(2i64, "person", "people"), "2 people");
        assert_eq!(count(21u32, "seat", "seats"), "21 seats");
    }
}
