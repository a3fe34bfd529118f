//! `open_enum!`: the one way this crate declares an enum of values the
//! server sends. Known wire values become variants; anything else is kept as
//! sent in its `Unknown(String)` arm, so a new value from Userpilot never
//! breaks a response.

/// Declares an open string enum with its wire form, parsing, `Display`,
/// serde (lenient: numbers read as text) and a JSON Schema.
///
/// Parsing is exact first, then ASCII case-insensitive on the wire value and
/// its aliases (`Completed = "completed" | "done"`; `"PAGE_VIEW"` reads as
/// `page_view`); anything else goes to `Unknown` unchanged, so an unknown
/// value serializes back exactly as it was received.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal $(| $alias:literal)*, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this crate does not know, kept as sent.
            Unknown(String),
        }

        impl $name {
            /// Every known value, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Unknown(s) => s,
                }
            }

            /// `true` for a value this crate does not know.
            pub fn is_unknown(&self) -> bool {
                matches!(self, $name::Unknown(_))
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $wire => return $name::$variant, )+
                    _ => {}
                }
                let trimmed = s.trim();
                $(
                    if trimmed.eq_ignore_ascii_case($wire)
                        $( || trimmed.eq_ignore_ascii_case($alias) )*
                    {
                        return $name::$variant;
                    }
                )+
                $name::Unknown(s.to_string())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match $name::from(s.as_str()) {
                    $name::Unknown(_) => $name::Unknown(s),
                    known => known,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                Ok($name::from($crate::models::lenient::string(d)?))
            }
        }

        impl $crate::models::lenient::Coerce for $name {
            fn from_bool(b: bool) -> Option<Self> {
                <String as $crate::models::lenient::Coerce>::from_bool(b).map($name::from)
            }
            fn from_i64(i: i64) -> Option<Self> {
                <String as $crate::models::lenient::Coerce>::from_i64(i).map($name::from)
            }
            fn from_u64(u: u64) -> Option<Self> {
                <String as $crate::models::lenient::Coerce>::from_u64(u).map($name::from)
            }
            fn from_f64(f: f64) -> Option<Self> {
                <String as $crate::models::lenient::Coerce>::from_f64(f).map($name::from)
            }
            fn from_str(s: &str) -> Option<Self> {
                Some($name::from(s))
            }
        }

        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({
                    "type": "string",
                    "description": concat!(
                        "Open set: the known values are listed in `examples`; others may appear (",
                        stringify!($name), ")."
                    ),
                    "examples": [$($wire),+]
                })
            }
        }
    };
}

pub(crate) use open_enum;
