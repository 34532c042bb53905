/**
 * `pki init` on the record store: a new depot (DIR/depot.db, or a PostgreSQL schema) holding its KDF parameters,
 * the root entry, its certificate and its encrypted key, all made in the one transaction that creates the store
 * (SqliteStore.create builds a temp file and links it into place; PgStore.create runs one transaction): a crash
 * leaves no depot or the whole of it. The key is made, the certificate signed and the key sealed before.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_ITERATIONS, deriveKey } from "../../lib/formats/kdf.js";
import { pbes2Encrypt } from "../../lib/formats/pkcs8.js";
import { constraintsExtension, type NameConstraints } from "../../lib/x509/constraints.js";
import { octets, seq } from "../../lib/x509/der.js";
import { createRootCertificateDer, randomSerial, subjectText, type Subject } from "../../lib/x509/issuance.js";
import { describeKey, generateKeyDer, keyPairOf, type KeyDer, type KeySpec } from "../../lib/x509/keys.js";
import { checkX509Date } from "../../lib/x509/validate.js";
import { DepotError } from "../fsutil.js";
import { testKdfIterations } from "../records/integrity.js";
import { withTokenCaKey, type TokenCaKey, type TokenKeyChoice } from "../keys/index.js";
import { tokenKeyRecord } from "../keys/ref.js";
import { prepareNewDepotDir } from "../ownership.js";
import { SqliteStore } from "../records/sqlite.js";
import type { DepotRecord, EntryRecord, RecordStore, WriteTx } from "../records/schema.js";
import { checkRoomForCA } from "../records/presence.js";
import { depotLabel, type DepotTarget } from "./locate.js";
import { ROOT } from "./session.js";

export interface InitOptions {
  subject: Subject;
  key: KeySpec;
  notAfter: Date;
  notBefore?: Date;
  passphrase: string;
  pathLength?: number;
  constraints?: NameConstraints;
  /** the root's key in a PKCS#11 token: made there (`key` says its type), or one already there (`existing`) */
  caKey?: TokenKeyChoice;
  /** where the root's CRL will be published: put in every certificate it signs (checked by the caller) */
  crlUrl?: string;
}

/** Refuses, before any prompt, a directory where no new depot may go; a URL is checked when created. */
export function checkRoomForDepot(t: DepotTarget, hint = ""): void {
  if (t.kind !== "dir") return;
  checkRoomForCA(t.dir, hint);
  if (existsSync(join(t.dir, "depot.json")))
    throw new DepotError(
      `${t.dir} holds an unfinished layout-1 depot (depot.json, no CA): remove it, or pick another directory`,
    );
}

export interface Initialised { subject: string; notAfter: Date; label: string; keyUri?: string }

/** Creates the depot and its self-signed root; says what it made and where. */
export async function initDepot(t: DepotTarget, o: InitOptions): Promise<Initialised> {
  checkRoomForDepot(t);
  if (o.notBefore) checkX509Date(o.notBefore, "notBefore");
  checkX509Date(o.notAfter, "notAfter");
  if (!o.caKey) return create(t, o, await generateKeyDer(o.key));
  return withTokenCaKey(o.caKey, o.key, (held) => create(t, o, held));
}

async function create(t: DepotTarget, o: InitOptions, keys: KeyDer | TokenCaKey): Promise<Initialised> {
  const serial = randomSerial();
  const held = "uri" in keys ? keys : undefined;
  const der = createRootCertificateDer({
    subject: o.subject,
    keys: held ?? (await keyPairOf(keys as KeyDer)),
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    pathLength: o.pathLength,
    serial,
    extensions: o.constraints ? [constraintsExtension(o.constraints)] : [],
  });
  const salt = randomBytes(16), iterations = testKdfIterations() ?? DEFAULT_ITERATIONS;
  let sealed: Buffer;
  if (held) sealed = tokenKeyRecord(held.uri);
  else {
    const kdfKey = Buffer.from(await deriveKey(o.passphrase, salt, iterations));
    const { alg, data } = pbes2Encrypt((keys as KeyDer).pkcs8, kdfKey, salt, iterations);
    kdfKey.fill(0);
    (keys as KeyDer).pkcs8.fill(0);
    sealed = seq(alg, octets(data));
  }
  const { CertInfo } = await import("../../lib/x509/certinfo.js");
  const cert = new CertInfo(der);
  const depot: DepotRecord = { kdf: { salt: salt.toString("base64"), iterations }, created: new Date().toISOString() };
  const root: EntryRecord = {
    name: ROOT,
    kind: "ca",
    subject: subjectText(o.subject),
    keyType: describeKey(keys.spec),
    sans: { ips: [], domains: [] },
    status: "signed",
    created: depot.created,
    serial,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    ...(o.crlUrl === undefined ? {} : { crlUrl: o.crlUrl }),
  };
  const fill = async (tx: WriteTx) => {
    await tx.reserveSerial(serial);
    await tx.putEntry(root);
    await tx.putBlob({ name: ROOT, kind: "key" }, sealed);
    await tx.putBlob({ name: ROOT, kind: "cert" }, der);
  };
  let store: RecordStore;
  if (t.kind === "postgres") {
    store = await (await import("../records/postgres.js")).PgStore.create(t.url, depot, fill);
  } else {
    prepareNewDepotDir(t.dir);
    store = await SqliteStore.create(t.dir, depot, fill);
  }
  await store.close();
  return { subject: root.subject, notAfter: cert.notAfter, label: await depotLabel(t), keyUri: held?.uri };
}
