/** Option groups of the lifecycle commands (plain data: importing this costs nothing at start-up). */
export const USAGE_OPTIONS = {
  server: { type: "boolean", describe: "extKeyUsage serverAuth only (TLS servers)" },
  client: { type: "boolean", describe: "extKeyUsage clientAuth only (TLS clients)" },
  peer: { type: "boolean", describe: "serverAuth and clientAuth (the default)" },
  eku: {
    type: "string",
    describe: "explicit extKeyUsage: names (serverAuth, codeSigning, ...) or OIDs, comma-separated",
  },
} as const;

export const VALIDITY_OPTIONS = {
  "not-before": {
    type: "string",
    describe: "start of validity, a date (e.g. 2020-01-01) or '-2d' for backdated test fixtures",
  },
} as const;

export const ISSUER_OPTION = {
  issuer: { type: "string", describe: "the CA in the depot that signs (default: the root 'ca')" },
} as const;

export const SAN_OPTIONS = {
  ip: { type: "string", describe: "IP SAN (repeatable, comma-separated)" },
  domain: { type: "string", describe: "DNS SAN (repeatable, comma-separated, *.wildcard allowed)" },
  uri: { type: "string", describe: "URI SAN, e.g. spiffe://example.org/ns/web (repeatable, comma-separated)" },
  email: { type: "string", describe: "email SAN (rfc822Name, repeatable, comma-separated)" },
  san: {
    type: "boolean",
    describe: "--no-san: a leaf without any SAN (e.g. a client known by its CN), refused otherwise",
  },
} as const;

export const CSR_OPTION = {
  csr: { type: "string", describe: "a CSR made elsewhere (PEM or DER; '-' for stdin): its key never enters the depot" },
} as const;
