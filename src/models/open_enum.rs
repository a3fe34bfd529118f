//! `open_enum!`: the one way this crate declares an enum of values the
//! server sends. Known wire values become variants; anything else is kept as
//! sent in a fallback arm (`Unknown(String)`, or a name of the caller's
//! choosing), so a new value from Userpilot never breaks a response.

/// Declares an open string enum with its wire form, parsing, `Display`,
/// serde (lenient: numbers read as text) and a JSON Schema.
///
/// Parsing is exact first, then ASCII case-insensitive (`"PAGE_VIEW"` reads
/// as `page_view`); anything else goes to the fallback arm unchanged, so an
/// unknown value serializes back exactly as it was received.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )+
        }
    ) => {
        open_enum! {
            $(#[$meta])*
            $name (Unknown) {
                $( $(#[$vmeta])* $variant = $wire, )+
            }
        }
    };
    (
        $(#[$meta:meta])*
        $name:ident ($fallback:ident) {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this crate does not know, kept as sent.
            $fallback(String),
        }

        impl $name {
            /// Every known value, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::$fallback(s) => s,
                }
            }

            /// `true` for a value this crate does not know.
            pub fn is_unknown(&self) -> bool {
                matches!(self, $name::$fallback(_))
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $wire => return $name::$variant, )+
                    _ => {}
                }
                let trimmed = s.trim();
                $( if trimmed.eq_ignore_ascii_case($wire) { return $name::$variant; } )+
                $name::$fallback(s.to_string())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match $name::from(s.as_str()) {
                    $name::$fallback(_) => $name::$fallback(s),
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
