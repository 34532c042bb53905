/**
 * Reaching PostgreSQL: a `postgresql://` URL as libpq users write it, the `pg` driver loaded only here (a
 * directory depot never pays for it), and every driver error as one line that names the server without the
 * password. The password comes from the URL, else PGPASSWORD, else ~/.pgpass (PGPASSFILE), as libpq does.
 */
import { createRequire } from "node:module";
import { DepotError } from "../fsutil.js";
import { isPgUrl } from "./presence.js";
import { UnavailableError } from "./schema.js";

export { isPgUrl };

/** The part of pg's API pki uses (typed here: @types/pg would be one more dependency). */
export interface PgResult { rows: Array<Record<string, unknown>>; rowCount: number | null; command?: string }
export interface PgClient {
  query(sql: string, params?: unknown[]): Promise<PgResult>;
  on(event: "error", fn: (e: Error) => void): void;
  off(event: "error", fn: (e: Error) => void): void;
  release(destroy?: boolean | Error): void;
}
export interface PgPool {
  connect(): Promise<PgClient>;
  on(event: "error" | "connect", fn: (x: never) => void): void;
  end(): Promise<void>;
}
interface PgModule {
  Pool: new (config: Record<string, unknown>) => PgPool;
  types: { getTypeParser(oid: number, format?: string): (s: string) => unknown };
}

const req = createRequire(import.meta.url);
let loaded: PgModule | undefined;
const pg = (): PgModule => (loaded ??= req("pg") as PgModule);


export interface PgTarget {
  /** The URL without its password (what messages and `location` show). */
  location: string;
  schema: string;
  config: Record<string, unknown>;
}

/**
 * Parses a depot URL: postgresql://user[:password]@host[:port]/db[?schema=NAME][&sslmode=...&sslrootcert=...].
 * `options=-csearch_path=NAME` names the schema too. A schema name is a plain lowercase identifier.
 */
export function pgTarget(url: string): PgTarget {
  let u: URL;
  try { u = new URL(url); } catch { throw new DepotError("the depot URL is not a valid postgresql:// URL"); }
  if (!isPgUrl(url)) throw new DepotError("the depot URL must start with postgresql://");
  const secret = decodeURIComponent(u.password);
  u.password = "";
  const fromOptions = /(?:^|\s)-c\s*search_path=(\S+)/.exec(u.searchParams.get("options") ?? "")?.[1];
  const schema = u.searchParams.get("schema") ?? fromOptions ?? "public";
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw new DepotError(`the depot URL's schema ${JSON.stringify(schema.slice(0, 70))} is not a plain name`);
  u.searchParams.delete("schema");
  u.searchParams.delete("options");
  const mode = u.searchParams.get("sslmode");
  if (mode && !["disable", "prefer", "require", "verify-ca", "verify-full"].includes(mode))
    throw new DepotError(`the depot URL's sslmode ${JSON.stringify(mode.slice(0, 20))} is not one libpq knows`);
  // pg 8 already verifies fully for prefer, require and verify-ca (and warns on stderr that pg 9 will not): say so
  if (mode && mode !== "disable") u.searchParams.set("sslmode", "verify-full");
  let parsed: Record<string, unknown>;
  try {
    parsed = req("pg-connection-string").parse(u.toString()) as Record<string, unknown>;
  } catch (e) {
    const file = (e as { path?: unknown }).path;
    throw new DepotError(typeof file === "string" ? `cannot read the depot URL's TLS file ${file}` :
      "the depot URL is not a valid postgresql:// URL");
  }
  const user = (parsed.user as string) || process.env.PGUSER || process.env.USER || "postgres";
  const config: Record<string, unknown> = {
    host: parsed.host || process.env.PGHOST || "localhost",
    port: Number(parsed.port || process.env.PGPORT || 5432),
    database: parsed.database || process.env.PGDATABASE || user,
    user,
    ssl: parsed.ssl,
    options: `-c search_path=${schema}`,
  };
  config.password = async () => secret || process.env.PGPASSWORD || (await pgpass(config)) || "";
  const location = `${u.protocol}//${u.username ? `${u.username}@` : ""}${u.host}${u.pathname}` +
    (schema === "public" ? "" : `?schema=${schema}`);
  return { location, schema, config };
}

/**
 * libpq's password file, through the pgpass module pg itself uses: PGPASSFILE or ~/.pgpass, ignored unless a
 * plain file of mode 0600 or less. Its warnings (psql's own) are not printed: pki's errors are one line, and the
 * "no password" one says where a password may come from.
 */
function pgpass(config: Record<string, unknown>): Promise<string | undefined> {
  type Lookup = ((c: Record<string, unknown>, cb: (p?: string) => void) => void) & { warnTo(s: unknown): void };
  const lookup = req("pgpass") as Lookup;
  lookup.warnTo(undefined);
  return new Promise((resolve) => lookup({ ...config, password: undefined }, resolve));
}

/** int8 (count(*), a CRL number) as a number when exact, else as the text (which validation refuses). */
export function newPool(t: PgTarget, onError: (e: Error) => void): PgPool {
  const { Pool, types } = pg();
  const getTypeParser = (oid: number, format?: string) =>
    oid === 20 ? (s: string) => (Number.isSafeInteger(Number(s)) ? Number(s) : s) : types.getTypeParser(oid, format);
  const pool = new Pool({
    ...t.config, types: { getTypeParser }, max: 10, allowExitOnIdle: true,
    connectionTimeoutMillis: 10_000, idleTimeoutMillis: 10_000,
  });
  // an idle client whose server went away (a restart) must not kill the process; pg reconnects on next use
  pool.on("error", onError as (x: never) => void);
  return pool;
}

const UNAVAILABLE = new Set(["57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004", "53300"]);
/** Why a server could not be reached, in words (an errno code is no message for a user). */
const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "no such host",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "timed out",
  EAI_AGAIN: "the host name could not be looked up now",
};

/** One line for a driver error, never the driver's words (they may quote a value) nor the password. */
export function pgError(e: unknown, where: string): Error {
  if (e instanceof DepotError || !(e instanceof Error)) return e as Error;
  const out = oneLine(e, where);
  Object.defineProperty(out, "cause", { value: e, enumerable: false }); // its SQLSTATE, for a retry decision
  return out;
}

function oneLine(e: Error, where: string): Error {
  const code = String((e as { code?: unknown }).code ?? "");
  const msg = e.message;
  if (code === "28P01" || code === "28000")
    return new DepotError(`cannot log in to PostgreSQL at ${where}: wrong password, or no such role`);
  if (code === "3D000") return new DepotError(`PostgreSQL at ${where}: no such database`);
  if (code === "42501")
    return new DepotError(`PostgreSQL at ${where}: permission denied (see the role rights pki needs)`);
  if (Object.hasOwn(UNREACHABLE, code) || /timeout expired|connect ETIMEDOUT/i.test(msg))
    return new UnavailableError(`cannot reach PostgreSQL at ${where}: ${UNREACHABLE[code] ?? "timed out"}`);
  if (/SASL|client password must be/.test(msg))
    return new DepotError(
      `cannot log in to PostgreSQL at ${where}: no password (in the URL, PGPASSWORD or ~/.pgpass of mode 0600)`);
  const cut = code === "ECONNRESET" || code === "EPIPE" || /Connection terminated|not queryable/i.test(msg);
  if (UNAVAILABLE.has(code) || cut)
    return new UnavailableError(`PostgreSQL at ${where} is unavailable (restarting?): try again`);
  if (code === "40001" || code === "40P01")
    return new UnavailableError(`PostgreSQL at ${where}: too many concurrent writers, try again`);
  if (/self[- ]signed|certificate|SSL|TLS/i.test(msg))
    return new DepotError(`cannot connect to PostgreSQL at ${where}: its TLS certificate was not accepted`);
  if (/^[0-9A-Z]{5}$/.test(code)) return new DepotError(`PostgreSQL at ${where} refused a query (SQLSTATE ${code})`);
  return new DepotError(`cannot use PostgreSQL at ${where} (${code || "connection failed"})`);
}
