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
//! | `stream` | copies the object through a reader and a writer, 64 KiB at a time | `streamed N bytes` |
//! | `echo` | no I/O | `event_name\|bucket\|key\|raw_key\|size` (`-` for no size) |
//! | `range` | reads bytes 2..=5 of the object | them, as lossy UTF-8 |
//! | `head` | heads the object | `size\|content_type` (`-` for none) |
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
//! | anything else | nothing | the error `unknown mode "..."` |

mod bench_modes;
mod hostile;
mod object_modes;
mod report_modes;

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
            "range" => object_modes::read_range(&record),
            "head" => object_modes::head(&record),
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
