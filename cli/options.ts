/** Option groups of the lifecycle commands (plain data: importing this costs nothing at start-up). */
export const USAGE_OPTIONS = {
  server: { type: "boolean", describe: "extKeyUsage serverAuth only (TLS servers)" },
  client: { type: "boolean", describe: "extKeyUsage clientAuth only (TLS clients)" },
  peer: { type: "boolean", describe: "serverAuth and clientAuth (the default)" },
  eku: { type: "string", describe: "explicit extKeyUsage: names (serverAuth, codeSigning, ...) or OIDs, comma-separated" },
} as const;

export const VALIDITY_OPTIONS = {
  "not-before": { type: "string", describe: "start of validity, a date (e.g. 2020-01-01) or '-2d' for backdated test fixtures" },
} as const;

export const ISSUER_OPTION = {
  issuer: { type: "string", describe: "the CA in the depot that signs (default: the root 'ca')" },
} as const;
