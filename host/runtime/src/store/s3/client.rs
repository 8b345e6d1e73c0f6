//! Building the SDK client: the standard AWS configuration, the endpoint and credential
//! rules, and the interceptor that sends each request's trace id.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_s3::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_s3::error::BoxError;

use super::S3Settings;

impl S3Settings {
    /// The endpoint in force: the explicit one, else the environment's.
    fn resolved_endpoint(&self) -> Option<String> {
        self.endpoint.clone().or_else(|| {
            ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
                .into_iter()
                .filter_map(|name| std::env::var(name).ok())
                .find(|value| !value.trim().is_empty())
        })
    }
}

/// Loads the configuration the standard way and builds the client; returns it with the
/// overridden endpoint, if any.
pub(super) async fn build_client(settings: S3Settings) -> (Client, Option<String>) {
    let endpoint = settings.resolved_endpoint();
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = settings.region {
        loader = loader.region(Region::new(region));
    }
    if let Some(credentials) = settings.credentials {
        loader = loader.credentials_provider(Credentials::new(
            credentials.access_key_id,
            credentials.secret_access_key,
            None,
            None,
            "s3plug-static",
        ));
    }
    let shared = loader.load().await;
    let mut config = aws_sdk_s3::config::Builder::from(&shared).interceptor(RequestTraceId);
    if let Some(endpoint) = &endpoint {
        let virtual_hosted = std::env::var("S3PLUG_S3_VIRTUAL_HOSTED").is_ok_and(|v| v == "1");
        config = config
            .endpoint_url(endpoint)
            .force_path_style(!virtual_hosted);
    }
    (Client::from_conf(config.build()), endpoint)
}

/// Sends the trace id of the request a call serves ([`crate::trace`]) as `X-Amzn-Trace-Id`,
/// in place of the one the SDK takes from the process's `_X_AMZN_TRACE_ID`, which is only
/// right while one invocation runs at a time.
#[derive(Debug)]
struct RequestTraceId;

impl Intercept for RequestTraceId {
    fn name(&self) -> &'static str {
        "RequestTraceId"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(trace_id) = crate::trace::current() {
            context
                .request_mut()
                .headers_mut()
                .insert("x-amzn-trace-id", trace_id.to_string());
        }
        Ok(())
    }
}
