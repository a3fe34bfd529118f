//! The dedupe key of an exported event: Userpilot's `internal_event_id`,
//! or a local surrogate computed from the same fields.

use std::{borrow::Cow, hash::Hasher as _};

use twox_hash::XxHash64;

use super::{event::ExportedEvent, field::format_micros};

/// The key that identifies an event for deduplication.
///
/// Userpilot documents `internal_event_id` as a deterministic xxHash64 of
/// (`app_token`, `event_type`, `event_name`, `user_id`, `company_id`,
/// `inserted_at`): the same event exported twice carries the same id. A row
/// without one gets a local surrogate, the xxh64 (seed 0, from the
/// `twox-hash` crate) of those six fields as this crate spells them (the
/// texts as read, `inserted_at` as `2025-01-10T12:34:56.123456Z`, an absent
/// field as the empty string), each followed by the byte `0x1F`, written as
/// 16 lowercase hex digits and marked [`local`](Self::local). A local key is
/// stable across runs of this crate, but it is not Userpilot's id: the same
/// event read once with an id and once without gets two different keys.
///
/// ```
/// use userpilot_appex::records::{DedupeKey, ExportedEvent};
/// let with_id = ExportedEvent { internal_event_id: Some("42".into()), ..Default::default() };
/// assert_eq!(with_id.dedupe_key(), DedupeKey { key: "42".into(), local: false });
///
/// let without = ExportedEvent { user_id: Some("u1".into()), ..Default::default() };
/// let key = without.dedupe_key();
/// assert!(key.local && key.key.len() == 16);
/// assert_eq!(key, without.clone().dedupe_key());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupeKey {
    /// `internal_event_id`, or the local surrogate.
    pub key: String,
    /// `true` when the key is the local surrogate.
    pub local: bool,
}

impl ExportedEvent {
    /// The event's [`DedupeKey`].
    pub fn dedupe_key(&self) -> DedupeKey {
        let (key, local) = self.dedupe_key_text();
        DedupeKey {
            key: key.into_owned(),
            local,
        }
    }

    /// [`dedupe_key`](Self::dedupe_key)'s key (borrowed when it is
    /// `internal_event_id`) and whether it is local.
    pub(crate) fn dedupe_key_text(&self) -> (Cow<'_, str>, bool) {
        if let Some(id) = &self.internal_event_id {
            return (Cow::Borrowed(id), false);
        }
        let mut hasher = XxHash64::with_seed(0);
        let mut part = |s: &str| {
            hasher.write(s.as_bytes());
            hasher.write_u8(0x1f);
        };
        part(self.app_token.as_deref().unwrap_or_default());
        part(self.event_type.as_ref().map_or("", |t| t.as_str()));
        part(self.event_name.as_deref().unwrap_or_default());
        part(self.user_id.as_deref().unwrap_or_default());
        part(self.company_id.as_deref().unwrap_or_default());
        part(
            &self
                .inserted_at
                .as_ref()
                .map(format_micros)
                .unwrap_or_default(),
        );
        (Cow::Owned(format!("{:016x}", hasher.finish())), true)
    }
}
