//! The object events `s3plug event` makes, and which fields S3 puts in each.

/// What happened to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ObjectAction {
    /// `ObjectCreated:Put`.
    Put,
    /// `ObjectCreated:Copy`.
    Copy,
    /// `ObjectCreated:CompleteMultipartUpload`.
    Multipart,
    /// `ObjectCreated:Post` (an HTML form upload).
    Post,
    /// `ObjectRemoved:Delete`.
    Delete,
    /// `ObjectRemoved:DeleteMarkerCreated`, with the marker's version id.
    DeleteMarker,
    /// `ObjectRestore:Completed`, with `glacierEventData.restoreEventData`.
    Restore,
    /// `ObjectRestore:Post`: a restore from an archive class was initiated.
    RestorePost,
    /// `ObjectTagging:Put`.
    Tagging,
    /// `ObjectTagging:Delete`.
    TaggingDelete,
    /// `LifecycleExpiration:Delete`: a lifecycle rule deleted the object.
    Lifecycle,
    /// `LifecycleTransition`: a lifecycle rule moved the object to another storage class.
    LifecycleTransition,
}

/// The entity tag of an empty object, which S3 gives delete markers.
pub(crate) const EMPTY_ETAG: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// The archive class restores come from and transitions go to.
pub(crate) const ARCHIVE_CLASS: &str = "GLACIER";

impl ObjectAction {
    /// The event name in notifications, without `s3:`.
    pub fn event_name(self) -> &'static str {
        match self {
            Self::Put => "ObjectCreated:Put",
            Self::Copy => "ObjectCreated:Copy",
            Self::Multipart => "ObjectCreated:CompleteMultipartUpload",
            Self::Post => "ObjectCreated:Post",
            Self::Delete => "ObjectRemoved:Delete",
            Self::DeleteMarker => "ObjectRemoved:DeleteMarkerCreated",
            Self::Restore => "ObjectRestore:Completed",
            Self::RestorePost => "ObjectRestore:Post",
            Self::Tagging => "ObjectTagging:Put",
            Self::TaggingDelete => "ObjectTagging:Delete",
            Self::Lifecycle => "LifecycleExpiration:Delete",
            Self::LifecycleTransition => "LifecycleTransition",
        }
    }

    /// `eventVersion`: S3 sends 2.3 for lifecycle, tagging (and ACL and restore-expiry)
    /// events, 2.1 for the rest.
    pub(crate) fn event_version(self) -> &'static str {
        match self {
            Self::Tagging | Self::TaggingDelete | Self::Lifecycle | Self::LifecycleTransition => {
                "2.3"
            }
            _ => "2.1",
        }
    }

    /// Whether S3 puts the object's size in the event: not for deletions and tag changes.
    pub(crate) fn carries_size(self) -> bool {
        matches!(
            self,
            Self::Put
                | Self::Copy
                | Self::Multipart
                | Self::Post
                | Self::Restore
                | Self::RestorePost
                | Self::LifecycleTransition
        )
    }

    /// Whether S3 puts an entity tag in the event: not for permanent deletions.
    pub(crate) fn carries_etag(self) -> bool {
        !matches!(self, Self::Delete | Self::Lifecycle)
    }

    /// Whether the event names a version even in a bucket without versioning: a delete
    /// marker is itself a version.
    pub(crate) fn always_versioned(self) -> bool {
        self == Self::DeleteMarker
    }

    /// Done by S3 itself rather than by a caller: the principal and source address are
    /// `s3.amazonaws.com`.
    pub(crate) fn by_s3(self) -> bool {
        matches!(
            self,
            Self::Restore | Self::Lifecycle | Self::LifecycleTransition
        )
    }

    /// Whether the object is gone afterwards (MinIO leaves size and entity tag out then).
    pub fn removes(self) -> bool {
        matches!(self, Self::Delete | Self::DeleteMarker | Self::Lifecycle)
    }

    /// Whether S3 gives the event a sequencer in every destination. It documents the
    /// sequencer for PUTs and DELETEs; notifications carry one on every record, EventBridge
    /// only on `Object Created` and `Object Deleted`.
    pub(crate) fn is_write(self) -> bool {
        matches!(
            self,
            Self::Put
                | Self::Copy
                | Self::Multipart
                | Self::Post
                | Self::Delete
                | Self::DeleteMarker
                | Self::Lifecycle
        )
    }
}
