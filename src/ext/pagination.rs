//! Cursor pagination for the paginated lookups (`segments` and
//! `events_properties`: the `[paged]` rows of the lookup table), as
//! [`futures::Stream`]s.
//!
//! A walk sends the first request without a cursor (or with the cursor given
//! to [`Paginator::start_after`]), then follows each page's
//! `metadata.cursor.after` through the `after_cursor` query parameter. It
//! ends:
//! - normally, on a page whose `after` cursor is `null`, missing or empty, or
//!   on a page with no items;
//! - normally, once a cap ([`Paginator::max_items`], [`Paginator::max_pages`])
//!   is reached; no request is sent past the cap;
//! - with [`Error::RepeatedCursor`] when the server hands out a cursor it
//!   already gave in this walk (a server bug that would otherwise loop
//!   forever): the walk stops at the first repeat, so a looping server costs
//!   at most one request per distinct cursor;
//! - with the request's error (e.g. [`Error::Unauthorized`]) when a page
//!   fails.
//!
//! Every item received before an error is yielded before it; the error is
//! the last element and the stream ends after it (and keeps answering
//! `None` if polled again). Nothing is dropped silently.
//!
//! Walking every event property:
//!
//! ```no_run
//! # async fn run() -> userpilot_appex::Result<()> {
//! use futures::StreamExt;
//! use userpilot_appex::Client;
//!
//! let client = Client::from_env()?;
//! let mut properties = client.events_properties_stream();
//! while let Some(property) = properties.next().await {
//!     let property = property?; // an error ends the walk
//!     let event = property.event.as_ref().and_then(|e| e.display_name.as_deref());
//!     println!("{:?} of {:?}", property.key, event);
//! }
//! # Ok(()) }
//! ```
//!
//! Pages, capped, resuming from a saved cursor:
//!
//! ```no_run
//! # async fn run(saved: String) -> userpilot_appex::Result<()> {
//! use futures::TryStreamExt;
//! use userpilot_appex::Client;
//!
//! let client = Client::from_env()?;
//! let mut pages = client
//!     .events_properties_paginator()
//!     .start_after(saved)
//!     .max_pages(10)
//!     .pages();
//! while let Some(page) = pages.try_next().await? {
//!     println!(
//!         "{} items of {:?}; next cursor {:?}",
//!         page.len(),
//!         page.total_count(),
//!         page.after_cursor()
//!     );
//! }
//! # Ok(()) }
//! ```

use std::collections::HashSet;

use futures::{
    StreamExt,
    future::BoxFuture,
    stream::{self, BoxStream},
};

use crate::{
    Client,
    error::{Error, Result},
    models::{self, Page},
};

/// How many characters of a repeated cursor [`Error::RepeatedCursor`] shows
/// (the excerpt then ends with `…`).
const CURSOR_EXCERPT_CHARS: usize = 32;

/// Fetches one page after a cursor (`None`: the first page).
type FetchPage<T> = fn(Client, Option<String>) -> BoxFuture<'static, Result<Page<T>>>;

/// Walks a cursor-paginated lookup; build one with
/// [`Client::segments_paginator`] or [`Client::events_properties_paginator`],
/// set its options, then turn it into a stream of [`pages`](Self::pages) or
/// of [`items`](Self::items).
///
/// See the [module documentation](self) for how a walk ends.
pub struct Paginator<T> {
    client: Client,
    operation: &'static str,
    fetch: FetchPage<T>,
    start_after: Option<String>,
    max_items: Option<usize>,
    max_pages: Option<usize>,
}

impl<T> Clone for Paginator<T> {
    fn clone(&self) -> Self {
        Paginator {
            client: self.client.clone(),
            operation: self.operation,
            fetch: self.fetch,
            start_after: self.start_after.clone(),
            max_items: self.max_items,
            max_pages: self.max_pages,
        }
    }
}

crate::macros::debug_fields!(Paginator<T> { operation, start_after, max_items, max_pages });

impl<T: Send + 'static> Paginator<T> {
    fn new(client: &Client, operation: &'static str, fetch: FetchPage<T>) -> Self {
        Paginator {
            client: client.clone(),
            operation,
            fetch,
            start_after: None,
            max_items: None,
            max_pages: None,
        }
    }

    /// Starts after this cursor (a page's [`after_cursor`](Page::after_cursor)
    /// saved earlier) instead of at the first page. An empty cursor means the
    /// first page.
    pub fn start_after(mut self, cursor: impl Into<String>) -> Self {
        let cursor = cursor.into();
        self.start_after = (!cursor.trim().is_empty()).then_some(cursor);
        self
    }

    crate::macros::setters! {
        /// Stops after this many items. [`items`](Self::items) yields at most
        /// `n` items; [`pages`](Self::pages) stops requesting once `n` items have
        /// arrived (pages are never cut). No request is sent past the cap.
        max_items(n: usize) => max_items = Some(n);

        /// Stops after this many pages (requests).
        max_pages(n: usize) => max_pages = Some(n);
    }

    /// The operation walked (`segments` or `events_properties`).
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// A stream of pages, in server order. Each page exposes its items,
    /// [`total_count`](Page::total_count), [`limit`](Page::limit) and
    /// [`after_cursor`](Page::after_cursor) (save it to resume later with
    /// [`start_after`](Self::start_after)). An empty page is yielded, then
    /// ends the walk.
    pub fn pages(self) -> BoxStream<'static, Result<Page<T>>> {
        let mut seen = HashSet::new();
        if let Some(start) = &self.start_after {
            seen.insert(start.clone());
        }
        let walk = Walk {
            next_cursor: self.start_after.clone(),
            paginator: self,
            seen,
            pages: 0,
            items: 0,
            state: State::Continue,
        };
        // Fused: polling again after the end keeps answering `None`.
        stream::unfold(walk, Walk::step).fuse().boxed()
    }

    /// A stream of items, in server order, across pages. With
    /// [`max_items`](Self::max_items) it yields at most that many.
    pub fn items(self) -> BoxStream<'static, Result<T>> {
        let cap = self.max_items;
        let items = self
            .pages()
            .flat_map(|page| {
                let (items, error) = match page {
                    Ok(page) => (page.data, None),
                    Err(e) => (Vec::new(), Some(Err(e))),
                };
                stream::iter(items.into_iter().map(Ok).chain(error))
            })
            .boxed();
        match cap {
            // `take` stops polling at the cap, so no further page is requested.
            Some(n) => items.take(n).fuse().boxed(),
            None => items.fuse().boxed(),
        }
    }
}

/// What the walk does on its next poll.
enum State {
    /// Request the next page (unless a cap is reached).
    Continue,
    /// Yield this error, then end.
    Fail(Error),
    /// End.
    Done,
}

struct Walk<T> {
    paginator: Paginator<T>,
    next_cursor: Option<String>,
    seen: HashSet<String>,
    pages: usize,
    items: usize,
    state: State,
}

impl<T: Send + 'static> Walk<T> {
    fn capped(&self) -> bool {
        self.paginator.max_pages.is_some_and(|m| self.pages >= m)
            || self.paginator.max_items.is_some_and(|m| self.items >= m)
    }

    async fn step(mut self) -> Option<(Result<Page<T>>, Self)> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Done => return None,
            State::Fail(error) => return Some((Err(error), self)),
            State::Continue => {}
        }
        if self.capped() {
            return None;
        }
        let fetch = self.paginator.fetch;
        let page = match fetch(self.paginator.client.clone(), self.next_cursor.clone()).await {
            Ok(page) => page,
            // State is Done: the error is the last element.
            Err(error) => return Some((Err(error), self)),
        };
        self.pages += 1;
        self.items += page.data.len();
        self.state = match page.after_cursor() {
            _ if page.is_empty() || self.capped() => State::Done,
            None => State::Done,
            Some(cursor) if !self.seen.insert(cursor.to_string()) => {
                State::Fail(Error::RepeatedCursor {
                    operation: self.paginator.operation,
                    cursor_excerpt: cursor_excerpt(cursor),
                    pages: self.pages,
                })
            }
            Some(cursor) => {
                self.next_cursor = Some(cursor.to_string());
                State::Continue
            }
        };
        Some((Ok(page), self))
    }
}

/// A cursor as [`Error::RepeatedCursor`] shows it: whole when it has at
/// most [`CURSOR_EXCERPT_CHARS`] characters, else its start and `…`, that
/// many characters in all.
fn cursor_excerpt(cursor: &str) -> String {
    if cursor.chars().count() <= CURSOR_EXCERPT_CHARS {
        cursor.to_string()
    } else {
        crate::error::shorten(cursor, CURSOR_EXCERPT_CHARS - 1)
    }
}

/// The paginator and stream methods of each paginated lookup row.
macro_rules! pagination_shims {
    ($(
        $(#[$doc:meta])*
        $variant:ident $op:ident : $model:ident [$($paging:tt)*] [$($names:tt)*];
    )*) => {
        $( pagination_shim!($op $model [$($paging)*]); )*
    };
}

macro_rules! pagination_shim {
    ($op:ident $model:ident [plain]) => {};
    ($op:ident $model:ident [paged $page_model:ident $page:ident $paginator:ident $stream:ident]) => {
        impl Client {
            #[doc = concat!("A [`Paginator`] over `lookups/", stringify!($op), "`.")]
            ///
            /// ```no_run
            /// # async fn run() -> userpilot_appex::Result<()> {
            /// use futures::TryStreamExt;
            ///
            /// let client = userpilot_appex::Client::from_env()?;
            #[doc = concat!("let first_100: Vec<_> = client.", stringify!($paginator), "().max_items(100).items().try_collect().await?;")]
            /// # Ok(()) }
            /// ```
            pub fn $paginator(&self) -> Paginator<models::$model> {
                Paginator::new(self, stringify!($op), |client, after| {
                    Box::pin(async move { client.$page(after.as_deref()).await })
                })
            }

            #[doc = concat!(
                "Every item of `lookups/", stringify!($op),
                "`, page after page, as a stream; shorthand for `self.",
                stringify!($paginator), "().items()`."
            )]
            pub fn $stream(&self) -> BoxStream<'static, Result<models::$model>> {
                self.$paginator().items()
            }
        }
    };
}

models::lookup_table!(pagination_shims);

#[cfg(test)]
mod tests {
    use super::cursor_excerpt;

    #[test]
    fn cursor_excerpt_keeps_short_cursors_and_cuts_long_ones() {
        assert_eq!(cursor_excerpt("abc"), "abc");
        let exact = "y".repeat(32);
        assert_eq!(cursor_excerpt(&exact), exact);
        let long = "x".repeat(40);
        let excerpt = cursor_excerpt(&long);
        assert_eq!(excerpt, format!("{}…", "x".repeat(31)));
        assert_eq!(
            excerpt.chars().count(),
            32,
            "as documented: at most 32 characters"
        );
    }
}
