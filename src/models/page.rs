//! The page of the cursor-paginated lookups: `{data, metadata}` with its
//! cursors, page size and total count; and the macro that declares each
//! paginated lookup's page type (`SegmentPage`) from the lookup table.
//!
//! Decoded like the other lookup models (see [`super::lookups`]): missing or
//! `null` parts read as empty, unknown fields are kept in `extra`. `data`'s
//! items decode straight from the input, one by one, so one odd item names
//! itself (`data[i]`) in the error.

use std::{fmt, marker::PhantomData};

use schemars::JsonSchema;
use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor},
};
use serde_json::{Map, Value};

use super::lenient::{Key, Slot, keep, lenient_model, read_field};

/// The cursors of a page (`metadata.cursor`).
#[derive(Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct PageCursor {
    /// The cursor of the next page; `null` (or empty) on the last page.
    pub after: Option<String>,
    /// The cursor of the previous page.
    pub before: Option<String>,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

lenient_model!(impl PageCursor { after, before });

impl Serialize for PageCursor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = ObjectWriter::new(s, &self.extra)?;
        out.field("after", &self.after, Fill::of(self.after.is_some()))?;
        out.field("before", &self.before, Fill::of(self.before.is_some()))?;
        out.end()
    }
}

/// A page's `metadata`: its cursors, page size and the total count.
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct PageMetadata {
    /// The cursors (`null` or missing reads as no cursor).
    pub cursor: PageCursor,
    /// The page size the server used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// How many items exist in total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

lenient_model!(impl PageMetadata {
    cursor,
    limit,
    total_count,
});

impl Serialize for PageMetadata {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = ObjectWriter::new(s, &self.extra)?;
        out.field(
            "cursor",
            &self.cursor,
            Fill::of(self.cursor != PageCursor::default()),
        )?;
        if let Some(limit) = &self.limit {
            out.field("limit", limit, Fill::Filled)?;
        }
        if let Some(total) = &self.total_count {
            out.field("total_count", total, Fill::Filled)?;
        }
        out.end()
    }
}

/// Cursors that are never absent (empty: no cursor).
impl Slot for PageCursor {
    type Item = PageCursor;
    fn put(&mut self, item: PageCursor) {
        *self = item;
    }
}

/// Metadata that is never absent (empty: no cursor, no counts).
impl Slot for PageMetadata {
    type Item = PageMetadata;
    fn put(&mut self, item: PageMetadata) {
        *self = item;
    }
}

/// One page of a cursor-paginated lookup: `{data: [...], metadata: {...}}`.
///
/// `data: null` reads as an empty page; missing or `null` metadata as no
/// cursor (the last page). To walk every page, see
/// [`Paginator`](crate::ext::pagination::Paginator).
#[derive(Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Page<T> {
    /// The items of this page, in server order.
    pub data: Vec<T>,
    /// The cursors, page size and total count.
    pub metadata: PageMetadata,
    /// Fields this crate does not know, and values that did not fit their
    /// typed field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Page<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Walks the page's object itself so `data`'s items decode straight
        // from the input (not from an intermediate `Value` of the whole
        // page, which cost a second pass over every item).
        d.deserialize_map(PageVisitor(PhantomData))
    }
}

struct PageVisitor<T>(PhantomData<T>);

impl<'de, T: DeserializeOwned> Visitor<'de> for PageVisitor<T> {
    type Value = Page<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object for Page")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Page<T>, A::Error> {
        let mut page = Page {
            data: Vec::new(),
            metadata: PageMetadata::default(),
            extra: Map::new(),
        };
        while let Some(Key(key)) = access.next_key()? {
            match key.as_ref() {
                // A repeated key: the last one wins, as in a JSON object.
                "data" => page.data = access.next_value_seed(PageData(PhantomData))?,
                "metadata" => read_field(&mut access, key, &mut page.metadata, &mut page.extra)?,
                _ => keep(&mut access, key, &mut page.extra)?,
            }
        }
        Ok(page)
    }
}

/// A page's `data`: `null` (no items) or a list whose items are decoded one
/// by one, so one odd item names itself (`data[i]`) in the error instead of
/// failing silently into `extra`.
struct PageData<T>(PhantomData<T>);

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for PageData<T> {
    type Value = Vec<T>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for PageData<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`data` to be a list")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        loop {
            let i = items.len();
            match seq.next_element::<T>() {
                Ok(Some(item)) => items.push(item),
                Ok(None) => return Ok(items),
                Err(e) => return Err(de::Error::custom(format_args!("data[{i}]: {e}"))),
            }
        }
    }
}

impl<T: Serialize> Serialize for Page<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = ObjectWriter::new(s, &self.extra)?;
        out.field("data", &self.data, Fill::of(!self.data.is_empty()))?;
        out.field(
            "metadata",
            &self.metadata,
            Fill::of(self.metadata != PageMetadata::default()),
        )?;
        out.end()
    }
}

/// Whether a typed field holds a value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fill {
    /// It holds one: always written.
    Filled,
    /// It is empty: written unless `extra` keeps a value under its name.
    Empty,
}

impl Fill {
    fn of(filled: bool) -> Fill {
        if filled { Fill::Filled } else { Fill::Empty }
    }
}

/// Writes a model whose typed fields are always written (so `null` cursors
/// show) next to its `extra` map, never naming a key twice: a value that did
/// not fit its typed field is kept in `extra` under the field's own name, and
/// then it is written as sent in place of the empty typed field.
struct ObjectWriter<'a, M> {
    map: M,
    extra: &'a Map<String, Value>,
    written: Vec<&'static str>,
}

impl<'a, M: serde::ser::SerializeMap> ObjectWriter<'a, M> {
    fn new<S: Serializer<SerializeMap = M>>(
        s: S,
        extra: &'a Map<String, Value>,
    ) -> Result<Self, S::Error> {
        Ok(ObjectWriter {
            map: s.serialize_map(None)?,
            extra,
            written: Vec::new(),
        })
    }

    /// Writes a typed field, unless it is [`Fill::Empty`] and `extra` holds a value
    /// under its name.
    fn field<V: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &V,
        fill: Fill,
    ) -> Result<(), M::Error> {
        if fill == Fill::Empty && self.extra.contains_key(key) {
            return Ok(());
        }
        self.written.push(key);
        self.map.serialize_entry(key, value)
    }

    /// Writes `extra` (minus the keys written already) and ends the object.
    fn end(mut self) -> Result<M::Ok, M::Error> {
        for (k, v) in self.extra {
            if !self.written.contains(&k.as_str()) {
                self.map.serialize_entry(k, v)?;
            }
        }
        self.map.end()
    }
}

impl<T> Page<T> {
    /// The cursor of the next page, or `None` on the last page (a `null`,
    /// missing or empty `metadata.cursor.after`).
    pub fn after_cursor(&self) -> Option<&str> {
        self.metadata
            .cursor
            .after
            .as_deref()
            .filter(|c| !c.trim().is_empty())
    }

    /// How many items exist in total, as the server counts them.
    pub fn total_count(&self) -> Option<i64> {
        self.metadata.total_count
    }

    /// The page size the server used.
    pub fn limit(&self) -> Option<i64> {
        self.metadata.limit
    }

    /// `true` when the page holds no items.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The number of items on this page.
    pub fn len(&self) -> usize {
        self.data.len()
    }
}

/// Declares the page type of each paginated row of the lookup table
/// (`SegmentPage = Page<Segment>`); `models` expands it with the table.
macro_rules! declare_page_types {
    ($(
        $(#[$doc:meta])*
        $variant:ident $op:ident : $model:ident [$($paging:tt)*] [$($names:tt)*];
    )*) => {
        $( $crate::models::page::declare_page_type!($op $model [$($paging)*]); )*
    };
}

/// One row's page type: none for a plain lookup.
macro_rules! declare_page_type {
    ($op:ident $model:ident [plain]) => {};
    ($op:ident $model:ident [paged $page_model:ident $($methods:ident)*]) => {
        #[doc = concat!(
                    "A page of [`", stringify!($model), "`] (`lookups/", stringify!($op), "`)."
                )]
        pub type $page_model = $crate::models::Page<$crate::models::$model>;
    };
}

pub(crate) use {declare_page_type, declare_page_types};
