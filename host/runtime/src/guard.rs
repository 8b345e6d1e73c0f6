//! Loop guards, by construction: which plugins' writes can trigger which plugins.
//!
//! The graph has an edge `a → b` when one of `a`'s write grants can hold a key that `b`'s
//! trigger matches (same bucket, prefixes that can overlap) and `b` reacts to an event a
//! write makes (`ObjectCreated:*` from put, multipart, copy, or `ObjectRemoved:*` from
//! delete). Any cycle, a plugin writing onto its own trigger included, would let an object
//! trigger its own processing forever; `check_cycles` refuses a config with one unless
//! every plugin on it sets `max_depth`, and then the run-time depth check stops it.
//!
//! A delete leaves no object to carry the depth in its metadata, so an allowed cycle through
//! a delete needs the host to keep the depth elsewhere: a tombstone under `[host] state`.
//! `check_tombstones` refuses such a cycle when there is no `[host] state`.

use std::fmt;

use crate::config::PluginSpec;
use crate::grant::Grant;
use crate::route::Trigger;

/// The events that object writes through the `objects` import cause.
pub(crate) const WRITE_EVENTS: &[&str] = &[
    "ObjectCreated:Put",
    "ObjectCreated:Post",
    "ObjectCreated:Copy",
    "ObjectCreated:CompleteMultipartUpload",
    "ObjectRemoved:Delete",
    "ObjectRemoved:DeleteMarkerCreated",
];

/// Whether some key starts with both prefixes: exactly when one is a prefix of the other.
pub(crate) fn prefixes_overlap(a: &str, b: &str) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Whether a write covered by `grant` can trigger `trigger`.
pub(crate) fn grant_triggers(grant: &Grant, trigger: &Trigger) -> bool {
    // A key can always end with the trigger's suffix: the longer prefix followed by it.
    grant.bucket == trigger.bucket
        && prefixes_overlap(&grant.prefix, &trigger.prefix)
        && WRITE_EVENTS
            .iter()
            .any(|event| trigger.events.iter().any(|pattern| pattern.matches(event)))
}

/// Whether `trigger` reacts to an event a delete makes (`ObjectRemoved:*`).
fn delete_triggers(trigger: &Trigger) -> bool {
    WRITE_EVENTS
        .iter()
        .filter(|event| event.starts_with("ObjectRemoved:"))
        .any(|event| trigger.events.iter().any(|pattern| pattern.matches(event)))
}

/// One edge: `from` writes under `grant`, which triggers `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edge {
    pub from: usize,
    pub to: usize,
    pub grant: String,
    /// `to` reacts to `ObjectRemoved` events, so a delete by `from` under `grant` triggers
    /// it (a put may too). The deleted object cannot carry its depth to `to`.
    pub by_delete: bool,
}

/// The write → trigger graph of a configuration.
#[derive(Debug, Clone)]
pub(crate) struct LoopGraph {
    names: Vec<String>,
    edges: Vec<Edge>,
}

/// A cycle, as the edges that close it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cycle {
    pub edges: Vec<Edge>,
}

impl LoopGraph {
    pub fn new(plugins: &[PluginSpec]) -> Self {
        let mut edges = Vec::new();
        for (from, writer) in plugins.iter().enumerate() {
            for (to, target) in plugins.iter().enumerate() {
                if let Some(grant) = writer
                    .grants
                    .write
                    .iter()
                    .find(|g| grant_triggers(g, &target.trigger))
                {
                    edges.push(Edge {
                        from,
                        to,
                        grant: grant.to_string(),
                        by_delete: delete_triggers(&target.trigger),
                    });
                }
            }
        }
        Self {
            names: plugins.iter().map(|p| p.name.clone()).collect(),
            edges,
        }
    }

    pub(crate) fn edges(&self) -> &[Edge] {
        &self.edges
    }

    fn successors(&self, node: usize) -> impl Iterator<Item = &Edge> {
        self.edges.iter().filter(move |e| e.from == node)
    }

    /// One elementary cycle through each strongly connected part of the graph (self-loops
    /// included), found by depth-first search; enough to name the problem to a person.
    pub fn cycles(&self) -> Vec<Cycle> {
        let mut cycles: Vec<Cycle> = Vec::new();
        let mut covered = vec![false; self.names.len()];
        for start in 0..self.names.len() {
            if covered[start] {
                continue;
            }
            if let Some(path) = self.path_back_to(start) {
                for edge in &path {
                    covered[edge.from] = true;
                }
                cycles.push(Cycle { edges: path });
            }
        }
        cycles
    }

    /// A path of edges from `start` back to `start`, if there is one.
    fn path_back_to(&self, start: usize) -> Option<Vec<Edge>> {
        self.path(start, start)
    }

    /// A path of one edge or more from `start` to `target`, if there is one.
    fn path(&self, start: usize, target: usize) -> Option<Vec<Edge>> {
        let mut visited = vec![false; self.names.len()];
        let mut path: Vec<Edge> = Vec::new();
        let mut stack: Vec<std::vec::IntoIter<Edge>> = vec![
            self.successors(start)
                .cloned()
                .collect::<Vec<_>>()
                .into_iter(),
        ];
        while let Some(frontier) = stack.last_mut() {
            let Some(edge) = frontier.next() else {
                stack.pop();
                path.pop();
                continue;
            };
            if edge.to == target {
                path.push(edge);
                return Some(path);
            }
            if visited[edge.to] {
                continue;
            }
            visited[edge.to] = true;
            let next: Vec<Edge> = self.successors(edge.to).cloned().collect();
            path.push(edge);
            stack.push(next.into_iter());
        }
        None
    }

    /// The cycle that `edge` closes, starting with `edge`, if it lies on one.
    fn cycle_through(&self, edge: &Edge) -> Option<Cycle> {
        let rest = if edge.to == edge.from {
            Vec::new()
        } else {
            self.path(edge.to, edge.from)?
        };
        Some(Cycle {
            edges: std::iter::once(edge.clone()).chain(rest).collect(),
        })
    }

    /// The edges caused by a delete that lie on a cycle: across each, only a tombstone
    /// under `[host] state` carries the depth of the deleted object.
    fn tombstone_edges(&self) -> impl Iterator<Item = &Edge> {
        self.edges
            .iter()
            .filter(|e| e.by_delete && self.cycle_through(e).is_some())
    }

    /// Whether the host must look up the tombstone of the deleted object of an
    /// `ObjectRemoved` record before it runs `plugin` (an index into the config's plugins):
    /// a delete that triggers `plugin` lies on an allowed cycle, and the tombstone holds the
    /// depth the deleted object had.
    pub(crate) fn needs_tombstones(&self, plugin: usize) -> bool {
        self.tombstone_edges().any(|e| e.to == plugin)
    }

    /// Whether the host must leave a tombstone (the depth of the deleted object) under
    /// `[host] state` when `plugin` deletes an object: one of its deletes can trigger a
    /// plugin on an allowed cycle through that delete.
    pub(crate) fn writes_tombstones(&self, plugin: usize) -> bool {
        self.tombstone_edges().any(|e| e.from == plugin)
    }

    /// `a writes photos/out/ → triggers b → b writes photos/in/ → triggers a`; an edge
    /// caused by a delete reads `triggers b on delete`.
    pub fn describe(&self, cycle: &Cycle) -> String {
        cycle
            .edges
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let head = if i == 0 {
                    format!("{} ", self.names[e.from])
                } else {
                    format!(" → {} ", self.names[e.from])
                };
                let on_delete = if e.by_delete { " on delete" } else { "" };
                format!(
                    "{head}writes {} → triggers {}{on_delete}",
                    e.grant, self.names[e.to]
                )
            })
            .collect()
    }
}

/// A cycle that some plugin on it does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "write loop: {path}; a plugin can trigger itself through this cycle: narrow the write grants or \
     the triggers, or set max_depth on every plugin of the cycle ({missing}) to stop it at that depth"
)]
pub(crate) struct LoopError {
    pub path: String,
    /// The plugins of the cycle without `max_depth`.
    pub missing: String,
}

/// Refuses cycles unless every plugin on them sets `max_depth`.
pub(crate) fn check_cycles(plugins: &[PluginSpec]) -> Result<LoopGraph, LoopError> {
    let graph = LoopGraph::new(plugins);
    for cycle in graph.cycles() {
        let missing: Vec<&str> = cycle
            .edges
            .iter()
            .map(|e| &plugins[e.from])
            .filter(|p| p.max_depth.is_none())
            .map(|p| p.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(LoopError {
                path: graph.describe(&cycle),
                missing: missing.join(", "),
            });
        }
    }
    Ok(graph)
}

/// An allowed cycle through a delete, in a config without `[host] state`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "write loop through a delete: {path}; the depth of a deleted object cannot be carried \
     across the delete without [host] state: set [host] state = \"bucket/prefix/\" so the host \
     can keep tombstones"
)]
pub(crate) struct TombstoneError {
    pub path: String,
}

/// Refuses a cycle through a delete when there is no `[host] state` to keep the tombstones
/// that carry the deleted object's depth. Run it after [`check_cycles`]: every cycle left
/// is then allowed.
pub(crate) fn check_tombstones(
    graph: &LoopGraph,
    state: Option<&Grant>,
) -> Result<(), TombstoneError> {
    if state.is_some() {
        return Ok(());
    }
    let cycle = graph
        .tombstone_edges()
        .next()
        .and_then(|e| graph.cycle_through(e));
    match cycle {
        Some(cycle) => Err(TombstoneError {
            path: graph.describe(&cycle),
        }),
        None => Ok(()),
    }
}

/// Two routes that can both match one record: allowed (both run), and worth knowing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    pub first: usize,
    pub second: usize,
}

impl fmt::Display for Overlap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "plugins #{} and #{} share records",
            self.first, self.second
        )
    }
}

/// Pairs of triggers that can match the same record: both plugins run on it, each in its
/// own sandbox, and each has its own outcome.
pub fn overlapping_routes(plugins: &[PluginSpec]) -> Vec<Overlap> {
    let mut overlaps = Vec::new();
    for (i, a) in plugins.iter().enumerate() {
        for (j, b) in plugins.iter().enumerate().skip(i + 1) {
            let (ta, tb) = (&a.trigger, &b.trigger);
            let suffixes = ta.suffix.ends_with(&tb.suffix) || tb.suffix.ends_with(&ta.suffix);
            let events = ta
                .events
                .iter()
                .any(|p| tb.events.iter().any(|q| p.overlaps(q)));
            if ta.bucket == tb.bucket
                && prefixes_overlap(&ta.prefix, &tb.prefix)
                && suffixes
                && events
            {
                overlaps.push(Overlap {
                    first: i,
                    second: j,
                });
            }
        }
    }
    overlaps
}

/// User metadata s3plug writes with every object a plugin writes.
pub(crate) const META_DEPTH: &str = "s3plug-depth";
pub(crate) const META_ORIGIN: &str = "s3plug-origin";
pub(crate) const META_REQUEST: &str = "s3plug-request";

/// Where an object came from, as its s3plug metadata says. An object written by anyone but
/// s3plug has depth 0; an object a plugin writes has the depth of the object that triggered
/// the plugin plus one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lineage {
    pub depth: u32,
    /// The plugin that wrote the object.
    pub origin: Option<String>,
    /// The request that started the chain.
    pub request: Option<String>,
}

impl Lineage {
    /// Reads the lineage from an object's user metadata (names in lower case).
    pub fn from_metadata(metadata: &[(String, String)]) -> Self {
        let get = |name: &str| {
            metadata
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        Self {
            depth: get(META_DEPTH).and_then(|d| d.parse().ok()).unwrap_or(0),
            origin: get(META_ORIGIN),
            request: get(META_REQUEST),
        }
    }

    /// The metadata of an object that `writer` writes while handling an object of this
    /// lineage, in the request `request_id`.
    pub(crate) fn stamp(&self, writer: &str, request_id: &str) -> [(String, String); 3] {
        [
            (
                META_DEPTH.to_owned(),
                (self.depth.saturating_add(1)).to_string(),
            ),
            (META_ORIGIN.to_owned(), writer.to_owned()),
            (
                META_REQUEST.to_owned(),
                self.request
                    .clone()
                    .unwrap_or_else(|| request_id.to_owned()),
            ),
        ]
    }
}

/// Replaces any `s3plug-*` metadata a plugin asked for with the host's stamp: a plugin
/// cannot forge its output's depth.
pub(crate) fn stamped_metadata(
    requested: &[(String, String)],
    lineage: &Lineage,
    writer: &str,
    request_id: &str,
) -> Vec<(String, String)> {
    let mut metadata: Vec<(String, String)> = requested
        .iter()
        .filter(|(k, _)| !k.to_ascii_lowercase().starts_with("s3plug-"))
        .cloned()
        .collect();
    metadata.extend(lineage.stamp(writer, request_id));
    metadata
}

#[cfg(test)]
mod tests;
