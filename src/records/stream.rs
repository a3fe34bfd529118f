//! The async bridge: events of several files read on a blocking thread and
//! handed to a [`futures::Stream`].

use std::{
    collections::VecDeque,
    fmt,
    path::{Path, PathBuf},
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

use futures::Stream;
use tokio::sync::mpsc::{Receiver, Sender};

use super::{
    event::ExportedEvent,
    field::JsonTexts,
    reader::{ReadOptions, RecordReader},
    summary::Summary,
};
use crate::{Error, Result};

/// How many events (as chunks) may wait between the reading thread and the stream.
const CHANNEL_CHUNKS: usize = 8;
/// Events sent across the channel at a time.
const CHUNK: usize = 256;

/// An asynchronous stream of the events of several files, read in order on
/// a blocking thread (see [`records_stream`]).
///
/// The stream ends after the first error. [`skipped`](Self::skipped) gives
/// the malformed rows skipped so far in lenient mode (final once the stream
/// has ended).
pub struct RecordStream {
    rx: Receiver<Vec<Result<ExportedEvent>>>,
    buffered: VecDeque<Result<ExportedEvent>>,
    skipped: Arc<AtomicU64>,
    files: u64,
}

impl fmt::Debug for RecordStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordStream")
            .field("buffered", &self.buffered.len())
            .field("skipped", &self.skipped())
            .finish_non_exhaustive()
    }
}

impl RecordStream {
    /// Malformed rows skipped so far, over all files (lenient mode).
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Acquire)
    }

    /// Reads the rest of the stream into a [`Summary`]; the first error ends
    /// it.
    ///
    /// ```no_run
    /// use userpilot_appex::records::{ReadOptions, records_stream_with};
    /// # async fn run() -> userpilot_appex::Result<()> {
    /// let summary = records_stream_with(["a.ndjson", "b.ndjson"], ReadOptions::lenient())
    ///     .summarize()
    ///     .await?;
    /// println!("{} events, {} skipped", summary.total, summary.skipped);
    /// # Ok(()) }
    /// ```
    pub async fn summarize(mut self) -> Result<Summary> {
        use futures::StreamExt;
        let mut summary = Summary::default();
        while let Some(event) = self.next().await {
            summary.add(&event?);
        }
        summary.skipped = self.skipped();
        summary.files = self.files;
        Ok(summary)
    }
}

impl Stream for RecordStream {
    type Item = Result<ExportedEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(item) = self.buffered.pop_front() {
                return Poll::Ready(Some(item));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(chunk)) => self.buffered.extend(chunk),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Streams the events of several files, file after file, each in file
/// order, in strict mode. See [`records_stream_with`].
///
/// ```no_run
/// use futures::StreamExt;
/// use userpilot_appex::records::records_stream;
///
/// # async fn run() -> userpilot_appex::Result<()> {
/// let mut events = records_stream(["part-0.ndjson.gz", "part-1.ndjson.gz"]);
/// while let Some(event) = events.next().await {
///     let event = event?;
///     println!("{:?}", event.event_name);
/// }
/// # Ok(()) }
/// ```
pub fn records_stream<I, P>(paths: I) -> RecordStream
where
    I: IntoIterator<Item = P>,
    P: AsRef<Path>,
{
    records_stream_with(paths, ReadOptions::default())
}

/// Streams the events of several files with options.
///
/// The files are read one after the other on a Tokio blocking thread and
/// handed over through a bounded channel, so memory stays flat and a slow
/// consumer slows the reading down. The stream ends after the first error
/// (which names the file). Dropping the stream stops the reading.
///
/// Must be called from within a Tokio runtime; outside one, the stream
/// yields a single [`Error::NoRuntime`].
///
/// ```no_run
/// use futures::TryStreamExt;
/// use userpilot_appex::records::{ReadOptions, records_stream_with};
///
/// # async fn run() -> userpilot_appex::Result<()> {
/// let mut stream = records_stream_with(["a.csv", "b.csv"], ReadOptions::lenient());
/// let mut n = 0u64;
/// while let Some(_event) = stream.try_next().await? {
///     n += 1;
/// }
/// println!("{n} events, {} bad rows skipped", stream.skipped());
/// # Ok(()) }
/// ```
pub fn records_stream_with<I, P>(paths: I, options: ReadOptions) -> RecordStream
where
    I: IntoIterator<Item = P>,
    P: AsRef<Path>,
{
    let files = Files::new(paths, options);
    let count = files.paths.len() as u64;
    let (rx, skipped) = spawn_reader(
        "records_stream",
        files,
        CHANNEL_CHUNKS,
        |e| vec![Err(e)],
        |files, tx| {
            let mut chunk = Vec::with_capacity(CHUNK);
            files.read(false, |item| {
                let item = item.map(|(event, _)| std::mem::take(event));
                let failed = item.is_err();
                chunk.push(item);
                if failed || chunk.len() == CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                    return tx.blocking_send(full).is_ok() && !failed;
                }
                true
            });
            if !chunk.is_empty() {
                let _ = tx.blocking_send(chunk);
            }
        },
    );
    RecordStream {
        rx,
        buffered: VecDeque::new(),
        skipped,
        files: count,
    }
}

/// The files a stream reads, how, and the malformed rows skipped so far.
pub(crate) struct Files {
    paths: Vec<PathBuf>,
    options: ReadOptions,
    skipped: Arc<AtomicU64>,
}

impl Files {
    pub(crate) fn new<I, P>(paths: I, options: ReadOptions) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        Files {
            paths: paths
                .into_iter()
                .map(|p| p.as_ref().to_path_buf())
                .collect(),
            options,
            skipped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Reads the events of the files, file after file, handing each (or the
    /// error that ends the reading) to `each` until it returns `false`. The
    /// events are read into one [`ExportedEvent`]
    /// ([`RecordReader::read_into`]): `each` takes it if it keeps it. With
    /// `json_text`, the JSON fields of ndjson rows come as their text
    /// ([`JsonTexts`]), not in the event.
    pub(crate) fn read(
        &self,
        json_text: bool,
        mut each: impl FnMut(Result<(&mut ExportedEvent, &JsonTexts)>) -> bool,
    ) {
        let mut event = ExportedEvent::default();
        let mut json = JsonTexts::default();
        let mut skipped_before = 0;
        for path in &self.paths {
            let mut reader = match RecordReader::with_options(path, self.options) {
                Ok(r) => r,
                Err(e) => {
                    each(Err(e));
                    return;
                }
            };
            while let Some(item) = reader.read_row_into(&mut event, json_text.then_some(&mut json))
            {
                self.skipped
                    .store(skipped_before + reader.skipped(), Ordering::Release);
                if !each(item.map(|()| (&mut event, &json))) {
                    return;
                }
            }
            skipped_before += reader.skipped();
            self.skipped.store(skipped_before, Ordering::Release);
        }
    }
}

/// Runs `read` on a Tokio blocking thread with the files and the sending
/// side of a channel of `capacity` items; returns the receiving side and
/// the files' count of skipped rows. Outside a Tokio runtime nothing runs
/// and the channel holds one error, as `wrap` makes it an item.
pub(crate) fn spawn_reader<T, F>(
    operation: &'static str,
    files: Files,
    capacity: usize,
    wrap: fn(Error) -> T,
    read: F,
) -> (Receiver<T>, Arc<AtomicU64>)
where
    T: Send + 'static,
    F: FnOnce(Files, Sender<T>) + Send + 'static,
{
    let skipped = files.skipped.clone();
    let (tx, rx) = tokio::sync::mpsc::channel(capacity);
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn_blocking(move || read(files, tx));
        }
        Err(_) => {
            let _ = tx.try_send(wrap(Error::NoRuntime { operation }));
        }
    }
    (rx, skipped)
}
