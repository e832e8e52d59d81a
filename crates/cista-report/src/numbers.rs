//! Exact figures for print: weights as decimals from millionths, shares as percentages
//! rounded (half up) to two places, computed in integers so no float ever touches a total.

use cista_types::voting::format_weight_sum;

/// A sum of weights held in millionths, as an exact decimal (`23.5`).
pub(crate) fn weight(micros: i64) -> String {
    format_weight_sum(i128::from(micros))
}

/// `part` as a share of `whole`, rounded half up to two decimals (`62.50%`); `n/a` when the
/// whole is zero or either figure is negative.
pub(crate) fn percent(part: i128, whole: i128) -> String {
    if whole <= 0 || part < 0 {
        return "n/a".to_owned();
    }
    // hundredths of a percent = part × 10 000 / whole, rounded half up.
    let Some(scaled) = part.checked_mul(20_000) else {
        return "n/a".to_owned();
    };
    let hundredths = (scaled / whole + 1) / 2;
    format!("{}.{:02}%", hundredths / 100, hundredths % 100)
}

/// Thousands separated by commas (`1,204`), for counts of units and ballots.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_half_up_in_integers() {
        assert_eq!(percent(1, 3), "33.33%");
        assert_eq!(percent(2, 3), "66.67%");
        assert_eq!(percent(1, 8), "12.50%");
        assert_eq!(percent(1, 80_000), "0.00%");
        assert_eq!(percent(1, 20_000), "0.01%");
        assert_eq!(percent(40, 40), "100.00%");
        assert_eq!(percent(0, 40), "0.00%");
        assert_eq!(percent(1, 0), "n/a");
        assert_eq!(percent(-1, 3), "n/a");
    }

    #[test]
    fn weights_print_exactly() {
        assert_eq!(weight(23_500_000), "23.5");
        assert_eq!(weight(1), "0.000001");
        assert_eq!(weight(40_000_000), "40");
    }

    #[test]
    fn counts_group_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_204), "1,204");
        assert_eq!(count(12_345_678), "12,345,678");
    }
}
