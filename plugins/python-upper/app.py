"""python-upper: an s3plug plugin written in Python.

For every object it is triggered by, it streams the object through a reader, upper-cases
each chunk (ASCII letters only: other bytes, UTF-8 sequences included, pass unchanged, so
a chunk boundary can never split a character that would change) and streams the result
through a writer to `target_bucket`/`target_prefix` + key.

Settings (the `config` table of its `[[plugin]]` entry):

- `target_bucket`: where the copies go; default: the bucket of the triggering object.
- `target_prefix`: prepended to the key of the copy; default `upper/`. Objects already
  under it in the target bucket are the plugin's own outputs and are skipped.

Build it into a component (see docs/python-plugins.md):

    componentize-py -d wit -w plugin componentize -p plugins/python-upper app -o python-upper.wasm
"""

import wit_world
from componentize_py_types import Err
from wit_world.imports import config, log, objects, types

# Bytes asked of the reader, and written, per call: large enough that the per-call cost of
# crossing into the host is negligible, small enough that memory use does not grow with the
# object.
CHUNK = 256 * 1024

DEFAULT_PREFIX = "upper/"


def describe(error: types.Error) -> str:
    """One line for an `objects` error, as the host names its cases."""
    match error:
        case types.Error_Denied(value):
            return f"denied: {value}"
        case types.Error_NotFound():
            return "not found"
        case types.Error_TooLarge():
            return "too large"
        case types.Error_LimitExceeded(value):
            return f"limit exceeded: {value}"
        case types.Error_Throttled():
            return "throttled"
        case types.Error_InvalidKey(value):
            return f"invalid key: {value}"
        case types.Error_Storage(value):
            return f"storage: {value}"
        case types.Error_Other(value):
            return value
    return repr(error)


def info(message: str) -> None:
    log.log(log.Level.INFO, message)


class WitWorld(wit_world.WitWorld):
    def handle(self, record: types.S3Record) -> types.Outcome:
        if not record.event_name.startswith("ObjectCreated:"):
            return types.Outcome_Skipped(f"nothing to do for {record.event_name}")

        target_bucket = config.get("target_bucket") or record.bucket
        target_prefix = config.get("target_prefix")
        if target_prefix is None:
            target_prefix = DEFAULT_PREFIX
        if target_bucket == record.bucket:
            if not target_prefix:
                # The copy would replace its own source, and trigger the plugin again.
                raise Err("target_prefix must not be empty when target_bucket is the source bucket")
            if record.key.startswith(target_prefix):
                return types.Outcome_Skipped(f"{record.key} is an upper-cased copy already")
        target_key = target_prefix + record.key
        source = f"{record.bucket}/{record.key}"
        target = f"{target_bucket}/{target_key}"

        try:
            with objects.get(record.bucket, record.key, None) as reader:
                content_type = reader.info().content_type
                options = types.PutOptions(
                    content_type=content_type,
                    metadata=[("upper-cased-from", source)],
                )
                # The writer is dropped (and the partial object aborted) on any failure.
                with objects.create(target_bucket, target_key, options) as writer:
                    size = 0
                    chunks = 0
                    while chunk := reader.read(CHUNK):
                        writer.write(chunk.upper())
                        size += len(chunk)
                        chunks += 1
                    writer.finish()
        except Err as err:
            raise Err(f"cannot upper-case {source} into {target}: {describe(err.value)}") from None

        info(f"upper-cased {size} bytes of {source} in {chunks} chunks")
        return types.Outcome_Processed(f"wrote {target} ({size} bytes, {chunks} chunks)")
