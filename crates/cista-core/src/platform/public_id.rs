//! Public ids: the names staff and clients use for a credential (an app token, a device) to
//! list or revoke it. Not secrets: a random 63-bit number shown as a short prefix and 16
//! hexadecimal digits (`at-0123456789abcdef`), parsed back from exactly that.

/// Declares `$name`, a public id shown as `$prefix` and 16 hexadecimal digits; a text that
/// is not one is `invalid_input` on `$field`, saying what one looks like (`$what`).
macro_rules! public_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $field:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(into = "String")]
        pub struct $name(i64);

        impl $name {
            pub fn from_i64(id: i64) -> Self {
                Self(id)
            }

            pub fn as_i64(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!($prefix, "{:016x}"), self.0.cast_unsigned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.to_string()
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;

            /// Parses the prefix and 16 hexadecimal digits; anything else is `invalid_input`.
            fn from_str(text: &str) -> $crate::Result<Self> {
                text.strip_prefix($prefix)
                    .filter(|hex| hex.len() == 16)
                    .and_then(|hex| u64::from_str_radix(hex, 16).ok())
                    .map(|id| Self(id.cast_signed()))
                    .ok_or_else(|| {
                        $crate::Error::invalid(
                            $field,
                            concat!($what, " looks like ", $prefix, "0123456789abcdef"),
                        )
                    })
            }
        }
    };
}

pub(crate) use public_id;
