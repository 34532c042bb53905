// test/acme-clients.test.js (certbot and lego: obtain, renew, revoke; pki crl and pki list agree) on a depot in a
// throwaway PostgreSQL (--depot postgresql://...): the same test code as on a directory.
import test from "ava";

const { useCluster } = await import("./_postgres.js");
const { postgresDepots } = await import("./_acme.js");
await import("./acme-clients.test.js");
postgresDepots(useCluster(test));
