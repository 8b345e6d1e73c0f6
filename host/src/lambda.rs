//! The Lambda front end: `s3plug lambda`, or any start with `AWS_LAMBDA_RUNTIME_API` set.
//!
//! Init loads the config, the store and every plugin once; each invocation decodes its
//! event, runs the pipeline until the invocation's deadline (less [`ANSWER_MARGIN`](crate::deadline::ANSWER_MARGIN)) and
//! answers the way its source needs:
//! SQS gets `batchItemFailures`, asynchronous sources (S3, SNS, EventBridge) get an error
//! typed `Retryable` when a retry may help, and a summary otherwise.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use tracing::Instrument;

use crate::deadline::calls_deadline;
use s3plug_host::config::Config;
use s3plug_host::event::{self, Envelope};
use s3plug_host::pipeline::{Pipeline, Request};
use s3plug_host::report::{Summary, sqs_batch_response};
use s3plug_host::{metrics as telemetry, store};

/// Why an invocation is answered with an error. The type is the `errorType` Lambda records,
/// so destinations and alarms can tell the two apart.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// Some record failed in a way a retry may fix: Lambda should retry the invocation.
    #[error("{0}")]
    Retryable(String),
    /// The payload can never be processed (it is not an S3 event).
    #[error("{0}")]
    NonRetryable(String),
}

impl From<InvocationError> for Diagnostic {
    fn from(err: InvocationError) -> Self {
        let error_type = match err {
            InvocationError::Retryable(_) => "Retryable",
            InvocationError::NonRetryable(_) => "NonRetryable",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: s3plug_host::bounded::cut(
                err.to_string(),
                s3plug_host::bounded::MAX_MESSAGE_BYTES,
            ),
        }
    }
}

/// Where the config is: `S3PLUG_CONFIG`, else `s3plug.toml` in `LAMBDA_TASK_ROOT`.
fn config_path() -> PathBuf {
    if let Some(path) = std::env::var_os("S3PLUG_CONFIG") {
        return PathBuf::from(path);
    }
    let root =
        std::env::var_os("LAMBDA_TASK_ROOT").map_or_else(|| PathBuf::from("."), PathBuf::from);
    root.join("s3plug.toml")
}

/// Everything loaded once, at init.
async fn init() -> anyhow::Result<Pipeline> {
    let path = config_path();
    let config = Config::load(&path)?;
    let store_spec = std::env::var("S3PLUG_STORE").unwrap_or_else(|_| "s3".to_owned());
    let objects = store::open(&store_spec)
        .await
        .with_context(|| format!("cannot open the store {store_spec:?}"))?;
    let pipeline = Pipeline::load(&config, objects).await?;
    let plugins = pipeline.registry().plugins();
    // How each plugin was loaded, in one line and as a metric: a cold start that compiles
    // what it was shipped precompiled costs tens of milliseconds a plugin.
    tracing::info!(
        config = %path.display(),
        store = %store_spec,
        plugins = plugins.len(),
        loaded = %telemetry::load_summary(plugins),
        "init done"
    );
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok();
    telemetry::emit_documents(&telemetry::load_documents(plugins, function.as_deref()));
    Ok(pipeline)
}

/// Runs the function until the Runtime API goes away. Returns the process exit status.
pub fn run(runtime: &tokio::runtime::Runtime) -> anyhow::Result<u8> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        anyhow::bail!(
            "AWS_LAMBDA_RUNTIME_API is not set: `s3plug lambda` runs inside Lambda or a Runtime API emulator"
        )
    };
    let pipeline = match runtime.block_on(init()) {
        Ok(pipeline) => pipeline,
        Err(err) => {
            let message = format!("{err:#}");
            tracing::error!(error = %message, "init failed");
            runtime.block_on(report_init_error(&message));
            return Ok(1);
        }
    };
    runtime
        // Concurrent when Lambda runs several invocations in one environment (Managed
        // Instances, `AWS_LAMBDA_MAX_CONCURRENCY`), sequential otherwise.
        .block_on(lambda_runtime::run_concurrent(service_fn(
            move |event: LambdaEvent<Value>| {
                let pipeline = pipeline.clone();
                async move { handle(pipeline, event).await }
            },
        )))
        .map_err(|err| anyhow::anyhow!("the Lambda runtime stopped: {err}"))?;
    Ok(0)
}

async fn handle(pipeline: Pipeline, event: LambdaEvent<Value>) -> Result<Value, InvocationError> {
    let (payload, context) = event.into_parts();
    let span = tracing::info_span!("invocation", request_id = %context.request_id);
    let decoded = event::decode_value(payload).map_err(|err| {
        tracing::error!(parent: &span, error = %err, "payload refused");
        InvocationError::NonRetryable(err.to_string())
    })?;
    let envelope = decoded.envelope;
    let request = Request {
        id: context.request_id.as_str().into(),
        deadline: calls_deadline(context.deadline),
        trace_id: context.xray_trace_id.as_deref().map(Arc::from),
        observer: None,
    };
    let outcomes = pipeline
        .process_request(&decoded, &request)
        .instrument(span.clone())
        .await;
    let function = (!context.env_config.function_name.is_empty())
        .then_some(context.env_config.function_name.as_str());
    telemetry::emit_metrics(&outcomes, function);
    if envelope == Envelope::Sqs {
        let response = sqs_batch_response(&outcomes);
        let failed = response.batch_item_failures.len();
        tracing::info!(parent: &span, envelope = "sqs", outcomes = outcomes.len(), failed_messages = failed, "invocation done");
        return serde_json::to_value(response)
            .map_err(|err| InvocationError::Retryable(err.to_string()));
    }
    let summary = Summary::of(&outcomes);
    tracing::info!(
        parent: &span,
        envelope = ?envelope,
        records = summary.records,
        ok = summary.ok,
        failed = summary.failed,
        unrouted = summary.unrouted,
        ignored = summary.ignored,
        loop_stopped = summary.loop_stopped,
        "invocation done"
    );
    if summary.has_retryable_failure() {
        let first = summary
            .failures
            .iter()
            .find(|f| f.retryable)
            .map(|f| f.error.as_str())
            .unwrap_or_default();
        return Err(InvocationError::Retryable(format!(
            "{} of {} record-plugin calls failed; first retryable failure: {first}",
            summary.failed,
            outcomes.len()
        )));
    }
    for failure in &summary.failures {
        tracing::error!(parent: &span, record = failure.record, plugin = failure.plugin.as_deref(), error = %failure.error, "record failed for good: not retried");
    }
    serde_json::to_value(summary).map_err(|err| InvocationError::Retryable(err.to_string()))
}

/// Tells the Runtime API that init failed, so the failure shows up as such in Lambda (the
/// process exits right after), through `lambda_runtime`'s own client, which reads
/// `AWS_LAMBDA_RUNTIME_API` in every form it takes (`host:port`, a URL, a URL with a path).
/// Best effort: the log line before it says the same.
async fn report_init_error(message: &str) {
    let sent = async {
        let body = serde_json::to_vec(&Diagnostic {
            error_type: "InitError".to_owned(),
            error_message: s3plug_host::bounded::cut(
                message.to_owned(),
                s3plug_host::bounded::MAX_MESSAGE_BYTES,
            ),
        })?;
        let request = lambda_runtime_api_client::build_request()
            .method(http::Method::POST)
            .uri("/2018-06-01/runtime/init/error")
            .header("lambda-runtime-function-error-type", "InitError")
            .body(lambda_runtime_api_client::body::Body::from(body))?;
        let client = lambda_runtime_api_client::Client::builder().build()?;
        let response = tokio::time::timeout(Duration::from_secs(5), client.call(request))
            .await
            .map_err(|_| anyhow::anyhow!("the Runtime API did not answer in 5 s"))?
            .map_err(|err| anyhow::anyhow!("{err}"))?;
        anyhow::ensure!(
            response.status().is_success(),
            "the Runtime API answered {}",
            response.status()
        );
        anyhow::Ok(())
    };
    if let Err(err) = sent.await {
        tracing::warn!(error = %err, "cannot report the init error to the Runtime API");
    }
}

/// The `lambda_runtime` crate reads the function's name, memory and version from variables
/// that Lambda always sets; a local Runtime API emulator may not. Fill them in before any
/// thread starts.
pub fn provide_runtime_defaults() {
    for (name, value) in [
        ("AWS_LAMBDA_FUNCTION_NAME", "s3plug"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ] {
        if std::env::var_os(name).is_none() {
            set_env(name, value);
        }
    }
}

#[expect(
    unsafe_code,
    reason = "std::env::set_var is unsafe once other threads may read the environment"
)]
fn set_env(name: &str, value: &str) {
    // SAFETY: called from `cli::main` before the engine, the logger or any runtime starts a
    // thread, so no other thread can be reading the environment.
    unsafe { std::env::set_var(name, value) }
}
