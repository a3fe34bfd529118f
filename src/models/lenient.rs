//! The one leniency mechanism of the models: what the server really sends,
//! as opposed to what the spec declares, read into typed fields by one set
//! of coercion rules ([`Coerce`]), and kept as sent when it does not fit.
//!
//! A model declared with `lenient_model!` decodes from a JSON object field
//! by field, straight from the input (no intermediate `serde_json::Value`
//! of the object): a known key is read into its typed field when its value
//! fits the rules below; `null` (or a missing key) leaves the field empty;
//! a value that does not fit stays in the model's `extra` map under its own
//! key, exactly as sent; an unknown key goes to `extra`. A repeated key: the
//! last one wins, as in a JSON object.
//!
//! The coercion rules, one per field type:
//! - text: a string as is, a number or bool as its JSON text; objects and
//!   arrays do not fit;
//! - integer (`i64`): an integral number (a float with no fraction, below
//!   2^53 in magnitude) or a string holding one;
//! - bool: `true`/`false`, the strings `"true"`/`"false"`/`"1"`/`"0"` (any
//!   case), the numbers `1`/`0`;
//! - date-time: a string [`parse_timestamp`](super::timestamp::parse_timestamp) reads;
//! - open enum: text, then the enum's own parsing (unknown values kept in
//!   its `Unknown` arm);
//! - nested model: an object, decoded by the same rules;
//! - list: a list whose every item fits the item's rules (`null` items
//!   dropped); a list with an item that does not fit is kept whole, as sent.

use std::{borrow::Cow, fmt, marker::PhantomData};

use chrono::{DateTime, Utc};
use serde::{
    Deserialize, Deserializer,
    de::{
        self, MapAccess, SeqAccess, Visitor,
        value::{MapAccessDeserializer, SeqAccessDeserializer},
    },
};
use serde_json::{Map, Value};

/// How a value read for a typed field turned out.
pub(crate) enum Fit<T> {
    /// `null`: the field stays empty.
    Null,
    /// The value fits the field.
    Typed(T),
    /// The value does not fit; kept as sent.
    Kept(Value),
}

/// The coercion rules of one field type. Each method answers `None` (or
/// [`Fit::Kept`]) for a value that does not fit.
pub(crate) trait Coerce: Sized {
    /// From a JSON bool.
    fn from_bool(_: bool) -> Option<Self> {
        None
    }
    /// From a JSON integer that fits `i64`.
    fn from_i64(_: i64) -> Option<Self> {
        None
    }
    /// From a JSON integer above `i64::MAX`.
    fn from_u64(_: u64) -> Option<Self> {
        None
    }
    /// From a JSON float.
    fn from_f64(_: f64) -> Option<Self> {
        None
    }
    /// From a JSON string.
    fn from_str(_: &str) -> Option<Self> {
        None
    }
    /// From a JSON object (default: does not fit).
    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Fit<Self>, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(Fit::Kept)
    }
    /// From a JSON array (default: does not fit).
    fn from_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Fit<Self>, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Fit::Kept)
    }
}

impl Coerce for String {
    fn from_bool(b: bool) -> Option<Self> {
        Some(b.to_string())
    }
    fn from_i64(i: i64) -> Option<Self> {
        Some(i.to_string())
    }
    fn from_u64(u: u64) -> Option<Self> {
        Some(u.to_string())
    }
    fn from_f64(f: f64) -> Option<Self> {
        serde_json::Number::from_f64(f).map(|n| n.to_string())
    }
    fn from_str(s: &str) -> Option<Self> {
        Some(s.to_string())
    }
}

/// The largest float magnitude read as an integer (below 2^53: exact).
const MAX_EXACT_FLOAT: f64 = 9.0e15;

impl Coerce for i64 {
    fn from_i64(i: i64) -> Option<Self> {
        Some(i)
    }
    fn from_u64(u: u64) -> Option<Self> {
        i64::try_from(u).ok()
    }
    fn from_f64(f: f64) -> Option<Self> {
        (f.fract() == 0.0 && f.abs() < MAX_EXACT_FLOAT).then_some(f as i64)
    }
    fn from_str(s: &str) -> Option<Self> {
        s.trim().parse().ok()
    }
}

impl Coerce for bool {
    fn from_bool(b: bool) -> Option<Self> {
        Some(b)
    }
    fn from_i64(i: i64) -> Option<Self> {
        match i {
            1 => Some(true),
            0 => Some(false),
            _ => None,
        }
    }
    fn from_u64(u: u64) -> Option<Self> {
        i64::try_from(u).ok().and_then(Self::from_i64)
    }
    fn from_str(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("true") || s == "1" {
            Some(true)
        } else if s.eq_ignore_ascii_case("false") || s == "0" {
            Some(false)
        } else {
            None
        }
    }
}

impl Coerce for DateTime<Utc> {
    fn from_str(s: &str) -> Option<Self> {
        super::timestamp::parse_timestamp(s)
    }
}

impl<T: Coerce> Coerce for Vec<T> {
    fn from_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Fit<Self>, A::Error> {
        // Lists are short (chunks, survey modules, checklist tasks): read the
        // list as sent, so it can be kept whole when an item does not fit.
        let value = Value::deserialize(SeqAccessDeserializer::new(seq))?;
        let mut items = Vec::new();
        for item in value.as_array().into_iter().flatten() {
            match Fit::<T>::deserialize(item) {
                Ok(Fit::Null) => {}
                Ok(Fit::Typed(item)) => items.push(item),
                Ok(Fit::Kept(_)) | Err(_) => return Ok(Fit::Kept(value)),
            }
        }
        Ok(Fit::Typed(items))
    }
}

/// Any JSON value fits (a field whose content the spec leaves open).
impl Coerce for Value {
    fn from_bool(b: bool) -> Option<Self> {
        Some(Value::Bool(b))
    }
    fn from_i64(i: i64) -> Option<Self> {
        Some(Value::from(i))
    }
    fn from_u64(u: u64) -> Option<Self> {
        Some(Value::from(u))
    }
    fn from_f64(f: f64) -> Option<Self> {
        Some(Value::from(f))
    }
    fn from_str(s: &str) -> Option<Self> {
        Some(Value::String(s.to_string()))
    }
    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Fit<Self>, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(Fit::Typed)
    }
    fn from_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Fit<Self>, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Fit::Typed)
    }
}

impl<'de, T: Coerce> Deserialize<'de> for Fit<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FitVisitor(PhantomData))
    }
}

struct FitVisitor<T>(PhantomData<T>);

fn fit<T>(typed: Option<T>, sent: impl FnOnce() -> Value) -> Fit<T> {
    match typed {
        Some(t) => Fit::Typed(t),
        None => Fit::Kept(sent()),
    }
}

impl<'de, T: Coerce> Visitor<'de> for FitVisitor<T> {
    type Value = Fit<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Fit<T>, E> {
        Ok(fit(T::from_bool(b), || Value::Bool(b)))
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Fit<T>, E> {
        Ok(fit(T::from_i64(i), || Value::from(i)))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Fit<T>, E> {
        let typed = match i64::try_from(u) {
            Ok(i) => T::from_i64(i),
            Err(_) => T::from_u64(u),
        };
        Ok(fit(typed, || Value::from(u)))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Fit<T>, E> {
        Ok(fit(T::from_f64(f), || Value::from(f)))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Fit<T>, E> {
        Ok(fit(T::from_str(s), || Value::String(s.to_string())))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Fit<T>, E> {
        Ok(fit(T::from_str(&s), || Value::String(s)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Fit<T>, E> {
        Ok(Fit::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Fit<T>, E> {
        Ok(Fit::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Fit<T>, D::Error> {
        Fit::deserialize(d)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Fit<T>, A::Error> {
        T::from_map(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Fit<T>, A::Error> {
        T::from_seq(seq)
    }
}

/// A typed field of a lenient model: `Option<T>` (empty: `None`), a list
/// (empty: `[]`), or a value that is never absent (empty: its default).
pub(crate) trait Slot: Default {
    /// What the field's value is read as.
    type Item: Coerce;
    /// Stores a value that fits.
    fn put(&mut self, item: Self::Item);
    /// Takes a value that does not fit: by default the field stays empty and
    /// the value is handed back, to be kept in `extra` as sent.
    fn keep(&mut self, sent: Value) -> Option<Value> {
        *self = Self::default();
        Some(sent)
    }
}

impl<T: Coerce> Slot for Option<T> {
    type Item = T;
    fn put(&mut self, item: T) {
        *self = Some(item);
    }
}

impl<T: Coerce> Slot for Vec<T> {
    type Item = Vec<T>;
    fn put(&mut self, item: Vec<T>) {
        *self = item;
    }
}

/// Text that is never absent (empty: `""`); a value that does not fit is
/// read as its compact JSON (so the field, always written, never clashes
/// with a kept value).
impl Slot for String {
    type Item = String;
    fn put(&mut self, item: String) {
        *self = item;
    }
    fn keep(&mut self, sent: Value) -> Option<Value> {
        *self = sent.to_string();
        None
    }
}

/// An object key, borrowed from the input when it can be.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// Reads the value of a known key into its typed field: see the module
/// documentation for what happens to `null` and to a value that does not fit.
pub(crate) fn read_field<'de, A: MapAccess<'de>, S: Slot>(
    map: &mut A,
    key: Cow<'de, str>,
    slot: &mut S,
    extra: &mut Map<String, Value>,
) -> Result<(), A::Error> {
    match map.next_value::<Fit<S::Item>>()? {
        Fit::Null => {
            *slot = S::default();
            extra.remove(key.as_ref());
        }
        Fit::Typed(item) => {
            slot.put(item);
            extra.remove(key.as_ref());
        }
        Fit::Kept(value) => match slot.keep(value) {
            Some(value) => {
                extra.insert(key.into_owned(), value);
            }
            None => {
                extra.remove(key.as_ref());
            }
        },
    }
    Ok(())
}

/// Reads a list that must be a list (`null`: empty): anything else fails
/// the whole model, for a field whose loss would change its meaning (a
/// completed job's files, an error answer's errors).
pub(crate) fn read_list<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    key: Cow<'de, str>,
    slot: &mut Vec<T>,
    extra: &mut Map<String, Value>,
) -> Result<(), A::Error> {
    *slot = map.next_value::<Option<Vec<T>>>()?.unwrap_or_default();
    extra.remove(key.as_ref());
    Ok(())
}

/// Reads the value of an unknown key into `extra`, as sent.
pub(crate) fn keep<'de, A: MapAccess<'de>>(
    map: &mut A,
    key: Cow<'de, str>,
    extra: &mut Map<String, Value>,
) -> Result<(), A::Error> {
    let value: Value = map.next_value()?;
    extra.insert(key.into_owned(), value);
    Ok(())
}

/// Declares a lenient model, or implements the decoding of one.
///
/// The struct form declares the model with its derives (`Clone`, `Debug`,
/// `Default`, `PartialEq`, `Serialize`, `JsonSchema`), a `pub` field per
/// line, serialized only when present (see [`is_absent`]), and the `extra`
/// map, then implements its decoding:
///
/// ```text
/// lenient_model! {
///     /// A thing.
///     pub struct Thing {
///         /// Its id.
///         id: Option<i64>,
///         /// Its kind, sent as `type`.
///         kind: Option<ThingKind> = "type",
///         /// Parts that must be a list (see `read_list`).
///         parts: Vec<Part> as list,
///     }
/// }
/// ```
///
/// The `impl` form, `lenient_model!(impl Model { field, other = "wire", ... })`,
/// implements only the decoding, for a model declared by hand (one with
/// required fields or its own `Serialize`); it needs an
/// `extra: Map<String, Value>` field.
///
/// Decoding implements `Deserialize` (and [`Coerce`], so a model can nest)
/// by the rules of this module. A field's wire key is its name unless
/// `= "key"` says otherwise.
macro_rules! lenient_model {
    (
        $(#[$meta:meta])*
        pub struct $ty:ident {
            $(
                $(#[$field_meta:meta])*
                $field:ident: $field_ty:ty $(= $wire:literal)? $(as $mode:ident)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, ::serde::Serialize, ::schemars::JsonSchema)]
        pub struct $ty {
            $(
                $(#[$field_meta])*
                $(#[serde(rename = $wire)])?
                #[serde(skip_serializing_if = "crate::models::lenient::is_absent")]
                pub $field: $field_ty,
            )*
            /// Fields this crate does not know, and values that did not fit
            /// their typed field, kept as sent.
            #[serde(flatten)]
            pub extra: ::serde_json::Map<::std::string::String, ::serde_json::Value>,
        }

        $crate::models::lenient::lenient_model!(impl $ty { $($field $(= $wire)? $(as $mode)?),* });
    };
    (impl $ty:ident { $($field:ident $(= $wire:literal)? $(as $mode:ident)?),* $(,)? }) => {
        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                struct ModelVisitor;
                impl<'de> ::serde::de::Visitor<'de> for ModelVisitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("a JSON object for ", stringify!($ty)))
                    }
                    fn visit_map<A: ::serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> ::std::result::Result<$ty, A::Error> {
                        use $crate::models::lenient::{Key, keep};
                        let mut out = <$ty>::default();
                        while let Some(Key(key)) = map.next_key()? {
                            match key.as_ref() {
                                $( $crate::models::lenient::wire_key!($field $(, $wire)?) => $crate::models::lenient::lenient_field!(
                                    $($mode)? (&mut map, key, &mut out.$field, &mut out.extra)
                                )?, )*
                                _ => keep(&mut map, key, &mut out.extra)?,
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(ModelVisitor)
            }
        }

        impl $crate::models::lenient::Coerce for $ty {
            fn from_map<'de, A: ::serde::de::MapAccess<'de>>(
                map: A,
            ) -> ::std::result::Result<$crate::models::lenient::Fit<Self>, A::Error> {
                <$ty as ::serde::Deserialize>::deserialize(
                    ::serde::de::value::MapAccessDeserializer::new(map),
                )
                .map($crate::models::lenient::Fit::Typed)
            }
        }
    };
}

pub(crate) use lenient_model;

/// The reader of one field of `lenient_model!`: by the coercion rules, or
/// `list` for [`read_list`].
macro_rules! lenient_field {
    (($($args:expr),*)) => {
        $crate::models::lenient::read_field($($args),*)
    };
    (list ($($args:expr),*)) => {
        $crate::models::lenient::read_list($($args),*)
    };
}

pub(crate) use lenient_field;

/// The wire key of one field of `lenient_model!`: the one given, else the
/// field's name.
macro_rules! wire_key {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $wire:literal) => {
        $wire
    };
}

pub(crate) use wire_key;

/// Whether a model's field is left out when it is serialized: an empty
/// `Option` or list (the struct form of `lenient_model!` puts this on every
/// field).
pub(crate) fn is_absent<T: Absent>(value: &T) -> bool {
    value.is_absent()
}

/// A field type that can be absent; see [`is_absent`].
pub(crate) trait Absent {
    /// `true` when there is nothing to serialize.
    fn is_absent(&self) -> bool;
}

impl<T> Absent for Option<T> {
    fn is_absent(&self) -> bool {
        self.is_none()
    }
}

impl<T> Absent for Vec<T> {
    fn is_absent(&self) -> bool {
        self.is_empty()
    }
}

/// Reads text by the same rules, for a type's own `Deserialize` (open
/// enums, secret URLs): `null` as `""`, an object or array as its compact
/// JSON (such a type has no `extra` to keep it in).
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Fit::<String>::deserialize(d)? {
        Fit::Null => String::new(),
        Fit::Typed(s) => s,
        Fit::Kept(v) => v.to_string(),
    })
}
