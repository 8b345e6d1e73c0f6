//! Amazon SNS: S3 publishes each notification to a topic as one message (subject
//! `Amazon S3 Notification`, the notification as a JSON string in `Message`). Lambda gets it
//! as an SNS event; an SQS queue subscribed without raw delivery gets SNS's own JSON as the
//! body.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::ids::Ids;
use super::record::ACCOUNT;

/// The topic's name.
const TOPIC: &str = "s3plug-events";
const SUBJECT: &str = "Amazon S3 Notification";

/// A topic with one subscription (the Lambda function or the queue).
#[derive(Debug, Clone)]
pub(crate) struct Topic {
    arn: String,
    subscription_arn: String,
    /// Where SNS's signing certificate is: `https://sns.<region>.amazonaws.com/...pem`.
    cert_url: String,
    unsubscribe_url: String,
}

/// One message published to the topic.
#[derive(Debug, Clone)]
struct Published<'a> {
    message_id: String,
    message: &'a str,
    timestamp: String,
    signature: String,
}

impl Topic {
    pub(crate) fn new(region: &str, ids: &mut Ids) -> Self {
        let arn = format!("arn:aws:sns:{region}:{ACCOUNT}:{TOPIC}");
        let subscription_arn = format!("{arn}:{}", ids.uuid());
        Self {
            cert_url: format!(
                "https://sns.{region}.amazonaws.com/SimpleNotificationService-{}.pem",
                ids.hex_upper(32).to_ascii_lowercase()
            ),
            unsubscribe_url: format!(
                "https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"
            ),
            arn,
            subscription_arn,
        }
    }

    fn publish<'a>(&self, message: &'a str, at: DateTime<Utc>, ids: &mut Ids) -> Published<'a> {
        Published {
            message_id: ids.uuid(),
            message,
            timestamp: at.to_rfc3339_opts(SecondsFormat::Millis, true),
            // SignatureVersion 1: an RSA-2048 signature, 256 bytes.
            signature: ids.base64(256),
        }
    }

    /// One record of the SNS event Lambda receives (`SigningCertUrl`, `UnsubscribeUrl`).
    pub(crate) fn lambda_record(&self, message: &str, at: DateTime<Utc>, ids: &mut Ids) -> Value {
        let published = self.publish(message, at, ids);
        json!({
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": self.subscription_arn,
            "Sns": {
                "Type": "Notification",
                "MessageId": published.message_id,
                "TopicArn": self.arn,
                "Subject": SUBJECT,
                "Message": published.message,
                "Timestamp": published.timestamp,
                "SignatureVersion": "1",
                "Signature": published.signature,
                "SigningCertUrl": self.cert_url,
                "UnsubscribeUrl": self.unsubscribe_url,
                "MessageAttributes": {},
            }
        })
    }

    /// The body SNS puts in a subscribed queue without raw delivery: its own JSON layout,
    /// `"Name" : "value"` one per line, with `SigningCertURL` and `UnsubscribeURL`.
    pub(crate) fn sqs_body(&self, message: &str, at: DateTime<Utc>, ids: &mut Ids) -> String {
        let published = self.publish(message, at, ids);
        let fields = [
            ("Type", "Notification"),
            ("MessageId", &published.message_id),
            ("TopicArn", &self.arn),
            ("Subject", SUBJECT),
            ("Message", published.message),
            ("Timestamp", &published.timestamp),
            ("SignatureVersion", "1"),
            ("Signature", &published.signature),
            ("SigningCertURL", &self.cert_url),
            ("UnsubscribeURL", &self.unsubscribe_url),
        ];
        let lines: Vec<String> = fields
            .iter()
            .map(|(name, value)| format!("  {} : {}", Value::from(*name), Value::from(*value)))
            .collect();
        format!("{{\n{}\n}}", lines.join(",\n"))
    }
}
