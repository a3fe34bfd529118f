//! The validated export request builder.

use chrono::{DateTime, Duration as ChronoDuration, SubsecRound, Utc};

use super::{ConflictPolicy, EventType, ExportTime};
use crate::{
    Client,
    error::{Error, Result},
    ext::jobs::{ExportJobHandle, WaitPolicy},
    generated::types::{ExportFormat, ExportRequest},
};

/// Builds and validates an [`ExportRequest`]; bound to a client (from
/// [`Client::export`]) it also sends it.
///
/// Only what was set is serialized. [`build`](Self::build) and
/// [`send`](ExportRequestBuilder::send) check the request before any
/// request goes out and fail with [`Error::InvalidInput`]: `from` after
/// `to`, an empty user, company or segment id, an email without `@`, an
/// empty event type or exclusions.
///
/// ```
/// use chrono::NaiveDate;
/// use userpilot_appex::{ext::export::ExportRequestBuilder, models::EventType, types::ExportFormat};
///
/// let request = ExportRequestBuilder::new()
///     .from(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap())
///     .to(NaiveDate::from_ymd_opt(2025, 1, 7).unwrap())
///     .event_type(EventType::TrackFeature)
///     .format(ExportFormat::Ndjson)
///     .build()?;
/// assert_eq!(
///     serde_json::to_value(&request).unwrap(),
///     serde_json::json!({"from": "2025-01-01", "to": "2025-01-07",
///                        "event_type": ["track_feature"], "format": "ndjson"})
/// );
///
/// let bad = ExportRequestBuilder::new().email("nobody").build();
/// assert!(matches!(bad, Err(userpilot_appex::Error::InvalidInput(_))));
/// # Ok::<(), userpilot_appex::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ExportRequestBuilder<C = ()> {
    client: C,
    from: Option<ExportTime>,
    to: Option<ExportTime>,
    format: Option<ExportFormat>,
    event_types: Vec<EventType>,
    user_ids: Vec<String>,
    company_ids: Vec<String>,
    segment_id: Option<String>,
    emails: Vec<String>,
    exclusions: Option<String>,
    last_days: Option<u32>,
    conflict: ConflictPolicy,
    wait: WaitPolicy,
}

impl ExportRequestBuilder<()> {
    /// An empty request not bound to a client: finish it with
    /// [`build`](Self::build).
    pub fn new() -> Self {
        Self::default()
    }
}

impl Client {
    /// Starts an export request bound to this client: set filters, then
    /// [`send`](ExportRequestBuilder::send) it to get an [`ExportJobHandle`].
    /// See the [module docs](crate::ext::export) for an example.
    pub fn export(&self) -> ExportRequestBuilder<Client> {
        ExportRequestBuilder {
            client: self.clone(),
            from: None,
            to: None,
            format: None,
            event_types: Vec::new(),
            user_ids: Vec::new(),
            company_ids: Vec::new(),
            segment_id: None,
            emails: Vec::new(),
            exclusions: None,
            last_days: None,
            conflict: ConflictPolicy::default(),
            wait: WaitPolicy::default(),
        }
    }
}

/// For each list field: `one(value)` adds a value, `many(values)` several.
macro_rules! list_setters {
    ($($(#[$doc:meta])* $one:ident, $many:ident;)*) => {
        $(
            $(#[$doc])*
            pub fn $one(mut self, value: impl Into<String>) -> Self {
                self.$many.push(value.into());
                self
            }

            #[doc = concat!("Adds several values at once, as [`", stringify!($one), "`](Self::", stringify!($one), ") does one.")]
            pub fn $many<I, S>(mut self, values: I) -> Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                self.$many.extend(values.into_iter().map(Into::into));
                self
            }
        )*
    };
}

impl<C> ExportRequestBuilder<C> {
    /// Sets the start of the window (a `NaiveDate` or a `DateTime<Utc>`).
    pub fn from(mut self, from: impl Into<ExportTime>) -> Self {
        self.from = Some(from.into());
        self.last_days = None;
        self
    }

    /// Sets the end of the window (a `NaiveDate` or a `DateTime<Utc>`).
    pub fn to(mut self, to: impl Into<ExportTime>) -> Self {
        self.to = Some(to.into());
        self.last_days = None;
        self
    }

    /// Sets both ends of the window.
    pub fn range(self, from: impl Into<ExportTime>, to: impl Into<ExportTime>) -> Self {
        self.from(from).to(to)
    }

    /// The window of the last `days` days up to the moment the request is
    /// built: `from = now - days`, `to = now`, as date-times to the second.
    /// `0` days is rejected by [`build`](Self::build).
    pub fn last_days(mut self, days: u32) -> Self {
        self.from = None;
        self.to = None;
        self.last_days = Some(days);
        self
    }

    crate::macros::setters! {
        /// Sets the file format (server default when unset).
        format(format: ExportFormat) => format = Some(format);
    }

    /// Adds an event type to export (all types when none is added).
    pub fn event_type(mut self, event_type: impl Into<EventType>) -> Self {
        self.event_types.push(event_type.into());
        self
    }

    /// Adds several event types.
    pub fn event_types<I, E>(mut self, event_types: I) -> Self
    where
        I: IntoIterator<Item = E>,
        E: Into<EventType>,
    {
        self.event_types
            .extend(event_types.into_iter().map(Into::into));
        self
    }

    list_setters! {
        /// Adds a user id to export events of.
        user_id, user_ids;
        /// Adds a company id to export events of.
        company_id, company_ids;
        /// Adds an address Userpilot notifies when the export is ready.
        email, emails;
    }

    crate::macros::setters! {
        /// Restricts the export to one segment.
        segment_id(id: impl Into<String>) => segment_id = Some(id.into());

        /// Sets `exclusions` (passed through as is; its meaning is undocumented).
        exclusions(exclusions: impl Into<String>) => exclusions = Some(exclusions.into());
    }

    /// Checks the request and builds it. Nothing is sent.
    pub fn build(&self) -> Result<ExportRequest> {
        self.build_at(Utc::now())
    }

    fn build_at(&self, now: DateTime<Utc>) -> Result<ExportRequest> {
        let (from, to) = match self.last_days {
            Some(0) => return Err(invalid("last_days must be at least 1")),
            Some(days) => {
                let now = now.trunc_subsecs(0);
                (
                    Some(ExportTime::DateTime(
                        now - ChronoDuration::days(i64::from(days)),
                    )),
                    Some(ExportTime::DateTime(now)),
                )
            }
            None => (self.from, self.to),
        };
        if let (Some(from), Some(to)) = (from, to) {
            let reversed = match (from, to) {
                (ExportTime::DateTime(f), ExportTime::DateTime(t)) => f >= t,
                _ => from.earliest() >= to.latest(),
            };
            if reversed {
                return Err(invalid(format!(
                    "`from` ({from}) must be before `to` ({to})"
                )));
            }
        }
        let event_type = self
            .event_types
            .iter()
            .map(|event_type| match event_type {
                EventType::Unknown(s) if s.trim().is_empty() => {
                    Err(invalid("event type `Other` is empty"))
                }
                EventType::Unknown(s) if s.trim() != s => Err(invalid(format!(
                    "event type {s:?} has surrounding whitespace"
                ))),
                known => Ok(known.as_str().to_string()),
            })
            .collect::<Result<Vec<_>>>()?;
        check_ids("user_id", &self.user_ids)?;
        check_ids("company_id", &self.company_ids)?;
        if self
            .segment_id
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            return Err(invalid("segment_id is empty"));
        }
        for email in &self.emails {
            check_email(email)?;
        }
        if self
            .exclusions
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            return Err(invalid("exclusions is empty (leave it unset instead)"));
        }
        Ok(ExportRequest {
            company_id: self.company_ids.clone(),
            emails: self.emails.clone(),
            event_type,
            exclusions: self.exclusions.clone(),
            format: self.format,
            from: from.map(|t| t.to_wire()),
            segment_id: self.segment_id.clone(),
            to: to.map(|t| t.to_wire()),
            user_id: self.user_ids.clone(),
        })
    }
}

impl ExportRequestBuilder<Client> {
    crate::macros::setters! {
        /// Sets what happens if another export is running (default
        /// [`ConflictPolicy::Fail`]).
        conflict_policy(policy: ConflictPolicy) => conflict = policy;

        /// Sets the wait policy of the returned handle, also used to wait for a
        /// running job under [`ConflictPolicy::WaitThenTrigger`].
        wait_policy(policy: WaitPolicy) => wait = policy;
    }

    /// Validates the request, triggers the export and returns a handle on
    /// the job. Nothing is sent if validation fails.
    pub async fn send(self) -> Result<ExportJobHandle> {
        let request = self.build()?;
        self.client
            .trigger_export_with_conflict_policy(&request, &self.conflict, &self.wait)
            .await
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidInput(message.into())
}

fn check_ids(field: &str, ids: &[String]) -> Result<()> {
    for (i, id) in ids.iter().enumerate() {
        if id.trim().is_empty() {
            return Err(invalid(format!("{field} #{} is empty", i + 1)));
        }
    }
    Ok(())
}

fn check_email(email: &str) -> Result<()> {
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(invalid(format!(
            "email {email:?} is not an address (expected local@domain)"
        )))
    }
}
