//! The open enums of exported events, shared by the export request builder
//! (which filters by event type) and the record readers (which decode them).

use super::open_enum::open_enum;

open_enum! {
    /// The type of an exported event (`event_type`), as sent in an export
    /// request's filter and read back from export files. Open: a value this
    /// crate does not know is kept in [`EventType::Unknown`].
    ///
    /// ```
    /// use userpilot_appex::models::EventType;
    ///
    /// assert_eq!(EventType::from("page_view"), EventType::PageView);
    /// assert_eq!(EventType::from("survey_answer"), EventType::Unknown("survey_answer".into()));
    /// assert_eq!(EventType::TrackFeature.as_str(), "track_feature");
    /// ```
    EventType {
        /// `identify_user`: a user's properties were set.
        IdentifyUser = "identify_user",
        /// `identify_company`: a company's properties were set.
        IdentifyCompany = "identify_company",
        /// `interaction`: a Userpilot experience was seen or used; `event_name`
        /// is `{entity_type}:{entity_id}:{status}`.
        Interaction = "interaction",
        /// `track`: a tracked event; `event_name` is its name.
        Track = "track",
        /// `track_feature`: a feature tagged in Userpilot was used; `event_name`
        /// is the feature id.
        TrackFeature = "track_feature",
        /// `page_view`.
        PageView = "page_view",
        /// `session_start`.
        SessionStart = "session_start",
    }
}

open_enum! {
    /// Where an exported event came from (`source`). Open: a value this crate
    /// does not know is kept in [`EventSource::Unknown`].
    ///
    /// ```
    /// use userpilot_appex::models::EventSource;
    ///
    /// assert_eq!(EventSource::from("web-client"), EventSource::WebClient);
    /// assert_eq!(EventSource::WebClient.as_str(), "web-client");
    /// ```
    EventSource {
        /// `web-client`: the Userpilot JavaScript SDK.
        WebClient = "web-client",
        /// `backend-http`: the HTTP API.
        BackendHttp = "backend-http",
        /// `backend-hubspot`: the HubSpot integration.
        BackendHubspot = "backend-hubspot",
        /// `backend-salesforce`: the Salesforce integration.
        BackendSalesforce = "backend-salesforce",
        /// `backend-segment`: the Segment integration.
        BackendSegment = "backend-segment",
    }
}
