//! The trace id of the request a call serves (`X-Amzn-Trace-Id`), carried with the call's
//! task rather than in the process's environment: invocations that overlap in one process
//! (Lambda Managed Instances) each send their own, which AWS's recursion detection reads.

use std::future::Future;
use std::sync::Arc;

tokio::task_local! {
    static TRACE_ID: Arc<str>;
}

/// Runs `future` with `trace_id` as its calls' trace id (none: the SDK's own default).
pub(crate) async fn scope<F: Future>(trace_id: Option<Arc<str>>, future: F) -> F::Output {
    match trace_id {
        Some(trace_id) => TRACE_ID.scope(trace_id, future).await,
        None => future.await,
    }
}

/// The trace id of the call running on this task, if its request has one.
pub(crate) fn current() -> Option<Arc<str>> {
    TRACE_ID.try_with(Arc::clone).ok()
}
