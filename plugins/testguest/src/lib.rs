//! A misbehaving plugin for the host's tests: one guest, many modes.
//!
//! The mode is the first `/`-separated segment of the triggering object's decoded key, so a
//! test picks the behaviour by naming the object: `ok/a.txt`, `loop/x`, `membomb/x`, ...
//! Settings: `out_bucket` (default: the record's bucket) and `out_prefix` (default `out/`)
//! say where modes that write put their output: at `out_prefix` + the source key; `mode`,
//! when set, names the mode for every record instead of the key.
//!
//! | mode | does | returns |
//! | --- | --- | --- |
//! | `ok` | reads the object, `put`s a copy (metadata `source` = `bucket/key`) | `copied N bytes` |
//! | `server-copy` | `copy`s the object to `out_prefix` + key in the store | `copied N bytes` |
//! | `stream` | copies the object through a reader and a writer, 64 KiB at a time | `streamed N bytes` |
//! | `echo` | no I/O | `event_name\|bucket\|key\|raw_key\|size` (`-` for no size) |
//! | `range` | reads bytes 2..=5 of the object | them, as lossy UTF-8 |
//! | `head` | heads the object | `size\|content_type` (`-` for none) |
//! | `source` | heads the object | its `source` metadata, as read (`-` for none) |
//! | `config` | reads every setting | `k=v` pairs joined by `;`, sorted |
//! | `skip` | nothing | skipped, `not interested` |
//! | `fail` | nothing | the error `failing on purpose` |
//! | `loop` | spins forever | never |
//! | `membomb` | allocates and touches 1 MiB blocks forever | never |
//! | `stack` | recurses with small frames until the call stack overflows | never |
//! | `stack-frames` | recurses with large frames until the shadow stack in linear memory runs out | never |
//! | `panic` | panics | never |
//! | `trap` | executes `unreachable` | never |
//! | `read-outside` | reads `forbidden-bucket/secret.txt` | the error, or `read N bytes` |
//! | `write-outside` | writes `forbidden-bucket/x.txt` | the error, or `wrote 1 byte` |
//! | `list-outside` | lists the record's whole bucket | the error, or `listed N` |
//! | `delete-trigger` | deletes the triggering object | the error, or `deleted` |
//! | `many-writes` | `put`s 100 small objects under `out_prefix` + key + `/` | the first error, or `wrote 100` |
//! | `log-flood` | logs 100 000 info lines | `logged 100000 lines` |
//! | `self-write` | `put`s key + `.again` in the record's own bucket | the error, or `wrote KEY` |
//! | `write-bytes` | streams 64 MiB of zeros to `out_prefix` + key | the first error, or `wrote N bytes` |
//! | `dotdot` | `put`s `out_prefix` + `../escape.txt` | the error, or `wrote it` |
//! | `forge` | copies like `ok`, asking for metadata `s3plug-depth` = `0` | `copied N bytes` |
//! | `noop` | nothing, no I/O (the benchmarks' per-record overhead) | done, no message |
//! | `upper` | streams the object through a reader and a writer to `out_prefix` + key, ASCII-uppercasing each 256 KiB chunk | `uppercased N bytes` |
//! | `sleep` | one 30 s sleep (a WASI wait, no guest code runs) | `slept 30 s` |
//! | `busy-poll` | sleeps 1 ms and reads the clock, forever | never |
//! | `hold-readers` | opens readers on the object without dropping them, up to 2000, then keeps them `hold_ms` (default 0) | the first error, or `held N readers` |
//! | `deny-long-names` | 200 listings of `forbidden-bucket` under a 1 MiB prefix | `D of 200 calls denied; other answers: [...]` |
//! | `huge-message` | nothing | processed, with a message of N MiB (`huge-message/N/...`; 100 without N) |
//! | `huge-error` | nothing | an error of N MiB, as `huge-message` |
//! | `big-metadata` | `put`s 1 byte to `out_prefix` + key with N bytes of user metadata (name and value), N the key's second segment: `big-metadata/3072/x` | `put: stored`, `put: too-large` or `put: error: ...` |
//! | `put-huge` | one `put` of 200 MiB to `out_prefix` + key | as `big-metadata` |
//! | `nap` | sleeps N ms (`nap/N/...`; 100 without N) | `napped N ms` |
//! | `put-huge-raw` | the same `put` through the WIT import, without the SDK's check | as `big-metadata` |
//! | `log-inject` | logs a line holding a line break, a forged host log line and a terminal escape | `logged` |
//! | `ping-pong` | on `ObjectCreated` deletes the target, on `ObjectRemoved` `put`s it again; the target is `peer_prefix` + the key after its first segment, or the key itself | `deleted BUCKET/KEY` or `put BUCKET/KEY`, or the error |
//! | anything else | nothing | the error `unknown mode "..."` |

mod bench_modes;
mod hostile;
mod object_modes;
mod report_modes;
mod safety_modes;

use s3plug_guest::{Error, Outcome, Plugin, Record, bail, config};

/// The test guest; see the crate docs for its modes.
struct TestGuest;

impl Plugin for TestGuest {
    fn handle(record: Record) -> Result<Outcome, Error> {
        // The `mode` setting, when set, names the mode for every record.
        let mode = config::get("mode")
            .unwrap_or_else(|| record.key.split('/').next().unwrap_or_default().to_owned());
        match mode.as_str() {
            "ok" => object_modes::copy_with_put(&record, &Output::from_config(&record)),
            "stream" => object_modes::copy_with_stream(&record, &Output::from_config(&record)),
            "server-copy" => object_modes::server_copy(&record, &Output::from_config(&record)),
            "range" => object_modes::read_range(&record),
            "head" => object_modes::head(&record),
            "source" => object_modes::source(&record),
            "read-outside" => object_modes::read_outside(),
            "write-outside" => object_modes::write_outside(),
            "list-outside" => object_modes::list_bucket(&record),
            "delete-trigger" => object_modes::delete_trigger(&record),
            "many-writes" => object_modes::many_writes(&record, &Output::from_config(&record)),
            "self-write" => object_modes::write_onto_own_trigger(&record),
            "write-bytes" => object_modes::write_bytes(&record, &Output::from_config(&record)),
            "dotdot" => object_modes::write_dotdot(&Output::from_config(&record)),
            "forge" => object_modes::forge_lineage(&record, &Output::from_config(&record)),
            "noop" => Ok(bench_modes::noop()),
            "upper" => bench_modes::upper(&record, &Output::from_config(&record)),
            "echo" => Ok(report_modes::echo(&record)),
            "config" => Ok(report_modes::config()),
            "skip" => Ok(Outcome::skipped("not interested")),
            "fail" => bail!("failing on purpose"),
            "log-flood" => Ok(report_modes::log_flood()),
            "loop" => hostile::spin(),
            "membomb" => hostile::exhaust_memory(),
            "stack" => hostile::overflow_stack(),
            "stack-frames" => hostile::overflow_shadow_stack(),
            "panic" => panic!("testguest panicked on purpose"),
            "trap" => hostile::trap(),
            "sleep" => Ok(safety_modes::sleep()),
            "busy-poll" => safety_modes::busy_poll(),
            "hold-readers" => safety_modes::hold_readers(&record),
            "deny-long-names" => Ok(safety_modes::deny_long_names()),
            "huge-message" => Ok(safety_modes::huge_message(&record)),
            "huge-error" => Err(safety_modes::huge_error(&record)),
            "big-metadata" => safety_modes::big_metadata(&record, &Output::from_config(&record)),
            "put-huge" => Ok(safety_modes::put_huge(
                &record,
                &Output::from_config(&record),
            )),
            "nap" => Ok(safety_modes::nap(&record)),
            "put-huge-raw" => Ok(safety_modes::put_huge_raw(
                &record,
                &Output::from_config(&record),
            )),
            "log-inject" => Ok(safety_modes::log_inject()),
            "ping-pong" => safety_modes::ping_pong(&record),
            _ => bail!("unknown mode {mode:?}"),
        }
    }
}

s3plug_guest::export!(TestGuest);

/// Where the modes that write put their output.
struct Output {
    bucket: String,
    prefix: String,
}

impl Output {
    fn from_config(record: &Record) -> Self {
        Self {
            bucket: config::get_or("out_bucket", &record.bucket),
            prefix: config::get_or("out_prefix", "out/"),
        }
    }

    /// The output key for a source key.
    fn key(&self, source_key: &str) -> String {
        format!("{}{source_key}", self.prefix)
    }
}
