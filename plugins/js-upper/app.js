// js-upper: an s3plug plugin written in JavaScript.
//
// For every object it is triggered by, it streams the object through a reader, upper-cases
// each chunk (ASCII letters only: other bytes, UTF-8 sequences included, pass unchanged, so a
// chunk boundary can never split a character that would change) and streams the result
// through a writer to `target_bucket`/`target_prefix` + key.
//
// Settings (the `config` table of its `[[plugin]]` entry):
// - `target_bucket`: where the copies go; default: the bucket of the triggering object.
// - `target_prefix`: prepended to the key of the copy; default `upper/`. Objects already
//   under it in the target bucket are the plugin's own outputs and are skipped.
//
// Build it into a component (componentize-js, from npm):
//
//     componentize-js plugins/js-upper/app.js --wit wit --world-name plugin \
//         --disable http fetch-event --out js-upper.wasm
import { get as setting } from "s3plug:plugin/config@0.1.0";
import { log } from "s3plug:plugin/log@0.1.0";
import { create, get } from "s3plug:plugin/objects@0.1.0";

// Bytes asked of the reader, and written, per call.
const CHUNK = 256 * 1024;
const DEFAULT_PREFIX = "upper/";

/** One line for a failed object call: the host's error variant is the `payload`. */
function describe(error) {
  const payload = error?.payload;
  if (payload && typeof payload === "object" && "tag" in payload) {
    return payload.val === undefined ? payload.tag : `${payload.tag}: ${payload.val}`;
  }
  return String(error);
}

/** ASCII a-z to A-Z, in place; every other byte unchanged. */
function upperCase(bytes) {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b >= 0x61 && b <= 0x7a) bytes[i] = b - 0x20;
  }
  return bytes;
}

export function handle(record) {
  if (!record.eventName.startsWith("ObjectCreated:")) {
    return { tag: "skipped", val: `nothing to do for ${record.eventName}` };
  }
  const targetBucket = setting("target_bucket") ?? record.bucket;
  const targetPrefix = setting("target_prefix") ?? DEFAULT_PREFIX;
  if (targetBucket === record.bucket) {
    if (targetPrefix === "") {
      // The copy would replace its own source, and trigger the plugin again.
      throw "target_prefix must not be empty when target_bucket is the source bucket";
    }
    if (record.key.startsWith(targetPrefix)) {
      return { tag: "skipped", val: `${record.key} is an upper-cased copy already` };
    }
  }
  const targetKey = targetPrefix + record.key;
  const source = `${record.bucket}/${record.key}`;
  const target = `${targetBucket}/${targetKey}`;

  let size = 0;
  let chunks = 0;
  try {
    const reader = get(record.bucket, record.key, undefined);
    const writer = create(targetBucket, targetKey, {
      contentType: reader.info().contentType,
      metadata: [["upper-cased-from", source]],
    });
    for (;;) {
      const chunk = reader.read(CHUNK);
      if (chunk.length === 0) break;
      writer.write(upperCase(chunk));
      size += chunk.length;
      chunks += 1;
    }
    writer.finish();
  } catch (error) {
    // A thrown string fails the record with that text.
    throw `cannot upper-case ${source} into ${target}: ${describe(error)}`;
  }
  log("info", `upper-cased ${source} into ${target}: ${size} bytes`);
  return { tag: "processed", val: `wrote ${target} (${size} bytes, ${chunks} chunks)` };
}
