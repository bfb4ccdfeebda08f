//! Closed choice lists: an enum whose every variant has one text name, used
//! both by the domain (parsing, display, storage) and by the grammar (the
//! `choices` of a parameter come from [`Choice::NAMES`]), so the two cannot
//! disagree.

/// An enum with a closed list of text names.
pub trait Choice: Sized + Copy + 'static {
    /// Every variant, in the order usage lines list them.
    const ALL: &'static [Self];
    /// Every name, in the same order as [`Choice::ALL`].
    const NAMES: &'static [&'static str];
    /// This variant's name.
    fn as_str(self) -> &'static str;
}

/// Defines a [`Choice`] enum with `Display`, `FromStr` (refusing an unknown
/// name with the list of valid ones) and serde as its text name.
#[macro_export]
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl $crate::domain::choice::Choice for $name {
            const ALL: &'static [$name] = $name::ALL;
            const NAMES: &'static [&'static str] = $name::NAMES;
            fn as_str(self) -> &'static str { $name::as_str(self) }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
        impl std::str::FromStr for $name {
            type Err = $crate::domain::DomainError;
            fn from_str(s: &str) -> Result<Self, $crate::domain::DomainError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::domain::DomainError::invalid(format!(
                        concat!("`{}` is not a valid ", $what, ": use one of {}"),
                        other,
                        $name::NAMES.join(", ")
                    ))),
                }
            }
        }
        impl TryFrom<String> for $name {
            type Error = $crate::domain::DomainError;
            fn try_from(s: String) -> Result<Self, $crate::domain::DomainError> { s.parse() }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String { v.as_str().to_string() }
        }
    };
}

/// `N` names: `first` followed by `extra`, at compile time (for a choice
/// list that adds words such as `all` to an enum's names). Fails to compile
/// when `N` is not the sum of the two lengths.
pub const fn names_with<const N: usize>(
    first: &'static [&'static str],
    extra: &'static [&'static str],
) -> [&'static str; N] {
    assert!(first.len() + extra.len() == N, "names_with: wrong length");
    let mut out = [""; N];
    let mut i = 0;
    while i < first.len() {
        out[i] = first[i];
        i += 1;
    }
    let mut j = 0;
    while j < extra.len() {
        out[i + j] = extra[j];
        j += 1;
    }
    out
}
